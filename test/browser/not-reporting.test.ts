// Stale state on the hub's surfaces. An agent that goes away: the hub keeps its apps' last
// report, and no surface may show that report as what runs now. The real hub process, a
// simulated agent over real gRPC (mTLS) that reports an app synced and healthy and then drops
// its stream, the real `driftless` CLI process, and the built dashboard in Chromium. Both
// surfaces must mark the app's state as last reported (never green, never a plain "synced,
// healthy") and say why. And a dashboard that hears a cluster changed but cannot read it again
// (the hub answers 503) says so, and catches up once it can.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { waitFor } from '@driftless/test';
import { api, type HubProcess } from '../integration/hub/helpers.ts';
import {
  appStatus,
  launchBrowser,
  newPage,
  REV,
  signIn,
  startAgent,
  startDashboardHub,
  type SimAgent,
} from './fleet.ts';

const CLI = resolve(import.meta.dirname, '../../hub/bin/driftless.ts');
const run = promisify(execFile);

describe('an agent that stops reporting', { timeout: 150_000 }, () => {
  let hub: HubProcess;
  let admin: string;
  let browser: Browser;
  let page: Page;
  let gone: SimAgent;
  let live: SimAgent;

  /** Runs the CLI against the hub; the exit code with what it printed. */
  const cli = async (...args: string[]) => {
    const env = { ...process.env, DRIFTLESS_HUB: hub.http, DRIFTLESS_TOKEN: admin };
    try {
      const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  const row = (table: string, cluster: string, app = 'web') =>
    table.split('\n').find((l) => new RegExp(`^${cluster}\\s+${app}[\\s(]`).test(l)) ?? '';

  before(async () => {
    hub = await startDashboardHub();
    admin = hub.bootstrapToken!;
    [gone, live] = await Promise.all([
      startAgent(hub, admin, 'edge-gone', { env: 'edge' }),
      startAgent(hub, admin, 'edge-live', { env: 'edge' }),
    ]);
    await gone.report(
      appStatus({ app: 'web', revision: REV('a') }),
      // A manual app whose plan waits for an approval when its agent goes.
      appStatus({
        app: 'db',
        revision: REV('a'),
        manual: true,
        sync: 'out-of-sync',
        planDigest: 'sha256:' + 'd'.repeat(64),
        plan: [
          {
            kind: 'Deployment',
            namespace: 'db',
            name: 'db',
            diff: [{ path: 'spec.replicas', before: '1', after: '2' }],
          },
        ],
      }),
    );
    await live.report(appStatus({ app: 'web', revision: REV('a') }));
    // Both reported synced and healthy; then one agent goes away.
    const before = await cli('app', 'list');
    assert.match(row(before.stdout, 'edge-gone'), /\ssynced\s+auto\s+healthy\s/);
    gone.stream.close();
    await waitFor('the hub to see edge-gone disconnected', async () => {
      const r = await api(hub, admin, 'GET', '/api/v1/clusters/edge-gone');
      return (r.body as { connected: boolean }).connected === false;
    });
    browser = await launchBrowser();
    ({ page } = await newPage(browser));
    await signIn(page, hub, admin);
  });
  after(async () => {
    live?.stream.close();
    await browser?.close();
    await hub?.stop();
  });

  it('the CLI marks its apps stale, says why, and keeps the reporting cluster plain', async () => {
    const list = await cli('app', 'list');
    assert.equal(list.code, 0, list.stderr);
    assert.match(row(list.stdout, 'edge-gone'), /\ssynced \(stale\)\s+auto\s+healthy \(stale\)\s/);
    assert.match(row(list.stdout, 'edge-live'), /\ssynced\s+auto\s+healthy\s/);
    assert.match(
      list.stdout,
      /\(stale\): what the agent last reported, not what runs now: the agent of cluster edge-gone is not connected \(last seen \d{4}-/,
    );
    assert.doesNotMatch(list.stdout, /edge-live is not connected/);

    const get = await cli('app', 'get', 'edge-gone/web');
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, /^Sync:\s+synced \(stale: last reported, not what runs now\)$/m);
    assert.match(get.stdout, /^Agent:\s+the agent of cluster edge-gone is not connected/m);
    assert.match((await cli('app', 'get', 'edge-live/web')).stdout, /^Agent:\s+reporting$/m);

    const approvals = await cli('approvals');
    assert.equal(approvals.code, 0, approvals.stderr);
    assert.match(row(approvals.stdout, 'edge-gone', 'db'), /^edge-gone\s+db \(stale\)\s/);
    assert.match(
      approvals.stdout,
      /\(stale\): an approval goes out when its agent is back; .*: the agent of cluster edge-gone is not connected/,
    );

    const cluster = await cli('cluster', 'get', 'edge-gone');
    assert.match(cluster.stdout, /^web\s+\S+\s+synced \(stale\)/m);
    // JSON stays the API's record, unchanged, for scripts.
    const json = JSON.parse((await cli('app', 'list', '-o', 'json')).stdout) as {
      cluster: string;
      app: string;
      syncStatus: string;
    }[];
    assert.equal(
      json.find((a) => a.cluster === 'edge-gone' && a.app === 'web')?.syncStatus,
      'synced',
    );
  });

  it('the dashboard shows its apps as last reported, not green, and says why', async () => {
    await page.goto(hub.http + '/');
    const cell = (cluster: string) =>
      page.locator(`tr[data-cluster="${cluster}"] a.cell[data-app="web"]`);
    await cell('edge-gone').waitFor();
    assert.equal(await cell('edge-gone').getAttribute('data-reporting'), 'false');
    assert.doesNotMatch((await cell('edge-gone').getAttribute('class')) ?? '', /tone-ok/);
    assert.match(
      (await cell('edge-gone').getAttribute('title')) ?? '',
      /as last reported; the agent is not connected \(last seen/,
    );
    assert.match((await cell('edge-live').getAttribute('class')) ?? '', /tone-ok/);
    // The total counts only what a reporting agent vouches for.
    const totals = page.getByRole('region', { name: 'Totals' });
    assert.match(await totals.innerText(), /1 \/ 3\s*Apps synced\s*2 not reporting/i);

    await page.goto(hub.http + '/#/apps/edge-gone/web');
    const notice = page.getByTestId('not-reporting');
    await notice.waitFor();
    assert.match(await notice.innerText(), /the agent is not connected \(last seen .* ago\)/);
    assert.match(await page.locator('.page-head .badges').innerText(), /Synced \(last reported\)/);

    await page.goto(hub.http + '/#/apps/edge-live/web');
    await page.locator('.page-head .badges').waitFor();
    assert.equal(await page.getByTestId('not-reporting').count(), 0);
  });

  it('the dashboard says when a cluster changed but could not be read again, and catches up', async () => {
    await page.goto(hub.http + '/');
    const cell = page.locator('tr[data-cluster="edge-live"] a.cell[data-app="web"]');
    await page
      .locator('tr[data-cluster="edge-live"] a.cell[data-app="web"][data-sync="synced"]')
      .waitFor();
    // The hub answers the re-read with 503, as it does while its database is away.
    const path = '**/api/v1/clusters/edge-live';
    await page.route(path, (route) =>
      route.fulfill({
        status: 503,
        contentType: 'application/json',
        body: JSON.stringify({ error: { status: 503, message: 'the database is unavailable' } }),
      }),
    );
    await live.report(
      appStatus({ app: 'web', revision: REV('b'), sync: 'failed', message: 'boom' }),
    );
    const notice = page.getByText(/cluster edge-live changed, but reading it again failed/);
    await notice.waitFor();
    assert.match(await notice.innerText(), /the page may show an older state/);
    assert.equal(
      await cell.getAttribute('data-sync'),
      'synced',
      'the older state, with the notice',
    );
    await page.unroute(path);
    await page
      .locator('tr[data-cluster="edge-live"] a.cell[data-app="web"][data-sync="failed"]')
      .waitFor({ timeout: 60_000 });
    await notice.waitFor({ state: 'detached' });
  });
});
