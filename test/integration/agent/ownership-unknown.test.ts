/**
 * An object changes hands while the app taking it over does not render, on a real
 * kube-apiserver and git server. Which objects that app declares is then unknown, so none
 * may be pruned as "declared by no one": an app renamed in a commit that also breaks its
 * render, and an object moved from one app to another whose render breaks, are both kept
 * (never deleted, the same object), and change hands once the render is fixed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InventoryStore } from '@driftless/agent';
import {
  startCluster,
  startGitServer,
  type Cluster,
  type GitRepo,
  type GitServer,
} from '@driftless/test';
import { makeTenancyAgent, type TenancyAgent } from './tenancy-agent.ts';

const NS = 'handover';

/** `driftless.yaml` listing `apps` (name → path), each with prune on, in namespace NS. */
function clusterYaml(apps: Record<string, string>): string {
  return `apiVersion: driftless.dev/v1alpha1
kind: Cluster
spec:
  apps:
    - name: base
      path: apps/base
${Object.entries(apps)
  .map(
    ([name, path]) =>
      `    - name: ${name}\n      path: ${path}\n      namespace: ${NS}\n      prune: true\n      dependsOn: [base]\n`,
  )
  .join('')}`;
}

const configMap = (name: string, value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`;
/** A file no renderer reads: the render of its folder fails. */
const BROKEN = 'apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n';

describe('objects changing hands while the new owner does not render', () => {
  let cluster: Cluster;
  let git: GitServer;
  let repo: GitRepo;
  let t: TenancyAgent;

  before(async () => {
    [cluster, git] = await Promise.all([startCluster(), startGitServer()]);
    repo = await git.createRepo('handover');
    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml({ shop: 'apps/shop', tools: 'apps/tools' }),
        'apps/base/ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${NS}\n`,
        'apps/shop/settings.yaml': configMap('settings', 'v1'),
        'apps/shop/catalog.yaml': configMap('catalog', 'v1'),
        'apps/tools/tool.yaml': configMap('tool', 'v1'),
      },
      'shop and tools',
    );
    t = await makeTenancyAgent({ kubeConfig: cluster.kubeConfig, git, repo });
    await t.agent.reconcileOnce();
  });
  after(async () => {
    await t?.close();
    await Promise.all([cluster?.stop(), git?.stop()]);
  });

  const uid = async (name: string) =>
    (await t.client.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: NS, name }))?.metadata[
      'uid'
    ] as string | undefined;
  const status = (app: string) => t.agent.statuses().find((s) => s.app === app);
  const inventory = async (app: string) =>
    ((await new InventoryStore(t.client, 'driftless-system').load(app))?.objects ?? [])
      .map((r) => r.name)
      .sort();

  it('an app renamed in a commit that breaks its render: the old name is not pruned', async () => {
    assert.equal(status('shop')?.syncStatus, 'Synced', status('shop')?.message);
    const settings = await uid('settings');
    const catalog = await uid('catalog');
    assert.ok(settings && catalog);

    await repo.commit(
      {
        'clusters/test/driftless.yaml': clusterYaml({ store: 'apps/shop', tools: 'apps/tools' }),
        'apps/shop/broken.yaml': BROKEN,
      },
      'shop is store now (with a broken file)',
    );
    await t.agent.reconcileOnce();
    assert.equal(status('store')?.syncStatus, 'Failed', 'the broken render fails store');
    assert.equal(await uid('settings'), settings, 'settings is not deleted');
    assert.equal(await uid('catalog'), catalog, 'catalog is not deleted');
    assert.deepEqual(await inventory('shop'), ['catalog', 'settings'], 'shop waits to be removed');

    await repo.commit({ 'apps/shop/broken.yaml': null }, 'the broken file fixed');
    await t.agent.reconcileOnce();
    assert.equal(status('store')?.syncStatus, 'Synced', status('store')?.message);
    assert.equal(await uid('settings'), settings, 'store took over the same object');
    assert.equal(await uid('catalog'), catalog);
    assert.deepEqual(await inventory('store'), ['catalog', 'settings']);
    assert.deepEqual(await inventory('shop'), [], 'shop is gone');
  });

  it('an object moved to an app whose render breaks is not pruned by the app it left', async () => {
    const tool = await uid('tool');
    assert.ok(tool);
    await repo.commit(
      {
        'apps/tools/tool.yaml': null,
        'apps/tools/other.yaml': configMap('other', 'v1'),
        'apps/shop/tool.yaml': configMap('tool', 'v2'),
        'apps/shop/broken.yaml': BROKEN,
      },
      'tool moves to store (with a broken file)',
    );
    await t.agent.reconcileOnce();
    assert.equal(status('tools')?.syncStatus, 'Synced', status('tools')?.message);
    assert.match(
      status('tools')?.message ?? '',
      /1 object\(s\) Git no longer declares not pruned while app store does not render/,
      'the status says what was not done',
    );
    assert.equal(await uid('tool'), tool, 'tool is not deleted');
    assert.ok(await uid('other'), 'tools still applies what it declares');
    assert.deepEqual(await inventory('tools'), ['other', 'tool'], 'tools holds tool meanwhile');

    await repo.commit({ 'apps/shop/broken.yaml': null }, 'the broken file fixed');
    await t.agent.reconcileOnce();
    assert.equal(status('store')?.syncStatus, 'Synced', status('store')?.message);
    assert.equal(await uid('tool'), tool, 'store took over the same object');
    assert.deepEqual(await inventory('tools'), ['other']);
    assert.doesNotMatch(status('tools')?.message ?? '', /not pruned/);
    assert.ok((await inventory('store')).includes('tool'));
  });
});
