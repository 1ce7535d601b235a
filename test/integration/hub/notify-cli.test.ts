// `driftless notify …` as a person runs it: a real CLI process against a real hub, sending to
// a receiver that checks the generic webhook format and signature.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { LOOPBACK_DESTINATIONS, startReceivers, type Receivers } from '@driftless/test';
import { startHubProcess, type HubProcess } from './helpers.ts';

const CLI = resolve(import.meta.dirname, '../../../hub/bin/driftless.ts');
const run = promisify(execFile);
const HMAC_KEY = 'cli-hmac-key-0123456789';

describe('driftless notify', { timeout: 60_000 }, () => {
  let hub: HubProcess;
  let r: Receivers;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    [hub, r] = await Promise.all([
      // The receiver listens on loopback, which the hub refuses unless allowed.
      startHubProcess({
        args: ['--allow-private-destinations', LOOPBACK_DESTINATIONS.join(',')],
      }),
      startReceivers({ webhookHmacKey: HMAC_KEY }),
    ]);
    env = { ...process.env, DRIFTLESS_HUB: hub.http, DRIFTLESS_TOKEN: hub.bootstrapToken };
  });
  after(async () => {
    await hub?.stop();
    await r?.stop();
  });

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

  it('creates a destination from environment secrets, routes a rule, tests it, and never prints a secret', async () => {
    const url = r.webhookUrl('cli-secret-path');
    const created = await cli(['notify', 'destination', 'create', 'audit', '--kind', 'webhook'], {
      DRIFTLESS_CLI_URL: url,
      DRIFTLESS_CLI_HMAC_KEY: HMAC_KEY,
    });
    assert.equal(created.code, 0, created.stderr);
    const rule = await cli([
      'notify',
      'rule',
      'create',
      '--id',
      'prod',
      '--destination',
      'audit',
      '--events',
      'sync.failed,drift.detected',
      '--selector',
      'env=prod',
      '--rate-limit',
      '5/1m',
    ]);
    assert.equal(rule.code, 0, rule.stderr);
    assert.match(
      rule.stdout,
      /Rule prod created: sync.failed,drift.detected of env=prod .* 5\/60s/,
    );
    const badRate = await cli([
      'notify',
      'rule',
      'create',
      '--destination',
      'audit',
      '--rate-limit',
      'lots',
    ]);
    assert.equal(badRate.code, 2);
    assert.match(badRate.stderr, /--rate-limit "lots"/);

    const tested = await cli(['notify', 'test', 'audit']);
    assert.equal(tested.code, 0, tested.stderr);
    assert.equal(r.valid('webhook', 'cli-secret-path').length, 1);

    const listed = [
      await cli(['notify', 'destination', 'list']),
      await cli(['notify', 'destination', 'list', '-o', 'json']),
      await cli(['notify', 'rule', 'list']),
      await cli(['notify', 'deliveries']),
    ];
    for (const l of listed) assert.equal(l.code, 0, l.stderr);
    assert.match(listed[0]!.stdout, /audit\s+webhook\s+127\.0\.0\.1:\d+\s+set/);
    const all = listed.map((l) => l.stdout + l.stderr).join('\n') + created.stdout;
    assert.ok(!all.includes('cli-secret-path') && !all.includes(HMAC_KEY), 'no secret printed');

    r.fail('cli-secret-path', 1, 500);
    const failing = await cli(['notify', 'test', 'audit']);
    assert.equal(failing.code, 1);
    assert.match(failing.stderr, /HTTP 500/);
    assert.ok(!failing.stderr.includes('cli-secret-path'));

    assert.equal((await cli(['notify', 'rule', 'delete', 'prod'])).code, 0);
    assert.equal((await cli(['notify', 'destination', 'delete', 'audit'])).code, 0);
    const gone = await cli(['notify', 'destination', 'delete', 'audit']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /not found/);
  });
});
