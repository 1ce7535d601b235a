/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-return -- CLI JSON output, checked by the assertions. */
// The `driftless` day-2 verbs as a person or a CI job runs them: real processes against a real
// hub with real agents (fleet.ts). The tests run in order and share the fleet's history.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@driftless/test';
import { parse as parseYaml } from 'yaml';
import { startCliFleet, webConfigMap, type CliFleet } from './fleet.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const FULL_SHA = /[0-9a-f]{40}/;

describe('driftless day-2 verbs', { timeout: 600_000 }, () => {
  let f: CliFleet;
  before(async () => {
    f = await startCliFleet();
  });
  after(() => f?.stop());

  /** Commits a new value of web's ConfigMap and asks the staging clusters to look. */
  const commitStaging = async (value: string, manifest = webConfigMap(value)) => {
    const sha = await f.repo.commit({ 'apps/web/cm.yaml': manifest }, `web ${value}`);
    const refreshed = await f.cli(['refresh', '-l', 'env=staging']);
    assert.equal(refreshed.code, 0, refreshed.stderr);
    return sha;
  };

  it('shows apps and clusters as tables with 12-character digests and a MESSAGE column, in full as JSON and YAML', async () => {
    const list = await f.cli(['app', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(
      list.stdout,
      /^CLUSTER\s+APP\s+REVISION\s+SYNC\s+MODE\s+HEALTH\s+DRIFT\s+PLAN\s+LAST SYNC\s+MESSAGE\n/,
    );
    const short = f.first.slice(0, 12);
    assert.match(
      list.stdout,
      new RegExp(`stg-a\\s+web\\s+${short}\\s+synced\\s+auto\\s+healthy\\s+0`),
    );
    assert.match(
      list.stdout,
      new RegExp(
        `prod\\s+web\\s+${short}\\s+out-of-sync\\s+manual\\s+\\S+\\s+0\\s+[0-9a-f]{12}\\s`,
      ),
    );
    assert.doesNotMatch(list.stdout, FULL_SHA);
    const json = JSON.parse(
      (await f.cli(['app', 'list', '-o', 'json', '-l', 'env=prod'])).stdout,
    ) as Json[];
    assert.deepEqual(
      json.map((a) => [a['cluster'], a['revision']]),
      [['prod', f.first]],
    );
    assert.match(json[0]!['planDigest'] as string, /.{13,}/);

    const get = await f.cli(['app', 'get', 'prod/web']);
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, /^App:\s+prod\/web$/m);
    assert.match(get.stdout, new RegExp(`^Revision:\\s+${short}$`, 'm'));
    assert.match(get.stdout, /^Mode:\s+manual$/m);
    assert.match(
      get.stdout,
      /^Pending plan:\s+1 to create, 0 to update, 0 to delete .*driftless approve prod\/web/m,
    );
    assert.match(get.stdout, /^Open drift:\s+0$/m);
    const yaml = parseYaml((await f.cli(['app', 'get', 'stg-a/web', '-o', 'yaml'])).stdout) as Json;
    assert.equal(yaml['revision'], f.first);
    assert.equal(yaml['syncStatus'], 'synced');
    assert.deepEqual(yaml['drift'], []);

    const cluster = await f.cli(['cluster', 'get', 'stg-a']);
    assert.equal(cluster.code, 0, cluster.stderr);
    assert.match(
      cluster.stdout,
      new RegExp(`^Repository:\\s+${f.repo.url.replace(/[.?]/g, '\\$&')}$`, 'm'),
    );
    assert.match(cluster.stdout, /^Branch:\s+main$/m);
    assert.match(
      cluster.stdout,
      /^APP\s+REVISION\s+SYNC\s+MODE\s+HEALTH\s+DRIFT\s+PLAN\s+LAST SYNC\s+MESSAGE$/m,
    );
  });

  it('names an unknown cluster or app in one line with exit code 1, and a malformed call with 2', async () => {
    for (const [args, message] of [
      [['app', 'get', 'nope/web'], /^driftless: cluster nope: not found/],
      [
        ['app', 'get', 'stg-a/nope'],
        /^driftless: app stg-a\/nope: not found \(cluster stg-a has web\)/,
      ],
      [['app', 'diff', 'stg-a/nope'], /app stg-a\/nope: not found/],
      [['app', 'history', 'nope/web'], /cluster nope: not found/],
      [['cluster', 'get', 'nope'], /cluster nope: not found/],
      [['sync', 'nope'], /cluster nope: not found/],
      [['refresh', 'stg-b/nope'], /app stg-b\/nope: not found/],
      [['approve', 'nope/web', '--yes'], /cluster nope: not found/],
      [['sync', '-l', 'env=nowhere'], /no cluster matches env=nowhere/],
      [['app', 'list', '--cluster', 'nope'], /cluster nope: not found/],
      [['approvals', '--cluster', 'nope'], /cluster nope: not found/],
      [['drift', '--cluster', 'nope'], /cluster nope: not found/],
      [['history', '--cluster', 'nope'], /cluster nope: not found/],
      [['drift', 'ledger', '--cluster', 'nope'], /cluster nope: not found/],
      [
        ['wait', '--revision', f.first, '-l', 'env=nowhere', '--timeout', '5s'],
        /no cluster matches -l env=nowhere/,
      ],
    ] as const) {
      const r = await f.cli([...args]);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, `${args.join(' ')}: one line`);
    }
    for (const args of [
      ['app', 'get', 'stg-a'],
      ['app', 'get'],
      ['sync'],
      ['sync', 'stg-a', '-l', 'env=staging'],
      ['wait', '-l', 'env=staging'],
      ['wait', '--revision', 'main'],
      ['app', 'list', '-o', 'xml'],
      ['app', 'list', '--revision', 'abc'],
    ]) {
      const r = await f.cli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /Run driftless .*--help for usage/);
    }
    const help = await f.cli(['wait', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /only if its agent reported REVISION\napplied earlier/);
  });

  it('app diff shows the pending plan: an object to create as its manifest, in full as JSON', async () => {
    const diff = await f.cli(['app', 'diff', 'prod/web']);
    assert.equal(diff.code, 0, diff.stderr);
    assert.match(diff.stdout, /^prod\/web at [0-9a-f]{12}, plan [0-9a-f]{12}: 1 to create/);
    assert.match(
      diff.stdout,
      /^=== ConfigMap prod\/web \(v1\): create\n--- live \(absent\)\n\+\+\+ git\n/m,
    );
    assert.match(diff.stdout, /^\+kind: ConfigMap$/m);
    assert.match(diff.stdout, /^\+ {2}value: v1$/m);
    const json = JSON.parse(
      (await f.cli(['app', 'diff', 'prod/web', '-o', 'json'])).stdout,
    ) as Json;
    assert.equal(json['revision'], f.first);
    assert.equal(json['plan'][0]['action'], 'create');
    const none = await f.cli(['app', 'diff', 'stg-a/web']);
    assert.equal(none.code, 0);
    assert.match(none.stdout, /stg-a\/web: no pending plan \(synced at [0-9a-f]{12}, mode auto\)/);
  });

  it('approvals lists what waits; approve refuses without a terminal and, with --yes, approves exactly the plan shown', async () => {
    const waiting = await f.cli(['approvals']);
    assert.equal(waiting.code, 0, waiting.stderr);
    assert.match(waiting.stdout, /^CLUSTER\s+APP\s+REVISION\s+PLAN\s+CHANGES\s+SINCE\s+MESSAGE\n/);
    assert.match(waiting.stdout, /^prod\s+web\s+[0-9a-f]{12}\s+[0-9a-f]{12}\s+1 to create/m);
    assert.doesNotMatch(waiting.stdout, /stg-/);

    const refused = await f.cli(['approve', 'prod/web']);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stdout, /=== ConfigMap prod\/web \(v1\): create/);
    assert.match(
      refused.stderr,
      /approve prod\/web: not a terminal, so no one can confirm; give --yes/,
    );
    const none = await f.api.get<{ items: Json[] }>('/api/v1/approvals');
    assert.equal(none.items.length, 0, 'nothing approved without a confirmation');

    const pending = (await f.app('prod'))!;
    const approved = await f.cli(['approve', 'prod/web', '--yes', '-o', 'json']);
    assert.equal(approved.code, 0, approved.stderr);
    const a = JSON.parse(approved.stdout) as Json;
    assert.equal(a['revision'], f.first);
    assert.equal(a['planDigest'], pending['planDigest']);
    assert.match(
      approved.stderr,
      /=== ConfigMap prod\/web/,
      'the plan is shown on stderr with -o json',
    );
    const landed = await f.cli([
      'wait',
      '--cluster',
      'prod',
      '--revision',
      f.first,
      '--timeout',
      '90s',
    ]);
    assert.equal(landed.code, 0, landed.stderr);
    assert.match(landed.stdout, /^prod\s+done\s+1 app synced and healthy$/m);
    const after = await f.cli(['approvals', '-o', 'json']);
    assert.deepEqual(JSON.parse(after.stdout), []);
  });

  it('app diff shows an update field by field; approve on a terminal asks, and approves only on yes', async () => {
    const v2 = await f.repo.commit({ 'apps/web/cm.yaml': webConfigMap('v2') }, 'web v2');
    assert.equal((await f.cli(['refresh', 'prod'])).code, 0);
    await waitFor('prod web to wait for an approval at v2', async () => {
      const a = await f.app('prod');
      return a?.['revision'] === v2 && a['syncStatus'] === 'out-of-sync' && a['planDigest'] !== '';
    });
    const diff = await f.cli(['app', 'diff', 'prod/web']);
    assert.equal(diff.code, 0, diff.stderr);
    assert.match(diff.stdout, /: 0 to create, 1 to update, 0 to delete\n/);
    assert.match(
      diff.stdout,
      /^=== ConfigMap prod\/web \(v1\): update\n--- live\n\+\+\+ git\n@@ \.data\.value @@\n-v1\n\+v2$/m,
    );

    const declined = await f.cliOnTerminal(['approve', 'prod/web'], 'n\n');
    assert.equal(declined.code, 1, declined.screen);
    assert.match(declined.screen, /Approve this plan of prod\/web\? \[y\/N\]/);
    assert.match(declined.screen, /Not approved\./);
    const approvals = async () =>
      (await f.api.get<{ items: Json[] }>('/api/v1/approvals')).items.filter(
        (a) => a['revision'] === v2,
      );
    assert.equal((await approvals()).length, 0, 'no approval after no');

    const accepted = await f.cliOnTerminal(['approve', 'prod/web'], 'y\n');
    assert.equal(accepted.code, 0, accepted.screen);
    assert.match(accepted.screen, new RegExp(`Approved prod/web at ${v2.slice(0, 12)}`));
    assert.equal((await approvals()).length, 1);
    const landed = await f.cli(['wait', '--cluster', 'prod', '--revision', v2, '--timeout', '90s']);
    assert.equal(landed.code, 0, landed.stderr);
  });

  it('sync and refresh reach an app, a cluster or a selector, audited; the agent is told', async () => {
    const app = await f.cli(['sync', 'stg-a/web']);
    assert.equal(app.code, 0, app.stderr);
    assert.match(app.stdout, /^stg-a\s+web\s+yes\s+-$/m);
    await waitFor('stg-a to log the sync the hub asked for', () =>
      f.agents['stg-a'].logs().some((l) => String(l['msg']).includes('sync requested by the hub')),
    );
    const fleet = await f.cli(['sync', '-l', 'env=staging', '-o', 'json']);
    assert.equal(fleet.code, 0, fleet.stderr);
    assert.deepEqual(
      (JSON.parse(fleet.stdout) as Json[]).map((r) => [r['cluster'], r['sent']]).sort(),
      [
        ['stg-a', true],
        ['stg-b', true],
      ],
    );
    await waitFor('stg-b to log the sync the hub asked for', () =>
      f.agents['stg-b'].logs().some((l) => String(l['msg']).includes('sync requested by the hub')),
    );
    assert.equal((await f.cli(['refresh', 'prod'])).code, 0);
    assert.equal((await f.cli(['refresh', 'prod/web'])).code, 0);
    const audit = await f.api.get<{ items: Json[] }>('/api/v1/audit?limit=50');
    const actions = audit.items.map((e) => `${e['action']} ${e['target']}`);
    for (const want of [
      'app.sync cluster/stg-a/app/web',
      'cluster.sync cluster/stg-a',
      'cluster.sync cluster/stg-b',
      'cluster.refresh cluster/prod',
      'app.refresh cluster/prod/app/web',
    ])
      assert.ok(actions.includes(want), `audit has ${want}: ${actions.join(', ')}`);
  });

  it('events follows the stream, filtered by type, cluster and selector', async () => {
    /** Starts `driftless events ARGS --count 1 -o json`; resolves with its one event. */
    const follow = (args: string[]) => {
      const child = f.spawnCli(['events', ...args, '-o', 'json', '--count', '1']);
      const out = { stdout: '', stderr: '' };
      child.stdout!.on('data', (d: Buffer) => (out.stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (out.stderr += d.toString()));
      const exited = once(child, 'exit');
      return {
        child,
        following: () =>
          waitFor('events to say it follows the stream', () => out.stderr.includes('following')),
        async event() {
          const [code] = (await exited) as [number];
          assert.equal(code, 0, out.stderr);
          return JSON.parse(out.stdout.trim()) as Json;
        },
      };
    };
    // A cluster the hub does not know is one line and exit 1, not a stream followed forever.
    const unknown = await f.cli(['events', '--cluster', 'nope', '--count', '1']);
    assert.equal(unknown.code, 1, unknown.stderr);
    assert.match(unknown.stderr, /^driftless: cluster nope: not found/);
    const byCluster = follow(['--type', 'sync', '--cluster', 'stg-b']);
    const bySelector = follow(['--type', 'app.updated', '-l', 'env=prod']);
    try {
      await Promise.all([byCluster.following(), bySelector.following()]);
      await commitStaging('events');
      assert.equal((await f.cli(['refresh', 'prod'])).code, 0);
      const synced = await byCluster.event();
      assert.equal(synced['type'], 'sync.recorded');
      assert.equal(synced['cluster'], 'stg-b');
      assert.equal(synced['app'], 'web');
      assert.equal(synced['data']['result'], 'succeeded');
      const updated = await bySelector.event();
      assert.equal(updated['type'], 'app.updated');
      assert.equal(updated['cluster'], 'prod');
    } finally {
      byCluster.child.kill();
      bySelector.child.kill();
    }
  });

  it('wait: exit 0 once staging runs a revision, also after moving past it; 3 on timeout with who is not there; 1 at once on a failed sync', async () => {
    const rev = await commitStaging('v4');
    const ok = await f.cli(['wait', '--revision', rev, '-l', 'env=staging', '--timeout', '90s']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^CLUSTER\s+STATE\s+MESSAGE\n/);
    assert.match(ok.stdout, /^stg-a\s+done\s+1 app synced and healthy$/m);
    assert.match(ok.stdout, /^stg-b\s+done\s+1 app synced and healthy$/m);

    const later = await commitStaging('v5');
    assert.equal(
      (await f.cli(['wait', '--revision', later, '-l', 'env=staging', '--timeout', '90s'])).code,
      0,
    );
    const past = await f.cli([
      'wait',
      '--revision',
      rev.slice(0, 10),
      '-l',
      'env=staging',
      '-o',
      'json',
      '--app',
      'web',
    ]);
    assert.equal(past.code, 0, past.stderr);
    const verdicts = (JSON.parse(past.stdout) as Json)['clusters'] as Json[];
    assert.deepEqual(
      verdicts.map((v) => v['state']),
      ['done', 'done'],
    );
    assert.match(
      verdicts[0]!['apps'][0]['reason'] as string,
      /^applied [0-9a-f]{10} earlier; now synced and healthy at [0-9a-f]{12}$/,
    );

    // prod is manual and was not refreshed: it is not at `later`.
    const timedOut = await f.cli([
      'wait',
      '--revision',
      later,
      '-l',
      'env=prod',
      '--timeout',
      '2s',
    ]);
    assert.equal(timedOut.code, 3, timedOut.stderr);
    assert.match(
      timedOut.stderr,
      new RegExp(
        `driftless: wait: timed out after 2s; not at ${later.slice(0, 12)} yet: prod \\(web: at [0-9a-f]{12}, not yet at ${later.slice(0, 12)}\\)`,
      ),
    );
    assert.match(timedOut.stdout, /^prod\s+waiting\s+web: at/m);

    const broken = await commitStaging(
      'broken',
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\ndata:\n  value: x\n',
    );
    const failed = await f.cli([
      'wait',
      '--revision',
      broken,
      '-l',
      'env=staging',
      '--timeout',
      '120s',
    ]);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(
      failed.stderr,
      new RegExp(
        `^driftless: wait: cluster stg-[ab]: web: sync failed at ${broken.slice(0, 12)}: .*Bad_Name`,
        'm',
      ),
    );
  });

  it('version prints the CLI and the hub version', async () => {
    const v = await f.cli(['version', '-o', 'json']);
    assert.equal(v.code, 0, v.stderr);
    const { cli, hub } = JSON.parse(v.stdout) as Json;
    assert.match(cli['version'] as string, /^\d+\.\d+\.\d+/);
    assert.equal(hub['version'], cli['version']);
    assert.equal(hub['url'], f.hub.httpUrl);
    const table = await f.cli(['version']);
    assert.match(
      table.stdout,
      /^CLI:\s+\d+\.\d+\.\d+.*\nHub:\s+\d+\.\d+\.\d+.* at http:\/\/127\.0\.0\.1:\d+\n$/,
    );
  });
});
