// Cluster paging (hub/test/cluster-page-contract.ts) on a real PostgreSQL from the harness.
import { after } from 'node:test';
import { startPostgres } from '@driftless/test';
import { openPostgresDb } from '../../../hub/src/store/postgres.ts';
import { clusterPageSuite } from '../../../hub/test/cluster-page-contract.ts';

const server = await startPostgres();
after(() => server.stop());
clusterPageSuite('postgres', async () =>
  openPostgresDb({ connectionString: server.connectionString }),
);
