import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DriftlessError, errorMessage, type Clock, type Logger } from '@driftless/common';
import type { ClusterConfig } from '../model.ts';
import { CLUSTER_CONFIG_FILE, ConfigError, parseClusterConfig } from '../config/index.ts';
import { resolveInCheckout } from '../source/index.ts';
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
}

/** `driftless.yaml` could not be read at a commit (missing, unreadable). */
export class ConfigReadError extends DriftlessError {
  override name = 'ConfigReadError';
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
  async load(checkout: { dir: string; revision: string }): Promise<LoadedConfig> {
    if (this.#last?.revision === checkout.revision) return this.#last.result;
    const file = path.posix.join(this.#o.clusterPath, CLUSTER_CONFIG_FILE);
    let result: LoadedConfig;
    let report: ConfigStatusReport;
    const base = { revision: checkout.revision, file, checkedAt: this.#o.clock.now() };
    try {
      const text = await this.#read(checkout, file);
      const config = parseClusterConfig(text, file, {
        defaultHealthTimeoutMs: this.#o.defaultHealthTimeoutMs,
      });
      this.#current = { config, revision: checkout.revision };
      result = { current: this.#current };
      report = { ...base, valid: true, error: '', line: 0, appliedRevision: checkout.revision };
    } catch (err) {
      const message = errorMessage(err);
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

  async #read(checkout: { dir: string; revision: string }, file: string): Promise<string> {
    try {
      return await readFile(await resolveInCheckout(checkout, file), 'utf8');
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      throw new ConfigReadError(
        `cannot read ${file} at ${checkout.revision.slice(0, 7)}: ${missing ? 'no such file' : errorMessage(err)}`,
        { cause: err },
      );
    }
  }
}
