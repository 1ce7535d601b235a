// The notification store contract (hub/test/notify-store-contract.ts) on a real PostgreSQL:
// two stores on one database stand for two hub replicas.
import { after } from 'node:test';
import { startPostgres } from '@driftless/test';
import { openStore } from '../../../hub/src/store/index.ts';
import { notificationStoreSuite } from '../../../hub/test/notify-store-contract.ts';

const server = await startPostgres();
after(() => server.stop());
notificationStoreSuite(
  'postgres',
  () => openStore({ kind: 'postgres', connectionString: server.connectionString }),
  { replicas: true },
);
