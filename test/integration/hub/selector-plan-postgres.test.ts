// The drift list's selector plans (hub/test/drift-selector-contract.ts) on a real PostgreSQL
// from the harness.
import { after } from 'node:test';
import { startPostgres } from '@driftless/test';
import { openPostgresDb } from '../../../hub/src/store/postgres.ts';
import { driftSelectorSuite } from '../../../hub/test/drift-selector-contract.ts';

const server = await startPostgres();
after(() => server.stop());
driftSelectorSuite('postgres', async () =>
  openPostgresDb({ connectionString: server.connectionString }),
);
