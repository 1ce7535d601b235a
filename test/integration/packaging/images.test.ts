/**
 * The container images, built as `make image` builds them (buildah, no
 * daemon, a base made from Debian packages when the usual one cannot be
 * pulled), then used the ways a user uses them: each entrypoint run from the
 * image (agent --version and render of a folder with the helm and kustomize
 * it carries; the hub serving /healthz and the dashboard), pushed with
 * skopeo to an OCI registry, and installed with the charts on a real
 * apiserver, whose objects then name the pushed image.
 *
 * Run by `make test-images`, not `make test`: the build takes minutes. See
 * unpacked.ts for why the images run in a chroot rather than under podman.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { AppsV1Api } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import {
  freePort,
  helm,
  startCluster,
  startOciRegistry,
  type Cluster,
  type OciRegistry,
} from '../../harness/index.ts';
import { createTempDir, startProcess, waitForReady, type TempDir } from '../../harness/process.ts';
import {
  chrootCommand,
  readInImage,
  runUnpacked,
  unpackImage,
  type UnpackedImage,
} from './unpacked.ts';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../../..');
const VERSION = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version;
const FIXTURE = join(import.meta.dirname, 'fixtures/greeter');
const PROGRAMS = ['agent', 'hub'] as const;

describe('container images', { timeout: 30 * 60_000 }, () => {
  let dir: TempDir;
  const images: Partial<Record<(typeof PROGRAMS)[number], UnpackedImage>> = {};
  const image = (program: (typeof PROGRAMS)[number]): UnpackedImage => {
    const found = images[program];
    assert.ok(found, `the ${program} image was not unpacked`);
    return found;
  };
  const archive = (program: string) =>
    join(dir.path, 'images', `driftless-${program}-${VERSION}.tar`);

  before(
    async () => {
      dir = createTempDir('images');
      // Step 1: build both images into a private storage, as make image does.
      await run(join(ROOT, 'deploy/images/build.sh'), ['--out', join(dir.path, 'images')], {
        env: { ...process.env, DRIFTLESS_IMAGE_STORAGE: join(dir.path, 'storage') },
        maxBuffer: 64 * 1024 * 1024,
      });
      // Step 2: unpack each archive into a root filesystem.
      for (const program of PROGRAMS) {
        images[program] = await unpackImage(
          archive(program),
          `driftless/${program}:${VERSION}`,
          join(dir.path, program),
        );
      }
    },
    { timeout: 25 * 60_000 },
  );
  after(() => dir?.remove());

  it('both run as a numeric non-root user on Node 24, with only the bundled programs', async () => {
    for (const program of PROGRAMS) {
      const img = image(program);
      assert.equal(img.config.User, '65532:65532', program);
      const node = await runUnpacked(img, { entrypoint: ['node', '--version'] });
      assert.match(node.stdout, /^v24\./, program);
      const id = await runUnpacked(img, { entrypoint: ['id', '-u'] });
      assert.equal(id.stdout.trim(), '65532', program);
      // The bundles carry every JavaScript dependency: no node_modules beside them.
      const shipped = readdirSync(join(img.rootfs, 'opt/driftless/bin')).filter(
        (f) => !f.endsWith('.LEGAL.txt'),
      );
      assert.deepEqual(
        shipped.sort(),
        program === 'agent'
          ? ['driftless-agent-lib', 'driftless-agent.mjs']
          : ['driftless-hub.mjs', 'driftless.mjs'],
      );
      assert.equal(existsSync(join(img.rootfs, 'opt/driftless/node_modules')), false);
    }
  });

  it('the agent prints its version', async () => {
    const { stdout } = await runUnpacked(image('agent'), { args: ['--version'] });
    assert.match(stdout, new RegExp(`^driftless-agent ${VERSION.replaceAll('.', '\\.')}\\b`));
  });

  it("the programs are commands on each image's PATH, the CLI in the hub image too", async () => {
    const agentHelp = await runUnpacked(image('agent'), {
      entrypoint: ['driftless-agent', '--help'],
    });
    assert.match(agentHelp.stdout, /^Usage: driftless-agent <command>/m);
    const cliHelp = await runUnpacked(image('hub'), { entrypoint: ['driftless', '--help'] });
    assert.match(cliHelp.stdout, /^Usage: driftless <command>/m);
    const hubVersion = await runUnpacked(image('hub'), {
      entrypoint: ['driftless-hub', '--version'],
    });
    assert.match(
      hubVersion.stdout,
      new RegExp(`^driftless-hub ${VERSION.replaceAll('.', '\\.')}\\b`),
    );
  });

  it('the agent carries the helm, kustomize and git it runs', async () => {
    const agent = image('agent');
    const helmVersion = await runUnpacked(agent, { entrypoint: ['helm', 'version', '--short'] });
    assert.match(helmVersion.stdout, /^v3\./);
    const kustomizeVersion = await runUnpacked(agent, { entrypoint: ['kustomize', 'version'] });
    assert.match(kustomizeVersion.stdout, /^v5\./);
    const git = await runUnpacked(agent, { entrypoint: ['git', '--version'] });
    assert.match(git.stdout, /^git version /);
  });

  it('the agent renders a folder with kustomize and helm on a read-only root', async () => {
    const { stdout } = await runUnpacked(image('agent'), {
      args: ['render', '.', '-n', 'greeter', '--app', 'greeter'],
      tmpfs: ['/tmp'],
      binds: [{ host: FIXTURE, inside: '/tmp/src' }],
      env: { DRIFTLESS_ROOT: '/tmp/src' },
      workdir: '/tmp/src',
    });
    const objects = parseAllDocuments(stdout).map((d) => d.toJS() as Record<string, unknown>);
    assert.deepEqual(objects, [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: 'greeter-config',
          namespace: 'greeter',
          labels: { 'app.kubernetes.io/managed-by': 'driftless', 'driftless.dev/app': 'greeter' },
        },
        data: { greeting: 'hello from the image', 'rendered-by': 'kustomize' },
      },
    ]);
  });

  it('the hub serves /healthz and the dashboard from a read-only root', async () => {
    const hub = image('hub');
    const httpPort = await freePort();
    const grpcPort = await freePort();
    const { command, args } = chrootCommand(hub, {
      env: {
        DRIFTLESS_HUB_HTTP_ADDRESS: `127.0.0.1:${httpPort}`,
        DRIFTLESS_HUB_GRPC_ADDRESS: `127.0.0.1:${grpcPort}`,
      },
      tmpfs: ['/tmp', '/var/lib/driftless-hub'],
    });
    const proc = startProcess({ name: 'hub-image', command, args, dir });
    try {
      const base = `http://127.0.0.1:${httpPort}`;
      await waitForReady(proc, async () => (await fetch(`${base}/healthz`)).ok, {
        what: 'the hub image /healthz',
        timeoutMs: 60_000,
      });
      const page = await fetch(`${base}/`);
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.equal(html, readInImage(hub, 'opt/driftless/web/index.html'));
      const script = /<script[^>]+src="([^"]+)"/.exec(html)?.[1];
      assert.ok(script, 'the dashboard page loads a script');
      const asset = await fetch(new URL(script, `${base}/`));
      assert.equal(asset.status, 200);
      assert.match(asset.headers.get('content-type') ?? '', /javascript/);
    } finally {
      await proc.stop();
    }
  });

  describe('pushed to a registry and installed with the charts', () => {
    let registry: OciRegistry;
    let cluster: Cluster;
    before(async () => {
      [registry, cluster] = await Promise.all([startOciRegistry(), startCluster()]);
    });
    after(async () => {
      await Promise.all([registry?.stop(), cluster?.stop()]);
    });

    it('the objects name the pushed images, by digest and by tag', async () => {
      const pushed: Record<string, { repository: string; digest: string }> = {};
      for (const program of PROGRAMS) {
        const repository = `${registry.host}/driftless/${program}`;
        await run('skopeo', [
          'copy',
          '--quiet',
          '--dest-tls-verify=false',
          `oci-archive:${archive(program)}`,
          `docker://${repository}:${VERSION}`,
        ]);
        // What the registry serves is the archive's manifest.
        const res = await fetch(
          `http://${registry.host}/v2/driftless/${program}/manifests/${VERSION}`,
          {
            headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
          },
        );
        assert.equal(res.status, 200, program);
        const digest = res.headers.get('docker-content-digest') ?? '';
        const index = JSON.parse(
          await run('tar', ['-xOf', archive(program), 'index.json']).then((r) => r.stdout),
        ) as { manifests: { digest: string }[] };
        assert.equal(digest, index.manifests[0]?.digest, program);
        pushed[program] = { repository, digest };
      }
      const kube = ['--kubeconfig', cluster.kubeconfigPath];
      const agentImage = pushed['agent'];
      const hubImage = pushed['hub'];
      assert.ok(agentImage && hubImage);
      await helm([
        'install',
        'agent',
        join(ROOT, 'charts/agent'),
        ...kube,
        '--namespace',
        'driftless',
        '--create-namespace',
        '--set',
        `image.repository=${agentImage.repository}`,
        '--set',
        `image.digest=${agentImage.digest}`,
        '--set',
        'repoUrl=https://git.example.com/fleet.git',
        '--set',
        'clusterName=test',
      ]);
      await helm([
        'install',
        'hub',
        join(ROOT, 'charts/hub'),
        ...kube,
        '--namespace',
        'driftless-hub',
        '--create-namespace',
        '--set',
        `image.repository=${hubImage.repository}`,
      ]);
      const apps = cluster.kubeConfig.makeApiClient(AppsV1Api);
      const deployment = await apps.readNamespacedDeployment({
        name: 'driftless-agent',
        namespace: 'driftless',
      });
      assert.equal(
        deployment.spec?.template.spec?.containers[0]?.image,
        `${agentImage.repository}@${agentImage.digest}`,
      );
      const statefulSets = await apps.listNamespacedStatefulSet({ namespace: 'driftless-hub' });
      assert.deepEqual(
        statefulSets.items.map((s) => s.spec?.template.spec?.containers[0]?.image),
        [`${hubImage.repository}:${VERSION}`],
      );
    });

    it('the charts default to the images make image names', async () => {
      for (const program of PROGRAMS) {
        const index = JSON.parse(
          await run('tar', ['-xOf', archive(program), 'index.json']).then((r) => r.stdout),
        ) as { manifests: { annotations?: Record<string, string> }[] };
        const name = index.manifests[0]?.annotations?.['org.opencontainers.image.ref.name'];
        const rendered = await helm([
          'template',
          program,
          join(ROOT, `charts/${program}`),
          '--kube-version',
          '1.34.0',
          '--set',
          'repoUrl=https://git.example.com/fleet.git',
          '--set',
          'clusterName=test',
        ]);
        const images = [...rendered.matchAll(/^\s+image: "([^"]+)"$/gm)].map((m) => m[1]);
        assert.deepEqual(images, [name], program);
      }
    });
  });
});
