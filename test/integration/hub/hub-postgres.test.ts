import { hubAcceptance } from './acceptance.ts';
import { maybeStartPostgres } from './helpers.ts';

// Runs once the harness has startPostgres; until then the suite reports itself skipped.
const pgServer = await maybeStartPostgres().catch((err: unknown) => {
  throw new Error(`start PostgreSQL for the hub tests: ${String(err)}`);
});
if (pgServer) {
  hubAcceptance('postgres', async () => ({
    url: pgServer.connectionString,
    stop: () => pgServer.stop(),
  }));
} else {
  const { test } = await import('node:test');
  test(
    'hub acceptance (postgres)',
    { skip: 'test harness has no startPostgres yet' },
    () => undefined,
  );
}
