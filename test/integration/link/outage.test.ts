/**
 * The hub survives its dependencies' faults (issue: "the hub dies on a dependency's fault"):
 * PostgreSQL connections cut while the hub ingests (what a PostgreSQL restart does to its
 * clients: "Connection terminated unexpectedly"), PostgreSQL hanging, nats-server killed.
 * The hub stays up, answers 503 on /readyz and on writes it cannot do, and recovers by itself
 * with nothing reported lost. Real PostgreSQL, nats-server and hub process.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startPostgres, type PostgresServer } from '@driftless/test';
import { api, startHub, waitFor, type HubProcess } from './helpers.ts';
import {
  enrollmentToken,
  startLinkAgent,
  startRestartableNats,
  storedSyncIds,
  type LinkAgent,
  type RestartableNats,
} from './link-fixtures.ts';

const HUB_BIN = path.resolve(import.meta.dirname, '../../../hub/bin/driftless-hub.ts');

/** The postmaster and every process it started (backends), by pid. */
function postgresPids(postmaster: number): number[] {
  const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(postmaster)], {
    encoding: 'utf8',
  })
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0);
  return [postmaster, ...children];
}

describe('the hub survives its dependencies’ faults', { timeout: 300_000 }, () => {
  let postgres: PostgresServer;
  let nats: RestartableNats;
  let hub: HubProcess;
  let admin: string;
  let agent: LinkAgent;
  const dirs: string[] = [];
  const readyz = async () => (await fetch(`${hub.http}/readyz`)).status;
  const cutConnections = async () => {
    const c = new pg.Client({ connectionString: postgres.connectionString });
    await c.connect();
    await c.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'",
    );
    await c.end();
  };

  before(async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'driftless-outage-hub-'));
    dirs.push(dataDir);
    const config = execFileSync(process.execPath, [HUB_BIN, 'nats-config', '--data-dir', dataDir], {
      encoding: 'utf8',
    });
    [postgres, nats] = await Promise.all([startPostgres(), startRestartableNats(config)]);
    hub = await startHub({
      dataDir,
      args: [
        '--store',
        'postgres',
        '--database-url',
        postgres.connectionString,
        '--nats-url',
        nats.url,
      ],
    });
    admin = hub.bootstrapToken!;
    const workDir = await mkdtemp(path.join(os.tmpdir(), 'driftless-outage-agent-'));
    dirs.push(workDir);
    agent = startLinkAgent({
      hub,
      cluster: 'edge',
      workDir,
      token: await enrollmentToken(hub, admin, 'edge'),
    });
    await agent.waitState('connected');
  });
  after(async () => {
    await agent?.kill();
    await hub?.stop();
    await Promise.all([postgres?.stop(), nats?.stop()]);
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('PostgreSQL connections cut again and again while the hub ingests: it stays up, nothing is lost', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `cut-${i}`);
    for (const [i, id] of ids.entries()) {
      agent.send(`sync ${id}`);
      if (i % 8 === 4) await cutConnections();
    }
    await waitFor(
      'every report stored',
      async () => {
        const s = await storedSyncIds(hub, admin, 'edge');
        return ids.every((id) => s.has(id)) ? true : undefined;
      },
      90_000,
    );
    assert.equal(hub.proc.exitCode, null, `the hub is running: ${hub.stderr().slice(-2000)}`);
    assert.equal(await readyz(), 200);
  });

  it('PostgreSQL not answering: /readyz and writes answer 503, and the hub recovers by itself', async () => {
    await cutConnections(); // the pool's idle connections go, so new ones must be opened
    const pids = postgresPids(postgres.process.serverPid()!);
    const signal = (sig: NodeJS.Signals) => {
      for (const pid of pids)
        try {
          process.kill(pid, sig);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err; // a backend that ended
        }
    };
    signal('SIGSTOP');
    try {
      await waitFor('/readyz 503', async () => ((await readyz()) === 503 ? true : undefined));
      const write = await api(hub, admin, 'POST', '/api/v1/tokens', {
        cluster: 'later',
        ttl: '1h',
      });
      assert.equal(write.status, 503, JSON.stringify(write.body));
      assert.equal(hub.proc.exitCode, null);
    } finally {
      signal('SIGCONT');
    }
    await waitFor(
      '/readyz 200 again',
      async () => ((await readyz()) === 200 ? true : undefined),
      60_000,
    );
    agent.send('sync after-pg');
    await waitFor('a report after the outage', async () =>
      (await storedSyncIds(hub, admin, 'edge')).has('after-pg') ? true : undefined,
    );
  });

  it('nats-server killed: /readyz answers 503 naming NATS, and turns ready when it is back', async () => {
    await nats.kill();
    const reason = await waitFor('/readyz 503', async () => {
      const r = await fetch(`${hub.http}/readyz`);
      return r.status === 503 ? ((await r.json()) as { reason: string }).reason : undefined;
    });
    assert.match(reason, /nats/);
    assert.equal(hub.proc.exitCode, null);
    await nats.start();
    await waitFor(
      '/readyz 200 again',
      async () => ((await readyz()) === 200 ? true : undefined),
      60_000,
    );
  });
});
