import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Set by the bundler (esbuild `define`) in the bundled programs and images;
 * undeclared when Node runs the sources from a checkout.
 */
declare const __DRIFTLESS_VERSION__: string | undefined;
declare const __DRIFTLESS_COMMIT__: string | undefined;

/** The Driftless release a program belongs to, and the Git commit it was built from when known. */
export interface DriftlessVersion {
  /** The release version (the root package.json's `version`), e.g. `0.1.0`. */
  readonly version: string;
  /** The full Git commit hash, or undefined when neither the build nor a checkout says. */
  readonly commit?: string;
}

/** What a checkout without a readable root package.json reports. */
const UNKNOWN_VERSION = '0.0.0-unknown';

let cached: DriftlessVersion | undefined;

/**
 * The version of this Driftless build: the values the bundler defined, or,
 * running from a checkout, the root package.json's version and `git rev-parse
 * HEAD` of the checkout (undefined when git or the repository is missing).
 * Computed once per process; never throws.
 */
export function driftlessVersion(): DriftlessVersion {
  cached ??= bundledVersion() ?? checkoutVersion();
  return cached;
}

/**
 * Only the release version, e.g. `0.1.0`: without the commit, so it never runs
 * git. For what every process computes at start (the agent's Hello and
 * User-Agent, the hub's User-Agent). Never throws.
 */
export function releaseVersion(): string {
  if (cached) return cached.version;
  if (typeof __DRIFTLESS_VERSION__ === 'string') return __DRIFTLESS_VERSION__;
  return readRootVersion(new URL('package.json', REPO_ROOT)) ?? UNKNOWN_VERSION;
}

/** `0.1.0 (commit 0123456789ab)`, or just the version when the commit is unknown. */
export function formatVersion(v: DriftlessVersion = driftlessVersion()): string {
  return v.commit ? `${v.version} (commit ${v.commit.slice(0, 12)})` : v.version;
}

function bundledVersion(): DriftlessVersion | undefined {
  if (typeof __DRIFTLESS_VERSION__ !== 'string') return undefined;
  const commit = typeof __DRIFTLESS_COMMIT__ === 'string' ? __DRIFTLESS_COMMIT__ : '';
  return commit ? { version: __DRIFTLESS_VERSION__, commit } : { version: __DRIFTLESS_VERSION__ };
}

/** common/src/version.ts -> the repository root, when running from a checkout. */
const REPO_ROOT = new URL('../../', import.meta.url);

function checkoutVersion(): DriftlessVersion {
  const version = readRootVersion(new URL('package.json', REPO_ROOT)) ?? UNKNOWN_VERSION;
  const commit = readCommit(REPO_ROOT);
  return commit ? { version, commit } : { version };
}

function readRootVersion(file: URL): string | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown };
    return typeof parsed.version === 'string' ? parsed.version : undefined;
  } catch {
    return undefined;
  }
}

function readCommit(root: URL): string | undefined {
  try {
    const out = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5_000,
    }).trim();
    return /^[0-9a-f]{40,64}$/.test(out) ? out : undefined;
  } catch {
    return undefined;
  }
}
