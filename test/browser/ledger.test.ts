/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment --
   API answers are JSON checked by the assertions. */
// The drift ledger page in Chromium (playwright-core) against the real hub process, fed two
// weeks of drift by simulated agents over gRPC: the totals, the three charts, the tables, the
// manager filter and the CSV download. Saves the screenshot docs/dashboard.md shows.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import {
  DriftChangeTimeSource,
  DriftClosedBy,
  DriftType,
  type AgentMessageBody,
} from '@driftless/proto';
import { waitFor } from '@driftless/test';
import { api, type HubProcess } from '../integration/hub/helpers.ts';
import {
  launchBrowser,
  newPage,
  screenshot,
  signIn,
  startAgent,
  startDashboardHub,
  type SimAgent,
} from './fleet.ts';

const DAY = 86_400_000;
const MANAGERS = ['kubectl-edit', 'kubectl-edit', 'kubectl-patch', 'k9s', 'helm', 'kubectl-edit'];
const FIELDS: [string, string, string][] = [
  ['Deployment', 'web', '.spec.replicas'],
  ['Deployment', 'web', '.spec.template.spec.containers[0].image'],
  ['ConfigMap', 'settings', '.data.LOG_LEVEL'],
  ['Deployment', 'api', '.spec.template.spec.containers[0].resources.limits.memory'],
  ['Service', 'web', '.spec.ports'],
];

/** A deterministic stream of numbers in [0, 1), so every run seeds the same fleet. */
function numbers(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

/** The numeric attribute `name` of every element `l` finds. */
async function numbersOf(l: Locator, name: string): Promise<number[]> {
  return Promise.all((await l.all()).map(async (e) => Number(await e.getAttribute(name))));
}

interface Seeded {
  bodies: AgentMessageBody[];
  episodes: number;
  fights: number;
}

/** Two weeks of drift of one cluster: healed mostly within a second, a few slow, one fight. */
function seedDrift(cluster: string, seed: number, now: number): Seeded {
  const rnd = numbers(seed);
  const bodies: AgentMessageBody[] = [];
  let episodes = 0;
  let fights = 0;
  for (let day = 13; day >= 0; day--) {
    const count = Math.floor(rnd() * 5);
    for (let i = 0; i < count; i++) {
      const [kind, name, path] = FIELDS[Math.floor(rnd() * FIELDS.length)]!;
      const changed = now - day * DAY - Math.floor(rnd() * 20) * 3_600_000 - 3_600_000;
      const detected = changed + 80 + Math.floor(rnd() * 900);
      const slow = rnd() < 0.15;
      const healed =
        detected + (slow ? 20_000 + Math.floor(rnd() * 40_000) : 120 + Math.floor(rnd() * 1500));
      const fight = day === 3 && i === 0;
      const manager = fight ? 'hpa-controller' : MANAGERS[Math.floor(rnd() * MANAGERS.length)]!;
      const id = `${cluster}-${day}-${i}`;
      const base = {
        driftId: id,
        app: name === 'api' ? 'api' : 'podinfo',
        object: {
          group: kind === 'Deployment' ? 'apps' : '',
          version: 'v1',
          kind,
          namespace: 'podinfo',
          name,
        },
        type: DriftType.DRIFT_TYPE_MODIFIED,
        fields: [{ path, desiredJson: '3', liveJson: '5' }],
        changedBy: manager,
        detectedUnixMs: BigInt(detected),
        changedUnixMs: BigInt(changed),
        changedAtSource: DriftChangeTimeSource.DRIFT_CHANGE_TIME_SOURCE_MANAGED_FIELDS,
        message: '',
        lastSyncTraceId: '',
      };
      bodies.push({
        $case: 'driftReport',
        value: {
          ...base,
          healed: false,
          healedUnixMs: 0n,
          ...(fight ? { fight: { manager, paths: [path], periodMs: 15_000 } } : {}),
        },
      });
      const open = day === 0 && i === count - 1 && !fight;
      if (!open)
        bodies.push({
          $case: 'driftReport',
          value: {
            ...base,
            healed: true,
            healedUnixMs: BigInt(healed),
            closedBy: fight
              ? DriftClosedBy.DRIFT_CLOSED_BY_SYNC
              : DriftClosedBy.DRIFT_CLOSED_BY_HEAL,
          },
        });
      episodes++;
      if (fight) fights++;
    }
  }
  return { bodies, episodes, fights };
}

describe('drift ledger page', { timeout: 150_000 }, () => {
  let hub: HubProcess;
  let admin: string;
  let browser: Browser;
  let page: Page;
  const agents: SimAgent[] = [];
  let episodes = 0;
  let fights = 0;

  before(async () => {
    hub = await startDashboardHub();
    admin = hub.bootstrapToken!;
    const now = Date.now();
    const fleet: [string, Record<string, string>, number][] = [
      ['prod-eu', { env: 'prod', region: 'eu' }, 7],
      ['prod-us', { env: 'prod', region: 'us' }, 11],
      ['staging-eu', { env: 'staging', region: 'eu' }, 5],
    ];
    for (const [name, labels, seed] of fleet) {
      const agent = await startAgent(hub, admin, name, labels);
      agents.push(agent);
      const seeded = seedDrift(name, seed, now);
      await agent.report(...seeded.bodies);
      episodes += seeded.episodes;
      fights += seeded.fights;
    }
    browser = await launchBrowser();
    ({ page } = await newPage(browser));
    await signIn(page, hub, admin);
  });
  after(async () => {
    await browser?.close();
    for (const a of agents) a.stream.close();
    await hub?.stop();
  });

  it('shows the totals, the charts and the tables the API computes', async () => {
    const ledger = (await api(hub, admin, 'GET', '/api/v1/drift/ledger')).body;
    assert.equal(ledger.summary.episodes, episodes, 'every seeded episode is in the window');
    assert.equal(ledger.summary.fights, fights);
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Ledger' })
      .click();
    await page.getByRole('heading', { name: 'Drift ledger' }).waitFor();
    const totals = page.getByTestId('ledger-totals');
    await totals.getByText(String(episodes), { exact: true }).waitFor();
    const totalText = await totals.innerText();
    assert.match(
      totalText,
      new RegExp(`EPISODES\\s+${episodes}\\s+${ledger.summary.episodesPerDay} per day`, 'i'),
    );
    assert.match(totalText, new RegExp(`FIGHTS\\s+${fights}`, 'i'));

    // One stacked bar group per day of the 30-day window, their sum the episodes.
    const days = page.locator('svg[data-chart="episodes"] g[data-day]');
    assert.equal(await days.count(), ledger.days.length);
    const perDay = await numbersOf(days, 'data-episodes');
    assert.equal(
      perDay.reduce((a, b) => a + b, 0),
      episodes,
    );
    assert.deepEqual(
      perDay,
      (ledger.days as { episodes: number }[]).map((d) => d.episodes),
    );
    // The time-to-heal histogram holds every healed episode.
    const heal = page.getByRole('region', { name: 'Time to heal' }).locator('g[data-bar]');
    const healCounts = await numbersOf(heal, 'data-value');
    assert.equal(
      healCounts.reduce((a, b) => a + b, 0),
      ledger.summary.healed,
    );
    // The top managers, most first.
    const managers = page
      .getByRole('region', { name: 'Top drifting field managers' })
      .locator('g[data-bar]');
    assert.equal(await managers.first().getAttribute('data-bar'), ledger.managers[0].manager);
    const rows = page.locator('table[data-table="managers"] tbody tr');
    assert.equal(await rows.count(), ledger.managers.length);
    await page.locator('table[data-table="objects"]').waitFor();
    await screenshot(page, 'ledger.png');
  });

  it('filters by field manager from the chart, and keeps the filter in the URL', async () => {
    const k9s = (await api(hub, admin, 'GET', '/api/v1/drift/ledger?manager=k9s')).body;
    assert.ok(k9s.summary.episodes > 0, 'the seed has k9s drift');
    await page.getByRole('button', { name: 'Show only k9s' }).click();
    await waitFor(
      'the page filtered to k9s',
      async () =>
        (await page.getByLabel('Field manager', { exact: true }).inputValue()) === 'k9s' &&
        (await page.getByTestId('ledger-totals').innerText()).match(
          new RegExp(`EPISODES\\s+${k9s.summary.episodes}\\s`, 'i'),
        ) &&
        // The address follows the filter once the page has rendered it.
        /#\/ledger\?manager=k9s/.test(page.url()),
    );
    await page.getByLabel('Field manager', { exact: true }).fill('');
  });

  it('downloads every episode as CSV', async () => {
    assert.equal(await page.getByLabel('Field manager', { exact: true }).inputValue(), '');
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download CSV' }).click();
    const file = await download;
    assert.match(
      file.suggestedFilename(),
      /^drift-ledger-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv$/,
    );
    const stream = await file.createReadStream();
    let text = '';
    for await (const chunk of stream) text += String(chunk);
    const lines = text.trimEnd().split('\r\n');
    assert.match(lines[0]!, /^cluster,app,object,drift_type,field_manager,fields,/);
    assert.equal(lines.length - 1, episodes);
  });

  it('says what is wrong with a bad selector', async () => {
    await page.getByLabel('Cluster labels').fill('bad key!');
    await page
      .locator('.field-error')
      .getByText('"bad key!" is not key=value, key!=value, key or !key')
      .waitFor();
    await page.getByLabel('Cluster labels').fill('env=staging');
    const staging = (await api(hub, admin, 'GET', '/api/v1/drift/ledger?selector=env%3Dstaging'))
      .body;
    await waitFor('the page filtered to staging', async () =>
      (await page.getByTestId('ledger-totals').innerText()).match(
        new RegExp(`EPISODES\\s+${staging.summary.episodes}\\s`, 'i'),
      ),
    );
  });
});
