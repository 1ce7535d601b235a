// The store contract (hub/test/store-contract.ts) on a real PostgreSQL from the harness.
import { after } from 'node:test';
import { startPostgres } from '@driftless/test';
import { openStore } from '../../../hub/src/store/index.ts';
import { storeSuite } from '../../../hub/test/store-contract.ts';

const server = await startPostgres();
after(() => server.stop());
storeSuite('postgres', () =>
  openStore({ kind: 'postgres', connectionString: server.connectionString }),
);
