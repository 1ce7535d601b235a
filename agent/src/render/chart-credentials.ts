import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { KubeObject } from '../model.ts';
import type { ChartCredentials } from './chart-fetch.ts';
import type { CredentialsResolver } from './chart-source.ts';
import { RenderError } from './errors.ts';

/** The label a Secret must carry before an app may use it as chart credentials. */
export const CHART_CREDENTIALS_LABEL = 'driftless.dev/chart-credentials';

/** Options of {@link chartCredentials}. */
export interface ChartCredentialsOptions {
  /** Folder of credential files (`--chart-credentials-dir`); '' means files are off. */
  dir: string;
  /** Reads a Secret of the agent's own namespace; undefined when it does not exist. */
  readSecret?: (name: string) => Promise<KubeObject | undefined>;
}

/**
 * Resolves `helm.chart.credentials` of an app. A file is a bare name in the
 * credentials folder holding `username:password`; a Secret must be in the
 * agent's namespace and carry {@link CHART_CREDENTIALS_LABEL}`: "true"` with
 * keys `username` and `password` — so a repository cannot make the agent
 * send any other Secret, such as its own identity, to a chart server.
 * Messages name the Secret or file, never its content.
 */
export function chartCredentials(options: ChartCredentialsOptions): CredentialsResolver {
  return async (ref) => {
    if (ref.file !== undefined) return fromFile(options.dir, ref.file);
    if (ref.secret !== undefined) return fromSecret(options, ref.secret);
    throw new RenderError('chart credentials name neither a secret nor a file');
  };
}

async function fromFile(dir: string, name: string): Promise<ChartCredentials> {
  if (!dir) {
    throw new RenderError(
      `chart credentials file ${name}: the agent has no --chart-credentials-dir`,
    );
  }
  if (name !== path.basename(name) || name.startsWith('.')) {
    throw new RenderError(`chart credentials file ${name}: must be a bare file name`);
  }
  const text = await readFile(path.join(dir, name), 'utf8').catch((err: unknown) => {
    throw new RenderError(
      `chart credentials file ${name}: cannot read it in ${dir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  });
  const line = text.trim();
  const colon = line.indexOf(':');
  if (colon <= 0) {
    throw new RenderError(`chart credentials file ${name}: must hold username:password`);
  }
  return { username: line.slice(0, colon), password: line.slice(colon + 1) };
}

async function fromSecret(
  options: ChartCredentialsOptions,
  name: string,
): Promise<ChartCredentials> {
  if (!options.readSecret) {
    throw new RenderError(`chart credentials secret ${name}: this agent cannot read Secrets`);
  }
  const secret = await options.readSecret(name);
  if (!secret) throw new RenderError(`chart credentials secret ${name}: no such Secret`);
  if (secret.metadata.labels?.[CHART_CREDENTIALS_LABEL] !== 'true') {
    throw new RenderError(
      `chart credentials secret ${name}: the Secret lacks the label ${CHART_CREDENTIALS_LABEL}: "true" that allows its use for charts`,
    );
  }
  const data = (secret['data'] ?? {}) as Record<string, string>;
  const decode = (key: string) =>
    data[key] === undefined ? undefined : Buffer.from(data[key], 'base64').toString('utf8');
  const username = decode('username');
  const password = decode('password');
  if (username === undefined || password === undefined) {
    throw new RenderError(`chart credentials secret ${name}: needs the keys username and password`);
  }
  return { username, password };
}
