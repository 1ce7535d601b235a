/**
 * Secret values never reach the hub: a real cluster, Git server, `driftless-hub` and
 * `driftless-agent run`, with apps that manage a Secret (`allowPlaintextSecrets`). A plan of
 * a manual app, a sync's changes and a drift of a Secret rotated in the cluster (its new value
 * is in no repository) all go to the hub, where every viewer reads them: the hub must show
 * which keys changed, never their values, in any answer of its API.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KubeClient } from '@driftless/agent';
import {
  createEnrollmentToken,
  hubApi,
  startAgent,
  startCluster,
  startGitServer,
  startHub,
  waitFor,
  type AgentProcess,
  type Cluster,
  type GitServer,
  type Hub,
  type HubApi,
} from '@driftless/test';

const CLUSTER = 'secrets';
const GIT_VALUE = `from-git-${process.pid}-value`;
const GIT_TLS = `from-git-${process.pid}-certificate`;
const ROTATED = `rotated-${process.pid}-in-the-cluster`;
const PLANNED = `planned-${process.pid}-next-value`;
const b64 = (text: string) => Buffer.from(text).toString('base64');
/** Every form a value could take in an answer. */
const FORMS = [GIT_VALUE, GIT_TLS, ROTATED, PLANNED].flatMap((v) => [v, b64(v)]);

const secret = (name: string, password: string) =>
  `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\ntype: Opaque\ndata:\n  password: ${b64(password)}\n  tls.crt: ${b64(GIT_TLS)}\n`;
const driftlessYaml = `apiVersion: driftless.dev/v1alpha1
kind: Cluster
spec:
  apps:
    - name: web
      path: apps/web
      namespace: secret-web
      selfHeal: false
      allowPlaintextSecrets: true
    - name: db
      path: apps/db
      namespace: secret-db
      sync: manual
      allowPlaintextSecrets: true
`;

interface FieldView {
  path: string;
  desired: unknown;
  live: unknown;
}
interface DriftView {
  objectRef: string;
  fields: FieldView[];
}
interface AppView {
  app: string;
  syncStatus: string;
  pendingPlan: Array<{ diff: Array<{ path: string; before?: unknown; after?: unknown }> }>;
}

describe('secret values and the hub', () => {
  let cluster: Cluster;
  let git: GitServer;
  let hub: Hub;
  let api: HubApi;
  let kube: KubeClient;
  let agent: AgentProcess;

  /** Every answer a viewer can read about the cluster, as one text. */
  const everything = async () =>
    JSON.stringify(
      await Promise.all([
        api.get(`/api/v1/clusters/${CLUSTER}`),
        api.get(`/api/v1/apps?cluster=${CLUSTER}`),
        api.get(`/api/v1/history?cluster=${CLUSTER}`),
        api.get(`/api/v1/drift?cluster=${CLUSTER}`),
      ]),
    );
  const assertNoValue = (text: string) => {
    for (const form of FORMS) assert.ok(!text.includes(form), `the hub shows ${form}`);
  };

  before(async () => {
    [cluster, git] = await Promise.all([startCluster(), startGitServer()]);
    hub = await startHub();
    api = hubApi(hub);
    kube = await KubeClient.fromKubeConfig(cluster.kubeConfig);
    const repo = await git.createRepo('fleet');
    await repo.commit(
      {
        [`clusters/${CLUSTER}/driftless.yaml`]: driftlessYaml,
        'apps/web/ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: secret-web\n',
        'apps/web/secret.yaml': secret('credentials', GIT_VALUE),
        'apps/db/ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: secret-db\n',
        'apps/db/secret.yaml': secret('credentials', PLANNED),
      },
      'apps with secrets',
    );
    agent = startAgent({
      cluster,
      clusterName: CLUSTER,
      repoUrl: repo.url,
      gitCredentials: git.credentials,
      hub,
      pollInterval: '1s',
      token: await createEnrollmentToken(hub, CLUSTER),
    });
  });
  after(async () => {
    await agent?.stop();
    kube?.close();
    await Promise.all([hub?.stop(), cluster?.stop(), git?.stop()]);
  });

  it("a manual app's plan and an auto app's sync name the Secret's keys, not their values", async () => {
    const apps = await waitFor('web synced and db waiting for approval with a plan', async () => {
      const { items } = await api.get<{ items: AppView[] }>(`/api/v1/apps?cluster=${CLUSTER}`);
      const web = items.find((a) => a.app === 'web');
      const db = items.find((a) => a.app === 'db');
      return web?.syncStatus === 'synced' && db?.pendingPlan.length ? { web, db } : undefined;
    });
    const planned = JSON.stringify(apps.db.pendingPlan);
    assert.match(planned, /password/, 'the plan shows the Secret and its keys');
    assert.match(planned, /tls\.crt/);
    assertNoValue(await everything());
  });

  it('a Secret rotated in the cluster is reported as drift of its key, without either value', async () => {
    await kube.apply(
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'credentials', namespace: 'secret-web' },
        data: { password: b64(ROTATED) },
      },
      { fieldManager: 'rotator', force: true },
    );
    const drift = await waitFor('the rotation reported as drift', async () => {
      const { items } = await api.get<{ items: DriftView[] }>(
        `/api/v1/drift?cluster=${CLUSTER}&app=web&state=open`,
      );
      return items.find((d) => d.objectRef.includes('credentials'));
    });
    const field = drift.fields.find((f) => f.path.includes('password'));
    assert.ok(field, `the drifted key is named: ${JSON.stringify(drift.fields)}`);
    assert.equal(field.desired, '(redacted)');
    assert.equal(field.live, '(redacted)');
    assertNoValue(await everything());
  });
});
