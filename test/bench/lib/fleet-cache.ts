/**
 * A simulated fleet kept between benchmark runs: the hub's data directory (its CA and SQLite
 * store) and every agent's key and certificate, each issued by that hub's real Enroll path in
 * the run that made the cache. Enrolling 10,000 agents takes minutes; connecting them is what
 * later runs measure. A run of more agents than the cache holds enrolls afresh.
 */
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** One agent's identity: its private key and hub-signed client certificate (PEM). */
export interface FleetIdentity {
  keyPem: string;
  certPem: string;
}

/** A cached fleet, ready to start the hub on a copy of its data directory. */
export interface CachedFleet {
  /** A fresh copy of the cached hub data directory (runs may write to it). */
  dataDir: string;
  /** The admin API token of that hub. */
  admin: string;
  identities: FleetIdentity[];
}

/**
 * Reads the fleet cached in `dir`, its first `agents` agents when it holds more (the others stay
 * enrolled but do not connect); undefined when there is none that large.
 */
export async function loadFleet(dir: string, agents: number): Promise<CachedFleet | undefined> {
  const file = join(dir, 'fleet.json');
  if (!existsSync(file)) return undefined;
  const saved = JSON.parse(await readFile(file, 'utf8')) as {
    admin: string;
    identities: FleetIdentity[];
  };
  if (saved.identities.length < agents) return undefined;
  const dataDir = join(dir, 'run');
  await rm(dataDir, { recursive: true, force: true });
  await cp(join(dir, 'hub'), dataDir, { recursive: true });
  return { dataDir, admin: saved.admin, identities: saved.identities.slice(0, agents) };
}

/** Saves a freshly enrolled fleet and a copy of its hub's data directory to `dir`. */
export async function saveFleet(
  dir: string,
  fleet: { dataDir: string; admin: string; identities: FleetIdentity[] },
): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await cp(fleet.dataDir, join(dir, 'hub'), { recursive: true });
  await writeFile(
    join(dir, 'fleet.json'),
    JSON.stringify({ admin: fleet.admin, identities: fleet.identities }),
  );
}
