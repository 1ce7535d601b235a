import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@driftless/common';
import { EventBus } from '../events.ts';
import type { AppRecord, Store } from '../store/index.ts';
import { storeWithCluster } from '../../test/enrolled-store.ts';
import { CommitStatusEngine } from './engine.ts';

const REPO = 'https://git.example.com/acme/fleet.git';
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const log = createLogger({ name: 'test', level: 'silent' });

/** Enrolls `name` (with `labels`), following {@link REPO}. */
async function enroll(store: Store, name: string, labels: Record<string, string>) {
  const now = Date.now();
  await store.createEnrollmentToken(
    {
      id: `et_${name}`,
      secretHash: 'h'.repeat(64),
      cluster: name,
      labels,
      createdMs: now,
      createdBy: 'test',
      expiresMs: now + 60_000,
      maxUses: 1,
      uses: 0,
      revokedMs: 0,
      lastUsedMs: 0,
    },
    { actor: 'test', action: 'token.create', target: `token/et_${name}` },
  );
  await store.completeEnrollment({
    tokenId: `et_${name}`,
    cluster: name,
    labels,
    adminLabels: labels,
    agentVersion: '1',
    certificate: { serial: `s-${name}`, issuedMs: now, notAfterMs: now + 60_000 },
    nowMs: now,
  });
  await store.recordHello(
    name,
    { agentVersion: '1', labels, apps: ['web'], repoUrl: REPO, branch: 'main' },
    now,
  );
}

const seqs = new Map<string, number>();
/** Stores an AppStatus report of `web` on `cluster`, as the link's ingest does. */
async function report(store: Store, cluster: string, app: Partial<AppRecord>) {
  const seq = (seqs.get(cluster) ?? 0) + 1;
  seqs.set(cluster, seq);
  await store.ingest(
    cluster,
    seq,
    {
      kind: 'app',
      app: {
        app: 'web',
        revision: A,
        syncStatus: 'synced',
        syncMode: 'auto',
        health: 'healthy',
        healthMessage: '',
        driftCount: 0,
        planDigest: '',
        pendingPlan: [],
        message: '',
        lastSyncMs: 0,
        ...app,
      },
    },
    Date.now() + seq,
  );
}

describe('commit-status engine over the store', () => {
  let store: Store;
  let engine: CommitStatusEngine;
  const statuses = async (context: string) =>
    Object.fromEntries((await store.listCommitStatuses({ context })).map((s) => [s.sha, s]));

  before(async () => {
    store = await storeWithCluster('lab');
    await enroll(store, 'eu', { env: 'prod' });
    await enroll(store, 'us', { env: 'prod' });
    await enroll(store, 'dev', {});
    const now = Date.now();
    await store.putStatusHost(
      {
        name: 'gh',
        kind: 'github',
        match: 'git.example.com',
        apiUrl: 'https://git.example.com/api/v3',
        tokenSealed: 'sealed',
        createdMs: now,
        createdBy: 'test',
        updatedMs: now,
      },
      { actor: 'test', action: 'commit-status-host.create', target: 'commit-status-host/gh' },
    );
    engine = new CommitStatusEngine({
      store,
      events: new EventBus(),
      log,
      labelKey: 'env',
      dashboardUrl: 'https://hub.example.com/',
    });
  });
  after(() => store?.close());

  it('aggregates the clusters of one label value into one context, success only when all are done', async () => {
    await report(store, 'eu', { revision: A });
    await report(store, 'us', { revision: A, syncStatus: 'syncing', health: 'progressing' });
    await engine.evaluateCluster('eu');
    let s = await statuses('driftless/env:prod');
    assert.equal(s[A]?.state, 'pending');
    assert.equal(s[A]?.repoPath, 'acme/fleet');
    assert.equal(s[A]?.host, 'gh');
    assert.equal(s[A]?.targetUrl, 'https://hub.example.com/#/?selector=env%3Dprod');

    await report(store, 'us', { revision: A });
    await engine.evaluateCluster('us');
    s = await statuses('driftless/env:prod');
    assert.equal(s[A]?.state, 'success');
    assert.equal(s[A]?.description, '2 app(s) synced and healthy on 2 clusters');
  });

  it('fails the shared context naming the cluster; the landed commit keeps its success', async () => {
    await report(store, 'eu', { revision: B, syncStatus: 'syncing' });
    await report(store, 'us', { revision: B, syncStatus: 'failed', message: 'apply: denied' });
    await engine.evaluateCluster('us');
    const s = await statuses('driftless/env:prod');
    assert.equal(s[B]?.state, 'failure');
    assert.equal(s[B]?.description, 'us/web failed: apply: denied');
    assert.equal(s[A]?.state, 'success', 'the landed commit keeps its success');
  });

  it('gives a cluster without the label its own context', async () => {
    await report(store, 'dev', { revision: A, syncStatus: 'out-of-sync', syncMode: 'manual' });
    await engine.evaluateCluster('dev');
    assert.equal((await statuses('driftless/dev'))[A]?.description, 'waiting for approval: web');
    await report(store, 'dev', { revision: B, syncStatus: 'out-of-sync', syncMode: 'manual' });
    await engine.evaluateCluster('dev');
    const s = await statuses('driftless/dev');
    assert.equal(s[A]?.state, 'superseded');
    assert.equal(s[A]?.supersededBy, B);
    assert.equal(s[B]?.state, 'pending');
    assert.equal(s[A]?.targetUrl, 'https://hub.example.com/#/clusters/dev');
  });

  it('posts nothing for a repository no host matches', async () => {
    await store.recordHello(
      'lab',
      {
        agentVersion: '1',
        labels: {},
        apps: [],
        repoUrl: 'https://elsewhere.test/a/b.git',
        branch: '',
      },
      Date.now(),
    );
    await report(store, 'lab', { revision: A });
    assert.deepEqual(await engine.evaluateCluster('lab'), []);
    assert.deepEqual(await store.listCommitStatuses({ context: 'driftless/lab' }), []);
  });
});
