/**
 * A simulated fleet kept between benchmark runs: the hub's data directory (its CA and SQLite
 * store) and every agent's key and certificate, each issued by that hub's real Enroll path in
 * the run that made the cache. Enrolling 10,000 agents takes minutes; connecting them is what
 * later runs measure. A run of more agents than the cache holds enrolls afresh.
 *
 * A fleet on PostgreSQL keeps its database as a pg_dump (`postgres.dump`) next to the data
 * directory, restored into the run's fresh server; a cache is of one store only.
 */
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * One agent's identity: its private key and hub-signed client certificate (PEM), and for a
 * fleet enrolled for NATS its NATS user seed and hub-signed user JWT.
 */
export interface FleetIdentity {
  keyPem: string;
  certPem: string;
  nats?: { seed: string; jwt: string };
}

/** The part of a PostgreSQL server a cached fleet needs (test/harness `PostgresServer`). */
export interface FleetDatabase {
  dump(file: string): Promise<void>;
  restore(file: string): Promise<void>;
}

/** A cached fleet, ready to start the hub on a copy of its data directory. */
export interface CachedFleet {
  /** A fresh copy of the cached hub data directory (runs may write to it). */
  dataDir: string;
  /** The admin API token of that hub. */
  admin: string;
  identities: FleetIdentity[];
}

const DUMP = 'postgres.dump';

/**
 * Reads the fleet cached in `dir`, its first `agents` agents when it holds more (the others stay
 * enrolled but do not connect); undefined when there is none that large. With `postgres` (a
 * fresh server, no tables yet) the cached database is restored into it; a cache of the other
 * store is an error, not a miss, so a mistyped directory is not overwritten by a new fleet.
 */
export async function loadFleet(
  dir: string,
  agents: number,
  postgres?: FleetDatabase,
): Promise<CachedFleet | undefined> {
  const file = join(dir, 'fleet.json');
  if (!existsSync(file)) return undefined;
  const saved = JSON.parse(await readFile(file, 'utf8')) as {
    admin: string;
    identities: FleetIdentity[];
  };
  const hasDump = existsSync(join(dir, DUMP));
  if (hasDump !== (postgres !== undefined))
    throw new Error(
      `fleet cache ${dir} holds a ${hasDump ? 'PostgreSQL' : 'SQLite'} fleet; this run's store is ${postgres ? 'PostgreSQL' : 'SQLite'}: use another --fleet-cache`,
    );
  if (saved.identities.length < agents) return undefined;
  const dataDir = join(dir, 'run');
  await rm(dataDir, { recursive: true, force: true });
  await cp(join(dir, 'hub'), dataDir, { recursive: true });
  await postgres?.restore(join(dir, DUMP));
  return { dataDir, admin: saved.admin, identities: saved.identities.slice(0, agents) };
}

/**
 * Saves a freshly enrolled fleet and a copy of its hub's data directory to `dir`, with
 * `postgres` its database too (pg_dump reads one snapshot, so the hub may go on running).
 */
export async function saveFleet(
  dir: string,
  fleet: { dataDir: string; admin: string; identities: FleetIdentity[] },
  postgres?: FleetDatabase,
): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await cp(fleet.dataDir, join(dir, 'hub'), { recursive: true });
  await postgres?.dump(join(dir, DUMP));
  // fleet.json last: a cache interrupted while saving has none and is made again.
  await writeFile(
    join(dir, 'fleet.json'),
    JSON.stringify({ admin: fleet.admin, identities: fleet.identities }),
  );
}
