import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { main, OfflineScopes, type CliIo } from './index.ts';
import { parseCommandFlags } from './io.ts';
import { renderCommandFlags } from './render-command.ts';

/** An in-memory {@link CliIo}; HOME points nowhere so no real kubeconfig is found. */
function fakeIo(cwd = '/nonexistent', env: NodeJS.ProcessEnv = {}) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: { HOME: '/nonexistent', ...env },
    cwd,
  };
  return { io, out: () => stdout, err: () => stderr };
}

describe('main', () => {
  it('prints the top-level help with exit 0, and with exit 2 when no command is given', async () => {
    const help = fakeIo();
    assert.equal(await main(['--help'], help.io), 0);
    assert.match(help.out(), /Usage: driftless-agent <command>/);
    const none = fakeIo();
    assert.equal(await main([], none.io), 2);
    assert.match(none.err(), /Commands:/);
  });

  it('refuses an unknown command or flag with exit 2 and says why', async () => {
    const unknown = fakeIo();
    assert.equal(await main(['deploy'], unknown.io), 2);
    assert.match(unknown.err(), /unknown command "deploy"/);
    const flag = fakeIo();
    assert.equal(await main(['export', '--namespce', 'x'], flag.io), 2);
    assert.match(flag.err(), /unknown flag --namespce/);
    const missing = fakeIo();
    assert.equal(await main(['export'], missing.io), 2);
    assert.match(missing.err(), /missing --namespace/);
    for (const [command, what] of [
      ['diff', 'the folder to compare with the cluster'],
      ['render', 'the folder to render'],
    ] as const) {
      const noPath = fakeIo();
      assert.equal(await main([command], noPath.io), 2);
      assert.equal(
        noPath.err(),
        `error: driftless-agent ${command} needs a PATH: ${what} (see driftless-agent ${command} --help)\n`,
      );
    }
    const bad = fakeIo();
    assert.equal(await main(['render', '.', '-o', 'xml'], bad.io), 2);
    assert.match(bad.err(), /"xml" is not one of yaml, json/);
  });

  it('shows each command help, also through `help COMMAND`', async () => {
    for (const command of ['render', 'diff', 'export']) {
      const t = fakeIo();
      assert.equal(await main(['help', command], t.io), 0);
      assert.match(t.out(), new RegExp(`Usage: driftless-agent ${command}`));
      assert.match(t.out(), /env DRIFTLESS_/);
    }
  });

  it('renders offline, and reports a runtime error with exit 1 and no stack trace', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'driftless-cli-'));
    try {
      await mkdir(path.join(dir, 'app'));
      await writeFile(
        path.join(dir, 'app', 'cm.yaml'),
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {color: blue}\n',
      );
      const ok = fakeIo(dir);
      assert.equal(await main(['render', 'app', '-n', 'shop'], ok.io), 0);
      const cm = parse(ok.out()) as {
        metadata: { namespace: string; labels: Record<string, string> };
      };
      assert.equal(cm.metadata.namespace, 'shop');
      assert.equal(cm.metadata.labels['driftless.dev/app'], 'app');

      await writeFile(path.join(dir, 'app', 'bad.yaml'), 'kind: [unclosed\n');
      const broken = fakeIo(dir);
      assert.equal(await main(['render', 'app', '-n', 'shop'], broken.io), 1);
      assert.match(broken.err(), /^error: render app\/bad\.yaml/);
      assert.doesNotMatch(broken.err(), /\n\s+at /);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('parseCommandFlags', () => {
  it('collects a repeated list flag and comma lists, in order', () => {
    const { values, positionals } = parseCommandFlags(
      renderCommandFlags,
      ['chart', '--values', 'a.yaml,b.yaml', '--values=c.yaml', '-n', 'web'],
      {},
      ['values'],
    );
    assert.deepEqual(values.values, ['a.yaml', 'b.yaml', 'c.yaml']);
    assert.equal(values.namespace, 'web');
    assert.deepEqual(positionals, ['chart']);
  });

  it('takes values from DRIFTLESS_ variables when no flag is given', () => {
    const { values } = parseCommandFlags(renderCommandFlags, [], {
      DRIFTLESS_VALUES: 'x.yaml',
      DRIFTLESS_ALLOW_SECRETS: 'true',
    });
    assert.deepEqual(values.values, ['x.yaml']);
    assert.equal(values.allowSecrets, true);
  });
});

describe('OfflineScopes', () => {
  it('knows built-in scopes and takes unknown kinds as namespaced, warning once', async () => {
    const warnings: string[] = [];
    const scopes = new OfflineScopes((m) => warnings.push(m));
    assert.equal(await scopes.scopeOf('v1', 'Namespace'), 'Cluster');
    assert.equal(await scopes.scopeOf('rbac.authorization.k8s.io/v1', 'ClusterRole'), 'Cluster');
    assert.equal(await scopes.scopeOf('apps/v1', 'Deployment'), 'Namespaced');
    assert.equal(await scopes.scopeOf('example.com/v1', 'Widget'), 'Namespaced');
    assert.equal(await scopes.scopeOf('example.com/v1', 'Widget'), 'Namespaced');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /Widget \(example\.com\/v1\) is not built in/);
  });
});
