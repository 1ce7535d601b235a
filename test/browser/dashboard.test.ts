/* eslint-disable @typescript-eslint/no-unsafe-member-access --
   API answers are JSON checked by the assertions. */
// Dashboard acceptance (issue "Fleet dashboard"): Chromium, driven by playwright-core,
// against the real hub process fed by simulated agents over gRPC. Saves the screenshots
// that docs/dashboard.md shows.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { Browser, Page } from 'playwright-core';
import { api, enroll, makeAgentKey, type HubProcess } from '../integration/hub/helpers.ts';
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

const APPS = ['cert-manager', 'ingress-nginx', 'monitoring', 'payments', 'podinfo'];
const TRACE = 'a3ce929d0e0e47364bf92f3577b34da6';

describe('dashboard', { timeout: 150_000 }, () => {
  let hub: HubProcess;
  let admin: string;
  let browser: Browser;
  let page: Page;
  const agents: Record<string, SimAgent> = {};
  /** The clusters of the matrix rows, in order. */
  const clusterRows = async () =>
    Promise.all(
      (await page.locator('tbody tr[data-cluster]').all()).map((r) =>
        r.getAttribute('data-cluster'),
      ),
    );
  const cell = (cluster: string, app: string) =>
    page.locator(`tr[data-cluster="${cluster}"] a.cell[data-app="${app}"]`);

  before(async () => {
    hub = await startDashboardHub();
    admin = hub.bootstrapToken!;
    const fleet: [string, Record<string, string>, string][] = [
      ['prod-eu', { env: 'prod', region: 'eu', tier: 'critical' }, '0.4.2'],
      ['prod-us', { env: 'prod', region: 'us' }, '0.4.2'],
      ['staging-eu', { env: 'staging', region: 'eu' }, '0.4.2'],
      ['dev-eu', { env: 'dev', region: 'eu' }, '0.5.0-rc.1'],
      ['dev-us', { env: 'dev', region: 'us' }, '0.4.2'],
      ['edge-ap', { env: 'prod', region: 'ap' }, '0.4.1'],
    ];
    const started = await Promise.all(
      fleet.map(([name, labels, version]) => startAgent(hub, admin, name, labels, version)),
    );
    for (const a of started) agents[a.cluster] = a;
    const synced = (cluster: string, except: string[] = []) =>
      APPS.filter((a) => !except.includes(a)).map((app) => appStatus({ app }));

    await agents['prod-eu']!.report(
      ...synced('prod-eu', ['podinfo']),
      syncResult({
        id: 'pe-1',
        app: 'podinfo',
        revision: REV('c'),
        agoMs: 86_400_000,
        traceId: TRACE.replace('a3', '01'),
      }),
      syncResult({
        id: 'pe-2',
        app: 'podinfo',
        revision: REV('d'),
        agoMs: 7_200_000,
        failed:
          'apply Deployment podinfo/web: admission webhook "policy.example.com" denied the request',
        traceId: TRACE.replace('a3', '02'),
      }),
      syncResult({
        id: 'pe-3',
        app: 'podinfo',
        revision: REV('a'),
        agoMs: 3_600_000,
        traceId: TRACE,
      }),
      appStatus({
        app: 'podinfo',
        revision: REV('b'),
        sync: 'out-of-sync',
        manual: true,
        planDigest: 'sha256:9f2c4e1b7a',
        message: 'waiting for approval of plan sha256:9f2c4e1b7a',
        plan: [
          {
            kind: 'Deployment',
            namespace: 'podinfo',
            name: 'web',
            diff: [
              { path: 'spec.replicas', before: '3', after: '4' },
              {
                path: 'spec.template.spec.containers[name=web].image',
                before: '"ghcr.io/stefanprodan/podinfo:6.7.0"',
                after: '"ghcr.io/stefanprodan/podinfo:6.7.1"',
              },
            ],
          },
          {
            group: 'autoscaling',
            version: 'v2',
            kind: 'HorizontalPodAutoscaler',
            namespace: 'podinfo',
            name: 'web',
            diff: [{ path: 'spec.maxReplicas', before: '6', after: '8' }],
          },
        ],
      }),
    );
    await agents['prod-us']!.report(
      ...synced('prod-us', ['monitoring']),
      appStatus({ app: 'monitoring', sync: 'syncing', health: 'progressing' }),
    );
    await agents['staging-eu']!.report(
      ...synced('staging-eu', ['payments']),
      appStatus({
        app: 'payments',
        sync: 'failed',
        health: 'degraded',
        healthMessage: 'Deployment payments/api: 0/2 replicas ready (CrashLoopBackOff)',
        message: 'health wait timed out after 5m',
      }),
    );
    await agents['dev-eu']!.report(
      ...synced('dev-eu', ['podinfo']),
      appStatus({ app: 'podinfo', drift: 2 }),
      driftReport({
        id: 'dev-drift-1',
        app: 'podinfo',
        namespace: 'podinfo',
        name: 'web',
        fields: [{ path: 'spec.replicas', desired: '2', live: '5' }],
        changedBy: 'kubectl-edit',
      }),
      driftReport({
        id: 'dev-drift-2',
        app: 'podinfo',
        namespace: 'podinfo',
        name: 'web',
        fields: [
          {
            path: 'spec.template.spec.containers[name=web].resources',
            desired: JSON.stringify({
              limits: { cpu: '500m', memory: '256Mi' },
              requests: { cpu: '100m', memory: '64Mi' },
            }),
            live: JSON.stringify({
              limits: { cpu: '2', memory: '256Mi' },
              requests: { cpu: '100m', memory: '64Mi' },
            }),
          },
        ],
        changedBy: 'k9s',
      }),
      driftReport({
        id: 'dev-drift-0',
        app: 'podinfo',
        namespace: 'podinfo',
        name: 'web',
        fields: [{ path: 'metadata.labels.team', desired: '"web"', live: '"platform"' }],
        changedBy: 'kubectl-label',
        healed: true,
      }),
    );
    await agents['dev-us']!.report(
      ...synced('dev-us', ['ingress-nginx']),
      appStatus({
        app: 'ingress-nginx',
        health: 'missing',
        healthMessage: 'Service ingress-nginx/controller: not found',
      }),
    );
    await agents['edge-ap']!.report(
      appStatus({ app: 'podinfo' }),
      appStatus({ app: 'ingress-nginx' }),
    );
    agents['edge-ap']!.stream.close();

    browser = await launchBrowser();
    page = (await newPage(browser)).page;
  });

  after(async () => {
    await browser?.close();
    for (const a of Object.values(agents)) a.stream.close();
    await hub?.stop();
  });

  it('1. signs in with an API token; a bad token gets a clear message', async () => {
    await page.goto(hub.http + '/');
    await page
      .getByLabel('API token')
      .fill('at_0123456789abcdef.not-a-real-secret-at-all-xxxxxxxxxxxxxxxx');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /did not accept this API token/);
    assert.match(await alert.innerText(), /not valid/);
    // The token is never in the URL.
    assert.doesNotMatch(page.url(), /at_/);

    await page.getByLabel('API token').fill(admin);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Fleet' }).waitFor();
    assert.match(await page.locator('.me').innerText(), /bootstrap-admin\s+admin/i);
    assert.doesNotMatch(page.url(), /at_/);
    // Kept in sessionStorage (this tab only), not in localStorage or a cookie.
    const stored = await page.evaluate<{ session: string; local: number; cookie: string }>(
      `({ session: sessionStorage.getItem('driftless.apiToken'), local: localStorage.length, cookie: document.cookie })`,
    );
    assert.equal(stored.session, admin);
    assert.equal(stored.local, 0);
    assert.equal(stored.cookie, '');
  });

  it('2. the matrix shows each cell’s state; drift turns the right cell within seconds, without reload', async () => {
    await page.locator('.live.tone-ok').waitFor(); // the event stream is open
    const state = async (cluster: string, app: string) => {
      const c = cell(cluster, app);
      return {
        sync: await c.getAttribute('data-sync'),
        health: await c.getAttribute('data-health'),
        drift: await c.getAttribute('data-drift'),
        text: (await c.innerText()).replace(/\s+/g, ' ').trim(),
      };
    };
    assert.deepEqual(await state('prod-us', 'payments'), {
      sync: 'synced',
      health: 'healthy',
      drift: '0',
      text: '✓ Synced ♥ Healthy',
    });
    assert.deepEqual(await state('staging-eu', 'payments'), {
      sync: 'failed',
      health: 'degraded',
      drift: '0',
      text: '✕ Failed ▼ Degraded',
    });
    assert.deepEqual(await state('prod-eu', 'podinfo'), {
      sync: 'out-of-sync',
      health: 'healthy',
      drift: '0',
      text: '≠ Out of sync ♥ Healthy',
    });
    assert.equal((await state('dev-eu', 'podinfo')).text, '✓ Synced ♥ Healthy Δ 2 drifted');
    assert.equal(await page.locator('tr[data-cluster="edge-ap"] td.cell-empty').count(), 3);
    assert.equal(
      await cell('prod-us', 'payments').getAttribute('aria-label'),
      'payments on prod-us: synced, healthy, no drift',
    );

    // Filters: labels, then state.
    await page.getByLabel('Cluster labels').fill('env=prod');
    assert.deepEqual(await clusterRows(), ['edge-ap', 'prod-eu', 'prod-us']);
    await page.getByLabel('Cluster labels').fill('');
    await page.getByRole('button', { name: 'Drifted', exact: true }).click();
    assert.deepEqual(await clusterRows(), ['dev-eu']);
    await page.getByRole('button', { name: 'Clear' }).click();

    // Drift arrives over gRPC; the open page must change without a reload.
    await page.evaluate('window.marker = 42');
    const t0 = Date.now();
    await agents['prod-us']!.report(
      driftReport({
        id: 'pay-drift',
        app: 'payments',
        namespace: 'payments',
        name: 'api',
        fields: [
          {
            path: 'spec.template.spec.containers[name=api].image',
            desired: '"ghcr.io/acme/payments:1.4.2"',
            live: '"ghcr.io/acme/payments:1.4.2-debug"',
          },
        ],
        changedBy: 'kubectl-set',
      }),
      appStatus({ app: 'payments', drift: 1 }),
    );
    await page
      .locator('tr[data-cluster="prod-us"] a.cell[data-app="payments"][data-drift="1"]')
      .waitFor({ timeout: 5000 });
    const seconds = (Date.now() - t0) / 1000;
    console.log(`drift report to changed cell: ${seconds.toFixed(2)} s`);
    assert.ok(seconds < 5, `the cell turned after ${seconds}s`);
    assert.equal((await state('prod-us', 'payments')).text, '✓ Synced ♥ Healthy Δ 1 drifted');
    assert.equal(await page.evaluate('window.marker'), 42, 'the page was not reloaded');
    // Only that cell changed.
    assert.equal((await state('prod-eu', 'payments')).drift, '0');
    assert.equal((await state('prod-us', 'podinfo')).drift, '0');
    await screenshot(page, 'dashboard-overview.png');
  });

  it('3. the drift view shows field paths, Git beside live, and the manager that changed it', async () => {
    await page.getByRole('link', { name: 'Drift', exact: true }).click();
    const card = page.locator('li[data-drift="pay-drift"]');
    await card.waitFor();
    const text = await card.innerText();
    assert.match(text, /apps\/v1 Deployment payments\/api/);
    assert.match(text, /spec\.template\.spec\.containers\[name=api\]\.image/);
    assert.match(text, /Git\s+ghcr\.io\/acme\/payments:1\.4\.2\s/);
    assert.match(text, /live\s+ghcr\.io\/acme\/payments:1\.4\.2-debug/);
    assert.match(text, /Changed by\s+kubectl-set/i);
    assert.match(text, /prod-us \/ payments/);
    // A multi-line value gets a line diff, Git's lines beside live's, neither marked as a removal.
    const multi = page.locator('li[data-drift="dev-drift-2"] pre.diff');
    assert.match(await multi.locator('.side-git').innerText(), /Git: +"cpu": "500m"/);
    assert.match(await multi.locator('.side-live').innerText(), /live: +"cpu": "2"/);
    assert.equal(await multi.locator('.del, .add').count(), 0);
    // Healed drift is out of the default (open) list.
    assert.equal(await page.locator('li[data-drift="dev-drift-0"]').count(), 0);
    await page.getByLabel('Cluster', { exact: true }).fill('dev-eu');
    await page.locator('li[data-drift="pay-drift"]').waitFor({ state: 'detached' });
    assert.equal(await page.locator('li[data-drift="dev-drift-2"]').count(), 1);
    await page.getByLabel('Cluster', { exact: true }).fill('');
    await page.locator('li[data-drift="pay-drift"]').waitFor();
    await screenshot(page, 'dashboard-drift.png');
  });

  it('app page: revision linked to its commit, plan diff, history with step durations and trace links', async () => {
    await page.goto(hub.http + '/#/apps/prod-eu/podinfo');
    await page.getByRole('heading', { name: /podinfo\s+on prod-eu/ }).waitFor();
    const rev = page.locator('dd.revision a');
    assert.equal(
      await rev.getAttribute('href'),
      `https://git.example.com/platform/fleet/commit/${REV('b')}`,
    );
    assert.equal(await rev.innerText(), 'bbbbbbb');
    const plan = page.locator('ul.plan');
    assert.match(await plan.innerText(), /spec\.replicas/);
    assert.match(await plan.innerText(), /podinfo:6\.7\.1/);
    const history = page.locator('table.history tbody tr');
    await history.nth(2).waitFor();
    assert.equal(await history.count(), 3);
    assert.match(await history.first().innerText(), /health\s+1\.2 s/);
    assert.equal(
      await history.first().locator('a', { hasText: 'Trace' }).getAttribute('href'),
      `http://jaeger.example.com:16686/trace/${TRACE}`,
    );
    assert.match(await history.nth(1).innerText(), /admission webhook/);
    await screenshot(page, 'dashboard-app.png', true);
  });

  it('4. approving a pending sync works for an approver and is refused for a viewer', async () => {
    const mk = async (name: string, role: string) =>
      (await api(hub, admin, 'POST', '/api/v1/api-tokens', { name, role })).body.token as string;
    const viewer = await mk('vera', 'viewer');
    const approver = await mk('carol', 'approver');

    const v = await newPage(browser);
    await signIn(v.page, hub, viewer);
    await v.page.getByRole('link', { name: /Approvals/ }).click();
    const item = v.page.locator('li[data-approval="prod-eu/podinfo"]');
    await item.waitFor();
    const button = item.getByRole('button', { name: /Approve bbbbbbb/ });
    assert.equal(await button.isDisabled(), true);
    assert.match(await item.innerText(), /Needs the approver role; you are viewer/);
    assert.match(await item.innerText(), /spec\.replicas/);
    // Enrollment is hidden from a viewer.
    assert.equal(await v.page.getByRole('link', { name: 'Enrollment' }).count(), 0);
    // The API refuses anyway.
    const refused = await api(hub, viewer, 'POST', '/api/v1/approvals', {
      cluster: 'prod-eu',
      app: 'podinfo',
      revision: REV('b'),
      planDigest: 'sha256:9f2c4e1b7a',
    });
    assert.equal(refused.status, 403);
    await v.context.close();

    const a = await newPage(browser);
    await signIn(a.page, hub, approver);
    await a.page.getByRole('link', { name: /Approvals/ }).click();
    const mine = a.page.locator('li[data-approval="prod-eu/podinfo"]');
    await mine.getByRole('button', { name: 'Approve bbbbbbb' }).click();
    await mine.getByText(/Approved\s+by\s+carol/).waitFor({ timeout: 5000 });
    await a.context.close();

    // The agent got the approval for exactly this revision and plan digest.
    for (;;) {
      const m = await agents['prod-eu']!.stream.next(5000);
      if (m.body?.$case !== 'approval') continue;
      assert.equal(m.body.value.revision, REV('b'));
      assert.equal(m.body.value.planDigest, 'sha256:9f2c4e1b7a');
      assert.equal(m.body.value.approvedBy, 'carol');
      break;
    }
    const audit = await api(hub, admin, 'GET', '/api/v1/audit?limit=50');
    const entry = (audit.body.items as { action: string; actor: string; target: string }[]).find(
      (e) => e.action === 'approval.create',
    );
    assert.ok(entry, 'the approval is in the audit log');
    assert.match(entry.actor, /^carol \(at_/);
    assert.equal(entry.target, 'cluster/prod-eu/app/podinfo');
  });

  it('5. a new enrollment token is shown once; revoking it makes enrollment with it fail', async () => {
    await page.getByRole('link', { name: 'Enrollment' }).click();
    await page.getByLabel('Cluster name').fill('prod-ap');
    await page.getByLabel('Labels').fill('env=prod,region=ap');
    await page
      .getByLabel('Repository URL (for the command)')
      .fill('https://git.example.com/platform/fleet.git');
    await page.getByRole('button', { name: 'Create token' }).click();
    const tokenBox = page.getByLabel('Enrollment token', { exact: true });
    await tokenBox.waitFor();
    const token = (await tokenBox.innerText()).trim();
    assert.match(token, /^et_[0-9a-f]{16}\.\S{20,}$/);
    const helm = await page.getByLabel('helm command').innerText();
    assert.match(helm, /helm upgrade --install driftless-agent charts\/agent/);
    assert.ok(helm.includes(`--from-literal=token=${token}`));
    assert.match(helm, /--set clusterName=prod-ap/);
    const run = await page.getByLabel('driftless-agent command').innerText();
    assert.ok(run.startsWith(`DRIFTLESS_ENROLLMENT_TOKEN=${token} driftless-agent run`));
    assert.match(run, /--hub-address localhost:\d+/);
    const id = token.split('.')[0]!;
    const row = page.locator(`tr[data-token="${id}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /Active/);
    await screenshot(page, 'dashboard-tokens.png');

    // Shown once: gone after "Done", and after a reload; the list never has it.
    await page.getByRole('button', { name: 'Done, I have copied it' }).click();
    assert.equal(await page.getByText(token).count(), 0);
    await page.reload();
    await row.waitFor();
    assert.ok(!(await page.content()).includes(token.split('.')[1]!));
    const list = await api(hub, admin, 'GET', '/api/v1/tokens');
    assert.ok(!JSON.stringify(list.body).includes(token.split('.')[1]!));

    await row.getByRole('button', { name: `Revoke token ${id} for prod-ap` }).click();
    await row.getByRole('button', { name: 'Confirm revoke' }).click();
    await row.getByText('Revoked').waitFor({ timeout: 5000 });
    const key = await makeAgentKey();
    await assert.rejects(
      enroll(hub, { token, clusterName: 'prod-ap', csrPem: key.csrPem }),
      (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.UNAUTHENTICATED);
        return true;
      },
    );
  });
});
