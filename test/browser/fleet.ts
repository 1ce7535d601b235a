// What the dashboard tests run against: the real `driftless-hub` process, simulated agents
// that enroll and report over real gRPC (mTLS), the built dashboard, and Chromium driven
// by playwright-core.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import {
  ChangeAction,
  DriftType,
  HealthStatus,
  SyncMode,
  SyncOutcome,
  SyncStatus,
  type AgentMessageBody,
} from '@driftless/proto';
import {
  api,
  connect,
  enroll,
  makeAgentKey,
  startHubProcess,
  type AgentStream,
  type HubProcess,
} from '../integration/hub/helpers.ts';

const ROOT = resolve(import.meta.dirname, '../..');
/**
 * Where screenshots go: test/out/screenshots (git-ignored) on every run, so a
 * test run leaves the work tree clean; with DRIFTLESS_UPDATE_DOCS=1 into
 * docs/images, refreshing the pictures docs/dashboard.md shows.
 */
export const IMAGES =
  process.env['DRIFTLESS_UPDATE_DOCS'] === '1'
    ? join(ROOT, 'docs/images')
    : join(ROOT, 'test/out/screenshots');
export const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';

/** Builds the dashboard when `make web` has not (a test run straight from node --test). */
export function ensureDashboardBuilt(): void {
  if (existsSync(join(ROOT, 'hub/web/dist/index.html'))) return;
  const r = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn'], {
    cwd: join(ROOT, 'hub/web'),
    stdio: 'inherit',
  });
  if (r.status !== 0) throw new Error('building the dashboard (vite build in hub/web) failed');
}

/** Starts the hub with the dashboard's link templates set. */
export async function startDashboardHub(args: string[] = []): Promise<HubProcess> {
  ensureDashboardBuilt();
  return startHubProcess({
    args: [
      '--commit-url-template',
      'https://git.example.com/platform/fleet/commit/{revision}',
      '--trace-url-template',
      'http://jaeger.example.com:16686/trace/{traceId}',
      ...args,
    ],
  });
}

/** Launches Debian's Chromium headless, as the machine's notes require. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (or set CHROMIUM)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A fresh browser context (its own sessionStorage) at a desktop size. */
export async function newPage(browser: Browser): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: { width: 1440, height: 900 },
    deviceScaleFactor: 1,
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  const page = await context.newPage();
  return { context, page };
}

/** Signs in through the form. */
export async function signIn(page: Page, hub: HubProcess, token: string): Promise<void> {
  await page.goto(hub.http + '/');
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

/** Saves a screenshot into {@link IMAGES} (the viewport, or the whole page). */
export async function screenshot(page: Page, name: string, fullPage = false): Promise<void> {
  mkdirSync(IMAGES, { recursive: true });
  // Let focus rings and transitions settle; the dashboard has no animations to wait for.
  await page.evaluate('document.activeElement && document.activeElement.blur()');
  await page.screenshot({ path: join(IMAGES, name), fullPage });
}

/** One simulated agent: enrolled with a token, connected, acked Hello. */
export interface SimAgent {
  cluster: string;
  stream: AgentStream;
  /** Sends reports with the next seqs and waits until the hub acked them all. */
  report(...bodies: AgentMessageBody[]): Promise<void>;
}

/** Enrolls and connects an agent for `cluster`, with its token's labels. */
export async function startAgent(
  hub: HubProcess,
  admin: string,
  cluster: string,
  labels: Record<string, string>,
  version = '0.1.0',
): Promise<SimAgent> {
  const t = await api(hub, admin, 'POST', '/api/v1/tokens', { cluster, labels });
  if (t.status !== 201) throw new Error(`create token: ${JSON.stringify(t.body)}`);
  const key = await makeAgentKey();
  const res = await enroll(hub, {
    token: (t.body as { token: string }).token,
    clusterName: cluster,
    csrPem: key.csrPem,
  });
  const stream = connect(hub, { keyPem: key.keyPem, certPem: res.certificatePem });
  stream.send(0n, {
    $case: 'hello',
    value: {
      clusterName: cluster,
      agentVersion: version,
      lastAckedHubSeq: 0n,
      labels: {},
      apps: [],
      repoUrl: 'https://git.example.com/platform/fleet.git',
      branch: 'main',
    },
  });
  await stream.next(20_000);
  let seq = 0n;
  return {
    cluster,
    stream,
    async report(...bodies) {
      for (const b of bodies) stream.send(++seq, b);
      const last = seq;
      for (;;) {
        const m = await stream.next(30_000);
        if (m.body?.$case === 'ack' && m.body.value.agentSeq >= last) return;
      }
    },
  };
}

export const REV = (c: string) => c.repeat(40);

const SYNC_OF = {
  synced: SyncStatus.SYNC_STATUS_SYNCED,
  'out-of-sync': SyncStatus.SYNC_STATUS_OUT_OF_SYNC,
  syncing: SyncStatus.SYNC_STATUS_SYNCING,
  failed: SyncStatus.SYNC_STATUS_FAILED,
} as const;
const HEALTH_OF = {
  healthy: HealthStatus.HEALTH_STATUS_HEALTHY,
  progressing: HealthStatus.HEALTH_STATUS_PROGRESSING,
  degraded: HealthStatus.HEALTH_STATUS_DEGRADED,
  missing: HealthStatus.HEALTH_STATUS_MISSING,
} as const;

/** An AppStatus report. */
export function appStatus(o: {
  app: string;
  revision?: string;
  sync?: keyof typeof SYNC_OF;
  health?: keyof typeof HEALTH_OF;
  healthMessage?: string;
  drift?: number;
  manual?: boolean;
  planDigest?: string;
  plan?: {
    group?: string;
    version?: string;
    kind: string;
    namespace: string;
    name: string;
    diff: { path: string; before: string; after: string }[];
  }[];
  message?: string;
}): AgentMessageBody {
  return {
    $case: 'appStatus',
    value: {
      app: o.app,
      revision: o.revision ?? REV('a'),
      syncStatus: SYNC_OF[o.sync ?? 'synced'],
      health: HEALTH_OF[o.health ?? 'healthy'],
      healthMessage: o.healthMessage ?? '',
      driftCount: o.drift ?? 0,
      planDigest: o.planDigest ?? '',
      pendingPlan: (o.plan ?? []).map((p) => ({
        object: {
          group: p.group ?? 'apps',
          version: p.version ?? 'v1',
          kind: p.kind,
          namespace: p.namespace,
          name: p.name,
        },
        action: ChangeAction.CHANGE_ACTION_UPDATE,
        wave: 0,
        diff: p.diff.map((d) => ({ path: d.path, beforeJson: d.before, afterJson: d.after })),
      })),
      message: o.message ?? '',
      lastSyncUnixMs: BigInt(Date.now() - 90_000),
      syncMode: o.manual ? SyncMode.SYNC_MODE_MANUAL : SyncMode.SYNC_MODE_AUTO,
    },
  };
}

/** A DriftReport of one Deployment field. */
export function driftReport(o: {
  id: string;
  app: string;
  namespace: string;
  name: string;
  fields: { path: string; desired: string; live: string }[];
  changedBy: string;
  healed?: boolean;
  kind?: string;
}): AgentMessageBody {
  return {
    $case: 'driftReport',
    value: {
      driftId: o.id,
      app: o.app,
      object: {
        group: 'apps',
        version: 'v1',
        kind: o.kind ?? 'Deployment',
        namespace: o.namespace,
        name: o.name,
      },
      type: DriftType.DRIFT_TYPE_MODIFIED,
      fields: o.fields.map((f) => ({ path: f.path, desiredJson: f.desired, liveJson: f.live })),
      changedBy: o.changedBy,
      detectedUnixMs: BigInt(Date.now() - 60_000),
      healed: o.healed ?? false,
      healedUnixMs: o.healed ? BigInt(Date.now() - 59_500) : 0n,
      message: '',
      lastSyncTraceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    },
  };
}

/** A SyncResult with per-step durations. */
export function syncResult(o: {
  id: string;
  app: string;
  revision: string;
  agoMs: number;
  failed?: string;
  traceId: string;
}): AgentMessageBody {
  const steps = [
    { name: 'fetch', durationMs: 140 },
    { name: 'render', durationMs: 85 },
    { name: 'guard', durationMs: 6 },
    { name: 'plan', durationMs: 210 },
    { name: 'apply/wave-0', durationMs: 380 },
    { name: 'health', durationMs: 1240 },
  ];
  const done = o.failed ? steps.slice(0, 4) : steps;
  const total = done.reduce((n, s) => n + s.durationMs, 0);
  const started = Date.now() - o.agoMs;
  return {
    $case: 'syncResult',
    value: {
      syncId: o.id,
      app: o.app,
      revision: o.revision,
      result: o.failed ? SyncOutcome.SYNC_OUTCOME_FAILED : SyncOutcome.SYNC_OUTCOME_SUCCEEDED,
      error: o.failed ?? '',
      planDigest: 'sha256:' + o.id,
      objects: [],
      steps: done,
      traceId: o.traceId,
      startedUnixMs: BigInt(started),
      finishedUnixMs: BigInt(started + total),
      health: HealthStatus.HEALTH_STATUS_HEALTHY,
      retryable: false,
      approvalId: '',
    },
  };
}

/** A temp folder for a browser profile or downloads. */
export const tempDir = (kind: string): string => mkdtempSync(join(tmpdir(), `driftless-${kind}-`));
