// The store contract (hub/src/store/store.suite.ts) on a real PostgreSQL from the harness.
import { after } from 'node:test';
import { openStore } from '../../../hub/src/store/index.ts';
import { storeSuite } from '../../../hub/src/store/store.suite.ts';
import { maybeStartPostgres } from './helpers.ts';

const server = await maybeStartPostgres();
if (server) {
  after(() => server.stop());
  storeSuite('postgres', () =>
    openStore({ kind: 'postgres', connectionString: server.connectionString }),
  );
} else {
  const { test } = await import('node:test');
  test(
    'store contract: postgres',
    { skip: 'test harness has no startPostgres yet' },
    () => undefined,
  );
}
