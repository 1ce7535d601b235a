// Cluster paging (hub/test/cluster-page-contract.ts) on SQLite.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { clusterPageSuite } from '../../test/cluster-page-contract.ts';
import { openSqliteDb } from './sqlite.ts';

const dir = mkdtempSync(join(tmpdir(), 'driftless-cluster-page-'));
after(() => rmSync(dir, { recursive: true, force: true }));
clusterPageSuite('sqlite', async () => openSqliteDb({ path: join(dir, 'hub.db') }));
