import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DriftlessError, errorMessage, type Clock, type Logger } from '@driftless/common';
import type { ClusterConfig } from '../model.ts';
import { CLUSTER_CONFIG_FILE, ConfigError, parseClusterConfig } from '../config/index.ts';
import { PathNotFoundError, resolveInCheckout } from '../source/index.ts';
import type { ConfigStatusReport, Reporter } from '../report/index.ts';

/** The config in force, and why the newest one is not, when it is not. */
export interface LoadedConfig {
  /** The last good config and its commit; undefined when none was ever valid. */
  current?: { config: ClusterConfig; revision: string };
  /** Set while the config at the newest commit is invalid. */
  invalid?: { revision: string; message: string; appliedRevision: string };
}

/** Options of {@link ConfigLoader}. */
export interface ConfigLoaderOptions {
  /** Folder of the repository holding `driftless.yaml`, e.g. `clusters/dev`. */
  clusterPath: string;
  defaultHealthTimeoutMs: number;
  reporter: Reporter;
  logger: Logger;
  clock: Clock;
  /**
   * The apps the cluster holds (their inventories), asked when no config was
   * read since the start, so a config that drops every one of them is refused
   * after a restart too. Default: none known.
   */
  heldApps?: () => Promise<string[]>;
}

/** `driftless.yaml` could not be read at a commit (missing, unreadable). */
export class ConfigReadError extends DriftlessError {
  override name = 'ConfigReadError';
}

/**
 * A valid-looking `driftless.yaml` that removes every app of the config in
 * force (e.g. each one renamed) without `spec.allowEmpty: true`. Terminal: it
 * is refused like any invalid file, so nothing is pruned.
 */
export class AllAppsRemovedError extends ConfigError {
  override name = 'AllAppsRemovedError';
}

/**
 * Reads `driftless.yaml` once per commit and keeps the last good one. Its
 * state at each new commit is reported (to the logs, Kubernetes Events and
 * the hub), a broken file with file and line.
 */
export class ConfigLoader {
  readonly #o: ConfigLoaderOptions;
  #current: LoadedConfig['current'];
  #last: { revision: string; result: LoadedConfig } | undefined;

  constructor(options: ConfigLoaderOptions) {
    this.#o = options;
  }

  /** The config for `checkout`, read only when its revision is new. */
  /** The file read, e.g. `clusters/dev/driftless.yaml`. */
  get file(): string {
    return path.posix.join(this.#o.clusterPath, CLUSTER_CONFIG_FILE);
  }

  async load(checkout: { dir: string; revision: string }): Promise<LoadedConfig> {
    if (this.#last?.revision === checkout.revision) return this.#last.result;
    const file = this.file;
    let result: LoadedConfig;
    let report: ConfigStatusReport;
    const base = { revision: checkout.revision, file, checkedAt: this.#o.clock.now() };
    try {
      const text = await this.#read(checkout, file);
      const config = parseClusterConfig(text, file, {
        defaultHealthTimeoutMs: this.#o.defaultHealthTimeoutMs,
      });
      await this.#refuseDroppingEveryApp(config, text, file);
      this.#current = { config, revision: checkout.revision };
      result = { current: this.#current };
      report = {
        ...base,
        valid: true,
        error: '',
        line: 0,
        appliedRevision: checkout.revision,
        apps: config.apps.map((a) => a.name),
      };
    } catch (err) {
      // A read error's own message is the whole story; its cause (with the agent's paths) is debug.
      const message = err instanceof ConfigReadError ? err.message : errorMessage(err);
      if (err instanceof ConfigReadError)
        this.#o.logger.debug({ file, err: errorMessage(err) }, `cannot read ${file}`);
      const appliedRevision = this.#current?.revision ?? '';
      result = {
        ...(this.#current ? { current: this.#current } : {}),
        invalid: { revision: checkout.revision, message, appliedRevision },
      };
      const line = err instanceof ConfigError ? (err.problems[0]?.line ?? 0) : 0;
      report = { ...base, valid: false, error: message, line, appliedRevision };
    }
    this.#last = { revision: checkout.revision, result };
    this.#o.reporter.configStatus?.(report);
    return result;
  }

  /** Throws {@link AllAppsRemovedError} when `config` keeps none of the apps in force. */
  async #refuseDroppingEveryApp(config: ClusterConfig, text: string, file: string): Promise<void> {
    if (config.allowEmpty) return;
    const before = this.#current
      ? this.#current.config.apps.map((a) => a.name)
      : ((await this.#o.heldApps?.()) ?? []);
    if (before.length === 0) return;
    const kept = new Set(config.apps.map((a) => a.name));
    if (before.some((name) => kept.has(name))) return;
    const line = text.split('\n').findIndex((l) => /^\s*apps\s*:/.test(l)) + 1;
    const since = this.#current ? ` (the config of ${this.#current.revision.slice(0, 7)})` : '';
    throw new AllAppsRemovedError(file, [
      {
        file,
        line,
        column: 1,
        path: 'spec.apps',
        message: `removes every app in force${since}: ${before.join(', ')}; that would remove them all (and prune those with prune: true). Keep at least one, or set spec.allowEmpty: true to allow it`,
      },
    ]);
  }

  async #read(checkout: { dir: string; revision: string }, file: string): Promise<string> {
    try {
      return await readFile(await resolveInCheckout(checkout, file), 'utf8');
    } catch (err) {
      const at = checkout.revision.slice(0, 7);
      const missing =
        err instanceof PathNotFoundError || (err as NodeJS.ErrnoException).code === 'ENOENT';
      // Never the checkout's absolute path: it is the agent's, not the repository's.
      const why = missing ? 'not found' : `cannot be read (${errnoCode(err) ?? 'error'})`;
      throw new ConfigReadError(`${file} ${why} at ${at}`, { cause: err });
    }
  }
}

/** The errno code (`EACCES`, `EISDIR`, …) of a file-system error, or of its cause. */
function errnoCode(err: unknown): string | undefined {
  for (let e = err, i = 0; e instanceof Error && i < 8; i++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
    e = e.cause;
  }
  return undefined;
}
