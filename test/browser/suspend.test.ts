// Break-glass pauses and operator actions on the dashboard: Chromium, driven by playwright-core,
// against the real hub process and a simulated agent over gRPC that does what an agent does with
// the hub's Suspensions message (reports the pause back in its app status). Saves the screenshots
// that docs/dashboard.md shows (with DRIFTLESS_UPDATE_DOCS=1).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ChangeAction, SuspensionSource, type HubMessage } from '@driftless/proto';
import { api, type HubProcess } from '../integration/hub/helpers.ts';
import {
  appStatus,
  driftReport,
  launchBrowser,
  newPage,
  REV,
  screenshot,
  signIn,
  startAgent,
  startDashboardHub,
  syncResult,
  type SimAgent,
} from './fleet.ts';

type HubBody = NonNullable<HubMessage['body']>;

/** The next hub message of `kind` on the agent's stream, skipping others. */
async function nextOf<K extends HubBody['$case']>(
  agent: SimAgent,
  kind: K,
): Promise<Extract<HubBody, { $case: K }>> {
  for (;;) {
    const body = (await agent.stream.next(20_000)).body;
    if (body?.$case === kind) return body as Extract<HubBody, { $case: K }>;
  }
}

describe('dashboard: pauses and operator actions', { timeout: 150_000 }, () => {
  let hub: HubProcess;
  let admin: string;
  let operator: string;
  let viewer: string;
  let browser: Browser;
  let page: Page;
  let agent: SimAgent;

  /** The app status the simulated agent reports, with or without a pause. */
  const web = (
    suspension?: { id: string; reason: string; actor: string; untilMs: number },
    extra: Partial<Parameters<typeof appStatus>[0]> = {},
  ) => {
    const body = appStatus({ app: 'web', revision: REV('a'), ...extra });
    if (body.$case === 'appStatus' && suspension)
      body.value.suspension = {
        app: 'web',
        untilUnixMs: BigInt(suspension.untilMs),
        reason: suspension.reason,
        actor: suspension.actor,
        sinceUnixMs: BigInt(Date.now()),
        source: SuspensionSource.SUSPENSION_SOURCE_HUB,
        suspensionId: suspension.id,
      };
    return body;
  };

  before(async () => {
    hub = await startDashboardHub();
    admin = hub.bootstrapToken!;
    const mk = async (name: string, role: string) =>
      (
        (await api(hub, admin, 'POST', '/api/v1/api-tokens', { name, role })).body as {
          token: string;
        }
      ).token;
    operator = await mk('olga', 'operator');
    viewer = await mk('vera', 'viewer');
    agent = await startAgent(hub, admin, 'prod-eu', { env: 'prod' });
    const create = appStatus({
      app: 'web',
      revision: REV('b'),
      sync: 'out-of-sync',
      manual: true,
      planDigest: 'sha256:4be1c0',
      message: 'waiting for approval of plan sha256:4be1c0 (1 change(s))',
    });
    if (create.$case === 'appStatus')
      create.value.pendingPlan = [
        {
          object: { group: '', version: 'v1', kind: 'ConfigMap', namespace: 'web', name: 'flags' },
          action: ChangeAction.CHANGE_ACTION_CREATE,
          wave: 0,
          diff: [
            {
              path: '.',
              beforeJson: '',
              // What an older agent sent: the dry-run answer, server-filled fields and all.
              afterJson: JSON.stringify({
                apiVersion: 'v1',
                kind: 'ConfigMap',
                metadata: {
                  name: 'flags',
                  namespace: 'web',
                  uid: '6f1d2c3b-0000-4000-8000-000000000001',
                  resourceVersion: '4711',
                  creationTimestamp: '2026-11-30T09:00:00Z',
                  managedFields: [{ manager: 'driftless', operation: 'Apply' }],
                  labels: { 'app.kubernetes.io/managed-by': 'driftless' },
                },
                data: { checkout: 'v2' },
              }),
            },
          ],
        },
      ];
    // A sync whose steps add up to 2061 ms of its 2661 ms: 600 ms went on before its first step.
    const sync = syncResult({
      id: 'sync-web-1',
      app: 'web',
      revision: REV('a'),
      agoMs: 120_000,
      traceId: 'a3ce929d0e0e47364bf92f3577b34da6',
    });
    if (sync.$case === 'syncResult') sync.value.finishedUnixMs += 600n;
    await agent.report(
      sync,
      create,
      driftReport({
        id: 'd-web-1',
        app: 'web',
        kind: 'Deployment',
        namespace: 'web',
        name: 'web',
        fields: [{ path: '.spec.replicas', desired: '3', live: '5' }],
        changedBy: 'kubectl-scale',
      }),
    );
    browser = await launchBrowser();
    ({ page } = await newPage(browser));
    await signIn(page, hub, operator);
  });
  after(async () => {
    await browser?.close();
    agent?.stream.close();
    await hub?.stop();
  });

  it('shows a created object as its manifest, and drift as Git against live', async () => {
    await page.goto(`${hub.http}/#/apps/prod-eu/web`);
    const manifest = page.getByLabel('manifest of v1 ConfigMap web/flags');
    await manifest.waitFor();
    const text = await manifest.innerText();
    assert.match(text, /checkout: "v2"/);
    for (const serverField of ['managedFields', 'uid', 'resourceVersion', 'creationTimestamp'])
      assert.ok(!text.includes(serverField), `${serverField} is not shown`);
    const drift = page.locator('li[data-drift="d-web-1"]');
    await drift.waitFor();
    const card = await drift.innerText();
    assert.match(card, /Git\s+3/);
    assert.match(card, /live\s+5/);
    assert.doesNotMatch(card, /[+−] live/, 'live is not shown as the value to keep');
    const steps = page.locator('table.history .steps-list');
    await steps.waitFor();
    assert.match(await steps.innerText(), /in no step\s+600\s*ms/);
    await screenshot(page, 'dashboard-plan-drift.png', true);
  });

  it('an operator pauses an app with a reason and a duration; the agent gets it and the page says so', async () => {
    await page.getByRole('button', { name: 'Suspend…' }).click();
    const form = page.getByRole('form', { name: 'Suspend app web' });
    const submit = form.getByRole('button', { name: 'Suspend app web' });
    assert.equal(await submit.isDisabled(), true, 'no pause without a reason');
    await form.getByLabel('Reason (required)').fill('incident 42: hands off web');
    await form.getByLabel('For').selectOption('1h');
    await submit.click();
    await page.getByText('Paused app web for 1h.').waitFor();

    const sent = (await nextOf(agent, 'suspensions')).value;
    assert.equal(sent.items.length, 1);
    const item = sent.items[0]!;
    assert.equal(item.app, 'web');
    assert.equal(item.reason, 'incident 42: hands off web');
    assert.match(item.actor, /^olga \(at_/);
    const hour = Number(item.untilUnixMs - item.sinceUnixMs);
    assert.ok(hour >= 3_599_000 && hour <= 3_601_000, `a pause of one hour, not ${hour} ms`);
    // The agent applies it and says so in its status.
    await agent.report(
      web({
        id: item.suspensionId,
        reason: item.reason,
        actor: item.actor,
        untilMs: Number(item.untilUnixMs),
      }),
    );
    const banner = page.locator('.suspension-banner');
    await banner.waitFor();
    assert.match(await banner.innerText(), /Paused by olga .* Reason: incident 42: hands off web/);
    assert.match(await page.locator('.page-head').innerText(), /Paused until/);
    await screenshot(page, 'dashboard-suspended-app.png');

    const audit = await api(hub, admin, 'GET', '/api/v1/audit?limit=20');
    assert.ok(
      (audit.body as { items: { action: string; target: string }[] }).items.some(
        (e) => e.action === 'cluster.suspend' && e.target === 'cluster/prod-eu/app/web',
      ),
      'the pause is audited',
    );
  });

  it('the cluster page shows the badge; Resume ends the pause and the agent gets an empty set', async () => {
    await page.goto(`${hub.http}/#/clusters/prod-eu`);
    const row = page.locator('tbody tr', { hasText: 'web' });
    await row.waitFor();
    assert.match(await row.innerText(), /Paused until/);
    await page.goto(`${hub.http}/#/apps/prod-eu/web`);
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByText('Resumed app web').waitFor();
    const sent = (await nextOf(agent, 'suspensions')).value;
    assert.deepEqual(sent.items, []);
    await agent.report(web());
    await page.locator('.suspension-banner').waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Suspend…' }).waitFor();
  });

  it('Sync now and Refresh reach the agent', async () => {
    await page.getByRole('button', { name: 'Sync now' }).click();
    await page.getByText('Sync of app web requested.').waitFor();
    assert.equal((await nextOf(agent, 'syncNow')).value.app, 'web');
    await page.getByRole('button', { name: 'Refresh', exact: true }).click();
    await page.getByText('Refresh of prod-eu requested.').waitFor();
    await nextOf(agent, 'refreshHint');
  });

  it('a viewer sees the pause but gets no buttons, and the API refuses a viewer', async () => {
    const v = await newPage(browser);
    await signIn(v.page, hub, viewer);
    await v.page.goto(`${hub.http}/#/apps/prod-eu/web`);
    await v.page.locator('.page-head').waitFor();
    assert.equal(await v.page.getByRole('button', { name: 'Suspend…' }).count(), 0);
    assert.equal(await v.page.getByRole('button', { name: 'Sync now' }).count(), 0);
    await v.context.close();
    const refused = await api(hub, viewer, 'POST', '/api/v1/clusters/prod-eu/suspend', {
      app: 'web',
      for: '10m',
      reason: 'x',
    });
    assert.equal(refused.status, 403);
  });
});
