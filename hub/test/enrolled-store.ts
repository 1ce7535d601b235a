import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../src/store/index.ts';

/**
 * A fresh SQLite store (in a new temporary directory) holding one enrolled `cluster`, as the
 * link's ingest tests start from. Close it when done.
 */
export async function storeWithCluster(cluster: string): Promise<Store> {
  const store = await openStore({
    kind: 'sqlite',
    path: join(mkdtempSync(join(tmpdir(), 'driftless-link-')), 'hub.db'),
  });
  await enrollCluster(store, cluster);
  return store;
}

/** Enrolls `cluster` (no labels) in `store` through a single-use token, as an agent would. */
export async function enrollCluster(store: Store, cluster: string): Promise<void> {
  const now = Date.now();
  const tokenId = `et_${cluster}`;
  await store.createEnrollmentToken(
    {
      id: tokenId,
      secretHash: 'h'.repeat(64),
      cluster,
      labels: {},
      createdMs: now,
      createdBy: 'test',
      expiresMs: now + 60_000,
      maxUses: 1,
      uses: 0,
      revokedMs: 0,
      lastUsedMs: 0,
    },
    { actor: 'test', action: 'token.create', target: `token/${tokenId}` },
  );
  await store.completeEnrollment({
    tokenId,
    cluster,
    labels: {},
    adminLabels: {},
    agentVersion: '1',
    certificate: { serial: `s-${cluster}`, issuedMs: now, notAfterMs: now + 60_000 },
    nowMs: now,
  });
}
