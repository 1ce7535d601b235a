import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { clusterAccessFromText, inClusterAccess, loadClusterAccess } from './kubeconfig.ts';
import { ExecCredentialSource, staticCredentials } from './credentials.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function kubeconfig(cluster: object, user: object, extra: object = {}): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443', ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'ctx',
    ...extra,
  });
}

/** What the client library makes of a kubeconfig file, the reference we match. */
async function reference(file: string): Promise<https.RequestOptions> {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  return opts;
}

async function ours(file: string) {
  const access = loadClusterAccess([file], { env: {} });
  assert.ok(access);
  return { access, creds: await access.credentials.get() };
}

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'kubeconfig-'));
}

describe('kubeconfig, against the client library', () => {
  it('inline certificate data and a token', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'config');
    writeFileSync(
      file,
      kubeconfig(
        { 'certificate-authority-data': b64('CA PEM'), 'tls-server-name': 'kubernetes' },
        { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY'), token: 'abc' },
      ),
    );
    const ref = await reference(file);
    const { access, creds } = await ours(file);
    assert.equal(String(access.ca), String(ref.ca));
    assert.equal(String(creds.cert), String(ref.cert));
    assert.equal(String(creds.key), String(ref.key as Buffer));
    assert.equal(
      creds.headers['authorization'],
      (ref.headers as Record<string, string>)['Authorization'],
    );
    assert.equal(access.serverName, ref.servername);
    assert.equal(access.insecureSkipTlsVerify, ref.rejectUnauthorized === false);
    assert.equal(access.server.href, 'https://127.0.0.1:6443/');
  });

  it('certificate files relative to the kubeconfig, and insecure-skip-tls-verify', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'ca.crt'), 'CA FILE');
    writeFileSync(path.join(dir, 'client.crt'), 'CERT FILE');
    writeFileSync(path.join(dir, 'client.key'), 'KEY FILE');
    const file = path.join(dir, 'config');
    writeFileSync(
      file,
      kubeconfig(
        { 'insecure-skip-tls-verify': true },
        { 'client-certificate': 'client.crt', 'client-key': 'client.key' },
      ),
    );
    const ref = await reference(file);
    const { access, creds } = await ours(file);
    assert.equal(String(creds.cert), String(ref.cert));
    assert.equal(String(creds.key), String(ref.key as Buffer));
    assert.equal(access.insecureSkipTlsVerify, true);
    assert.equal(ref.rejectUnauthorized, false);
    assert.deepEqual(creds.headers, {});

    writeFileSync(file, kubeconfig({ 'certificate-authority': 'ca.crt' }, {}));
    assert.equal(String((await ours(file)).access.ca), String((await reference(file)).ca));
  });

  it('basic auth', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'config');
    writeFileSync(file, kubeconfig({}, { username: 'admin', password: 's3cret' }));
    const ref = await reference(file);
    const { creds } = await ours(file);
    const header = creds.headers['authorization'] ?? '';
    assert.equal(Buffer.from(header.replace('Basic ', ''), 'base64').toString(), ref.auth);
  });

  it('an exec credential plugin, with its environment and cluster info', async () => {
    const dir = tempDir();
    const plugin = path.join(dir, 'plugin.sh');
    writeFileSync(
      plugin,
      `#!/bin/sh
printf %s "$KUBERNETES_EXEC_INFO" > "$(dirname "$0")/info.json"
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s-%s"}}' "$1" "$PLUGIN_SUFFIX"
`,
    );
    chmodSync(plugin, 0o755);
    const file = path.join(dir, 'config');
    const withCommand = (command: string) =>
      kubeconfig(
        {},
        {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command,
            args: ['tok'],
            env: [{ name: 'PLUGIN_SUFFIX', value: 'xyz' }],
            provideClusterInfo: true,
            interactiveMode: 'Never',
          },
        },
      );
    writeFileSync(file, withCommand(plugin));
    const ref = await reference(file);
    const { creds } = await ours(file);
    assert.equal(creds.headers['authorization'], 'Bearer tok-xyz');
    assert.equal(
      creds.headers['authorization'],
      (ref.headers as Record<string, string>)['Authorization'],
    );
    // As kubectl does, a relative command with a separator is found beside the kubeconfig.
    writeFileSync(file, withCommand('./plugin.sh'));
    assert.equal((await ours(file)).creds.headers['authorization'], 'Bearer tok-xyz');
    const info = JSON.parse(readFileSync(path.join(dir, 'info.json'), 'utf8')) as {
      kind: string;
      spec: { interactive: boolean; cluster: { server: string } };
    };
    assert.equal(info.kind, 'ExecCredential');
    assert.equal(info.spec.interactive, false);
    assert.equal(info.spec.cluster.server, 'https://127.0.0.1:6443');
  });
});

describe('kubeconfig', () => {
  it('merges several files as kubectl does: the first to set a name or the current context wins', () => {
    const dir = tempDir();
    const first = path.join(dir, 'a');
    const second = path.join(dir, 'b');
    writeFileSync(
      first,
      stringify({
        clusters: [{ name: 'c', cluster: { server: 'https://first:6443' } }],
        users: [{ name: 'u', user: { token: 'first' } }],
      }),
    );
    writeFileSync(
      second,
      stringify({
        clusters: [
          { name: 'c', cluster: { server: 'https://second:6443' } },
          { name: 'd', cluster: { server: 'https://d:6443' } },
        ],
        contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'ctx',
      }),
    );
    const access = loadClusterAccess([], {
      env: { KUBECONFIG: [path.join(dir, 'missing'), first, second].join(path.delimiter) },
    });
    assert.equal(access?.server.host, 'first:6443');
    assert.equal(access?.contextName, 'ctx');
  });

  it('names what is wrong', () => {
    assert.throws(
      () => clusterAccessFromText(kubeconfig({}, {}, { 'current-context': 'nope' })),
      /current-context nope is not defined/,
    );
    assert.throws(
      () => clusterAccessFromText(kubeconfig({}, { 'auth-provider': { name: 'gcp' } })),
      /auth-provider gcp is not supported/,
    );
    assert.throws(
      () => clusterAccessFromText(kubeconfig({}, { exec: { apiVersion: 'v0', command: 'x' } })),
      /exec apiVersion v0/,
    );
    assert.throws(
      () => clusterAccessFromText(kubeconfig({ 'certificate-authority': '/no/such/ca' }, {})),
      /certificate-authority \/no\/such\/ca/,
    );
    assert.throws(() => loadClusterAccess(['/no/such/file'], { env: {} }), /no such file/);
    assert.equal(loadClusterAccess([], { env: { HOME: tempDir() } }), undefined);
  });

  it('reads the service account in a pod, re-reading the rotated token', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'token'), 'one\n');
    writeFileSync(path.join(dir, 'ca.crt'), 'CA');
    const access = inClusterAccess(
      { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' },
      dir,
    );
    assert.equal(access.server.href, 'https://[fd00::1]/');
    assert.equal(String(access.ca), 'CA');
    assert.equal((await access.credentials.get()).headers['authorization'], 'Bearer one');
    writeFileSync(path.join(dir, 'token'), 'two\n');
    access.credentials.invalidate();
    assert.equal((await access.credentials.get()).headers['authorization'], 'Bearer two');
  });

  it('re-reads a token file once its time is up', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'token');
    writeFileSync(file, 'one');
    let now = 0;
    const source = staticCredentials({ tokenFile: file, tokenFileTtlMs: 1000, now: () => now });
    assert.equal((await source.get()).headers['authorization'], 'Bearer one');
    writeFileSync(file, 'two');
    now = 999;
    assert.equal((await source.get()).headers['authorization'], 'Bearer one');
    now = 1000;
    assert.equal((await source.get()).headers['authorization'], 'Bearer two');
  });
});

describe('exec credential plugins, run as kubectl runs them without a terminal', () => {
  const source = (command: string, args: string[] = [], timeoutMs = 20_000) =>
    new ExecCredentialSource({
      exec: { apiVersion: 'client.authentication.k8s.io/v1', command, args },
      where: 'kubeconfig user u',
      cluster: { server: 'https://127.0.0.1:6443', cluster: {} },
      base: {},
      timeoutMs,
    });
  const script = (body: string) => {
    const file = path.join(tempDir(), 'plugin.sh');
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
    return file;
  };

  it('gives the plugin end-of-file on stdin', async () => {
    const plugin = script(
      `cat >/dev/null
echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t1"}}'`,
    );
    const creds = await source(plugin).get();
    assert.equal(creds.headers['authorization'], 'Bearer t1');
  });

  it('names why a plugin failed in one line, never with its arguments', async () => {
    const silent = script('exit 3');
    await assert.rejects(source(silent, ['--client-secret', 's3cr3t']).get(), (err: Error) => {
      assert.match(err.message, /exec plugin .*plugin\.sh failed: exited with code 3$/);
      assert.doesNotMatch(err.message, /s3cr3t|\n/);
      return true;
    });
    const slow = script('exec sleep 30');
    await assert.rejects(source(slow, ['s3cr3t'], 300).get(), (err: Error) => {
      assert.match(err.message, /failed: no answer within 0\.3 s$/);
      assert.doesNotMatch(err.message, /s3cr3t/);
      return true;
    });
  });
});
