// The hub acceptance suite on a real PostgreSQL from the harness.
import { startPostgres } from '@driftless/test';
import { hubAcceptance } from './acceptance.ts';

const pgServer = await startPostgres();
hubAcceptance('postgres', async () => ({
  url: pgServer.connectionString,
  stop: () => pgServer.stop(),
}));
