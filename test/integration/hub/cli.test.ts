// The `driftless` CLI as a person runs it: a real process against a real hub.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { enroll, makeAgentKey, startHubProcess, type HubProcess } from './helpers.ts';

const CLI = resolve(import.meta.dirname, '../../../hub/bin/driftless.ts');
const run = promisify(execFile);

describe('driftless CLI', { timeout: 60_000 }, () => {
  let hub: HubProcess;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    hub = await startHubProcess({});
    env = { ...process.env, DRIFTLESS_HUB: hub.http, DRIFTLESS_TOKEN: hub.bootstrapToken };
  });
  after(() => hub?.stop());

  const cli = async (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
    try {
      const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
        env: { ...env, ...extraEnv },
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  it('creates a token that enrolls, and lists clusters as a table and as JSON', async () => {
    const created = await cli([
      'token',
      'create',
      '--cluster',
      'edge-1',
      '--labels',
      'env=edge',
      '-o',
      'json',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const token = JSON.parse(created.stdout) as { token: string; id: string };
    await enroll(hub, {
      token: token.token,
      clusterName: 'edge-1',
      csrPem: (await makeAgentKey()).csrPem,
    });

    const table = await cli(['cluster', 'list']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME\s+CONNECTED\s+AGENT\s+CONFIG\s+LAST SEEN\s+LABELS\n/);
    assert.match(table.stdout, /edge-1\s+no\s+0\.1\.0-test\s+unknown\s+.*env=edge/);
    const json = await cli(['cluster', 'list', '-o', 'json', '-l', 'env=edge']);
    assert.deepEqual(
      (JSON.parse(json.stdout) as { name: string }[]).map((c) => c.name),
      ['edge-1'],
    );
    const tokens = await cli(['token', 'list']);
    assert.match(tokens.stdout, new RegExp(`${token.id}\\s+edge-1\\s+used\\s+1/1`));
    assert.doesNotMatch(tokens.stdout, new RegExp(token.token.split('.')[1]!));
    for (const args of [['drift'], ['history'], ['app', 'list'], ['cluster', 'get', 'edge-1']]) {
      const r = await cli(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    }
    assert.equal((await cli(['cluster', 'revoke', 'edge-1'])).code, 0);
    assert.match((await cli(['cluster', 'list'])).stdout, /edge-1\s+revoked/);
  });

  it('fails clearly: usage, auth, missing objects, unreachable hub', async () => {
    const usage = await cli(['token', 'create']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--cluster is required/);
    const unknown = await cli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    const noAuth = await cli(['cluster', 'list'], { DRIFTLESS_TOKEN: '' });
    assert.equal(noAuth.code, 1);
    assert.match(noAuth.stderr, /Authorization.*DRIFTLESS_TOKEN/);
    const missing = await cli(['cluster', 'get', 'nope']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cluster nope: not found/);
    const down = await cli(['cluster', 'list'], { DRIFTLESS_HUB: 'http://127.0.0.1:9' });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach the hub at http:\/\/127\.0\.0\.1:9/);
    const help = await cli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /DRIFTLESS_HUB/);
  });
});
