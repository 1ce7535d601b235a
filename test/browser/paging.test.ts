// The overview of a fleet larger than the first page of clusters: the dashboard paints the
// first rows while the rest of the clusters list is still being read, says it is loading, and
// counts every cluster and app once the last page is in. The fleet (700 clusters × 2 apps) is
// written straight into the hub's store before the hub starts; the second page of clusters is
// held in the browser until the first paint has been checked.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import type { Browser, Page, Route } from 'playwright-core';
import { migrate } from '../../hub/src/store/migrations.ts';
import { openSqliteDb } from '../../hub/src/store/sqlite.ts';
import { fleetClusterName, seedFleet } from '../bench/lib/fleet-seed.ts';
import { startHubProcess, type HubProcess } from '../integration/hub/helpers.ts';
import { ensureDashboardBuilt, launchBrowser, newPage, signIn, tempDir } from './fleet.ts';

const CLUSTERS = 700;
const APPS = 2;

describe(`dashboard pages the clusters list (${CLUSTERS} clusters)`, { timeout: 120_000 }, () => {
  let hub: HubProcess;
  let browser: Browser;
  let page: Page;

  before(async () => {
    const dataDir = tempDir('paging');
    const db = openSqliteDb({ path: join(dataDir, 'hub.db') });
    await migrate(db);
    await seedFleet(db, { clusters: CLUSTERS, apps: APPS, drifts: 0 });
    await db.close();
    ensureDashboardBuilt();
    hub = await startHubProcess({ dataDir });
    browser = await launchBrowser();
    page = (await newPage(browser)).page;
  });

  after(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('answers the whole list without limit, and pages with limit and after', async () => {
    const get = async (path: string) => {
      const res = await fetch(hub.http + path, {
        headers: { authorization: `Bearer ${hub.bootstrapToken!}` },
      });
      assert.equal(res.status, 200, path);
      return (await res.json()) as { items: { name: string }[]; next?: string };
    };
    const whole = await get('/api/v1/clusters');
    assert.equal(whole.items.length, CLUSTERS);
    assert.equal(whole.next, undefined);
    const names: string[] = [];
    let next: string | undefined;
    do {
      const p = await get(`/api/v1/clusters?limit=300${next ? `&after=${next}` : ''}`);
      names.push(...p.items.map((c) => c.name));
      next = p.next;
    } while (next);
    assert.deepEqual(
      names,
      whole.items.map((c) => c.name),
    );
    const bad = await fetch(hub.http + '/api/v1/clusters?limit=0', {
      headers: { authorization: `Bearer ${hub.bootstrapToken!}` },
    });
    assert.equal(bad.status, 400);
  });

  it('shows the first rows, says it is loading, then counts every cluster', async () => {
    // Later pages of clusters wait until the first paint has been looked at.
    let release!: () => void;
    const released = new Promise<void>((ok) => (release = ok));
    let held = 0;
    await page.route(
      (url) => url.pathname === '/api/v1/clusters' && url.searchParams.has('after'),
      async (route: Route) => {
        held++;
        await released;
        await route.continue();
      },
    );
    await signIn(page, hub, hub.bootstrapToken!);
    await page.locator(`tr[data-cluster="${fleetClusterName(0)}"]`).waitFor();
    const head = page.locator('.page-head .sub');
    await head.getByText(/ · loading…$/).waitFor();
    assert.match(await head.innerText(), /^200 clusters · 400 apps · loading…$/);
    assert.equal(
      await page.locator(`tr[data-cluster="${fleetClusterName(CLUSTERS - 1)}"]`).count(),
      0,
    );
    assert.ok(held >= 1, 'the second page of clusters was asked for');

    release();
    await head
      .getByText(`${CLUSTERS} clusters · ${CLUSTERS * APPS} apps`, { exact: true })
      .waitFor();
    await page
      .locator('.matrix-scroll')
      .evaluate((el: { scrollTop: number; scrollHeight: number }) => {
        el.scrollTop = el.scrollHeight;
      });
    await page.locator(`tr[data-cluster="${fleetClusterName(CLUSTERS - 1)}"]`).waitFor();
  });
});
