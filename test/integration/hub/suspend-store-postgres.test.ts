// The break-glass pause store contract (hub/test/suspend-store-contract.ts) on a real PostgreSQL.
import { after } from 'node:test';
import { startPostgres } from '@driftless/test';
import { openStore } from '../../../hub/src/store/index.ts';
import { suspensionStoreSuite } from '../../../hub/test/suspend-store-contract.ts';

const server = await startPostgres();
after(() => server.stop());
suspensionStoreSuite('postgres', () =>
  openStore({ kind: 'postgres', connectionString: server.connectionString }),
);
