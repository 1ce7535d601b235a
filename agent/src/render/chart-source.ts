import { createHash, randomBytes } from 'node:crypto';
import {
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TransientError } from '@driftless/common';
import { parse as parseYamlText } from 'yaml';
import type { HelmChartSource } from '../model.ts';
import { confineTree } from './confine.ts';
import {
  ChartUnreachableError,
  describeChart,
  fetchChartArchive,
  type ChartCredentials,
  type ChartRef,
} from './chart-fetch.ts';
import { RenderError } from './errors.ts';
import type { RenderLimits } from './limits.ts';
import type { Checkout } from './paths.ts';

/** Turns an app's `helm.chart.credentials` into a user name and password. */
export type CredentialsResolver = (
  ref: NonNullable<HelmChartSource['credentials']>,
) => Promise<ChartCredentials>;

/** Where charts from repositories and registries come from and are kept. */
export interface ChartSettings {
  /** Folder of downloaded chart packages, kept across renders. Default `<tmp>/driftless-charts`. */
  cacheDir?: string;
  /** Reads credentials; without it, an app that names credentials fails. */
  credentials?: CredentialsResolver;
  /** Per-request limit of a download, in ms. Default 60 000. */
  timeoutMs?: number;
  /** OCI registries (`host:port`) reached over plain HTTP, for dependencies. Default none. */
  plainHttpRegistries?: string[];
}

/** The defaults of {@link ChartSettings}. */
export const CHART_DEFAULTS = {
  cacheDir: path.join(tmpdir(), 'driftless-charts'),
  timeoutMs: 60_000,
} as const;

interface Context {
  settings: ChartSettings;
  limits: RenderLimits;
  signal?: AbortSignal | undefined;
}

/**
 * The packaged chart an app names in `helm.chart`, from the on-disk cache or
 * downloaded into it (written whole by rename, so a crash never leaves half a
 * package that passes for cached). Versions are pinned, so a cached package
 * is never fetched again.
 */
export async function remoteChart(source: HelmChartSource, ctx: Context): Promise<string> {
  const credentials = source.credentials
    ? await resolveCredentials(source, ctx.settings)
    : undefined;
  return cachedArchive(
    {
      repository: source.repository,
      name: source.name,
      version: source.version,
      ...(credentials ? { credentials } : {}),
      ...(source.plainHttp ? { plainHttp: true } : {}),
    },
    ctx,
  );
}

async function resolveCredentials(source: HelmChartSource, settings: ChartSettings) {
  if (!settings.credentials || !source.credentials) {
    throw new RenderError(
      `${describeChart(source)}: credentials are set but this agent cannot read chart credentials`,
    );
  }
  return settings.credentials(source.credentials);
}

async function cachedArchive(ref: ChartRef, ctx: Context): Promise<string> {
  const dir = ctx.settings.cacheDir ?? CHART_DEFAULTS.cacheDir;
  // Who fetched it is part of the key: an app without a private repository's credentials
  // must not get its charts from the cache another app's credentials filled.
  const who = ref.credentials
    ? createHash('sha256')
        .update(`${ref.credentials.username}\0${ref.credentials.password}`)
        .digest('hex')
    : '';
  const key = createHash('sha256')
    .update(`${ref.repository}\n${ref.name}\n${ref.version}\n${who}`)
    .digest('hex')
    .slice(0, 32);
  const file = path.join(dir, `${ref.name}-${ref.version}-${key}.tgz`);
  if ((await stat(file).catch(() => undefined))?.isFile()) return file;
  const archive = await fetchChartArchive(ref, {
    maxBytes: ctx.limits.maxRenderBytes,
    timeoutMs: ctx.settings.timeoutMs ?? CHART_DEFAULTS.timeoutMs,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, archive, { mode: 0o600 });
  await rename(tmp, file);
  return file;
}

interface Dependency {
  name?: unknown;
  version?: unknown;
  repository?: unknown;
}

/** Whether {@link prepareDependencies} may reach the network. */
export interface DependencyPolicy {
  /** Fetch dependencies from the repositories `Chart.yaml` names (`helm.allowRemoteDependencies`). */
  allowRemote: boolean;
  /** The app, named in messages. */
  app: string;
}

/** A chart folder ready for `helm template`, and how to clean it up. */
export interface PreparedChart {
  dir: string;
  cleanup: () => Promise<void>;
}

/**
 * Makes the dependencies of the chart in `dir` that are not vendored in its
 * `charts/` folder available, fetched the same way as app charts: from a Helm
 * repository or OCI registry at the version `Chart.lock` (or an exact
 * `Chart.yaml` version) pins, or from a `file://` folder inside the checkout.
 * When something is missing, the chart is copied to a private folder and the
 * packages added there: the checkout is never written to. A dependency that
 * cannot be fetched fails with a message that says how to vendor it.
 *
 * Anyone who can edit the chart's folder picks the repositories, so nothing
 * is fetched unless `policy.allowRemote` (the app's
 * `helm.allowRemoteDependencies`): without it the first dependency that would
 * need the network fails the render before any request is made.
 */
export async function prepareDependencies(
  checkout: Checkout,
  dir: string,
  ctx: Context,
  policy: DependencyPolicy,
): Promise<PreparedChart> {
  const rel = checkout.relative(dir);
  const chart = readYaml(await readFile(path.join(dir, 'Chart.yaml'), 'utf8')) as {
    dependencies?: Dependency[];
  };
  const deps = (chart.dependencies ?? []).filter(
    (d): d is Dependency & { name: string } => typeof d.name === 'string',
  );
  const vendored = await vendoredNames(dir);
  const missing = deps.filter((d) => !vendored.has(d.name));
  if (missing.length === 0) return { dir, cleanup: async () => undefined };
  // The name becomes a file name in the chart's copy and in the chart cache: never a path.
  const unsafe = missing.find((d) => !CHART_NAME.test(d.name));
  if (unsafe) {
    throw new RenderError(
      `render ${rel}: dependency name ${JSON.stringify(unsafe.name.slice(0, 200))} in ${rel}/Chart.yaml must be a chart name (letters, digits, ".", "_", "-", starting with a letter or digit)`,
      { file: `${rel}/Chart.yaml` },
    );
  }
  const remote = missing.find((d) => isRemote(d.repository));
  if (remote && !policy.allowRemote) {
    throw new RenderError(
      `render ${rel}: dependency ${remote.name} from ${String(remote.repository)} is not in ${rel}/charts/ and fetching it needs the network: vendor it (run "helm dependency build ${rel}" and commit ${rel}/charts/) or set helm.allowRemoteDependencies: true on app ${policy.app} in driftless.yaml`,
      { file: rel },
    );
  }
  const locked = await lockedVersions(dir);

  const tmp = await mkdtemp(path.join(tmpdir(), 'driftless-chart-'));
  const cleanup = () => rm(tmp, { recursive: true, force: true });
  try {
    const copy = path.join(tmp, path.basename(dir));
    // Safe to follow links: confineTree has checked that they stay in the checkout.
    await cp(dir, copy, { recursive: true, dereference: true });
    await mkdir(path.join(copy, 'charts'), { recursive: true });
    for (const dep of missing) {
      const repository = typeof dep.repository === 'string' ? dep.repository : '';
      const version = locked.get(dep.name) ?? (typeof dep.version === 'string' ? dep.version : '');
      const vendorHint = `vendor it: run "helm dependency build ${rel}" and commit ${rel}/charts/`;
      if (repository.startsWith('file://')) {
        const local = await checkout.resolve(
          repository.slice('file://'.length),
          `dependency ${dep.name} (${repository}) of chart ${rel}`,
          dir,
        );
        if (local === undefined) {
          throw new RenderError(
            `render ${rel}: dependency ${dep.name}: ${repository} does not exist`,
            {
              file: rel,
            },
          );
        }
        await confineTree(checkout, local, { limits: ctx.limits });
        await cp(local, path.join(copy, 'charts', dep.name), {
          recursive: true,
          dereference: true,
        });
        continue;
      }
      if (!isRemote(repository)) {
        throw new RenderError(
          `render ${rel}: dependency ${dep.name} is not in charts/ and has no repository URL to fetch it from${repository ? ` (${repository} is a local repository name)` : ''}; ${vendorHint}`,
          { file: rel },
        );
      }
      if (!/^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]*)?$/.test(version)) {
        throw new RenderError(
          `render ${rel}: dependency ${dep.name} asks for "${version}", not an exact version; commit a Chart.lock (helm dependency update) or ${vendorHint}`,
          { file: rel },
        );
      }
      let archive: string;
      try {
        const host = repository.startsWith('oci://') ? new URL(repository).host : '';
        const plainHttp = (ctx.settings.plainHttpRegistries ?? []).includes(host);
        archive = await cachedArchive(
          { repository, name: dep.name, version, ...(plainHttp ? { plainHttp } : {}) },
          ctx,
        );
      } catch (err) {
        ctx.signal?.throwIfAborted();
        const message = `render ${rel}: dependency ${dep.name} ${version} cannot be fetched: ${(err as Error).message}; ${vendorHint}`;
        throw err instanceof TransientError
          ? new ChartUnreachableError(message, { cause: err })
          : new RenderError(message, { file: rel, cause: err });
      }
      await cp(archive, path.join(copy, 'charts', `${dep.name}-${version}.tgz`));
    }
    return { dir: copy, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** A chart's name as a dependency may give it; never a path (Helm refuses those too). */
const CHART_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A repository the agent would fetch from: a Helm repository or an OCI registry. */
function isRemote(repository: unknown): boolean {
  return typeof repository === 'string' && /^(https?|oci):\/\//.test(repository);
}

/** Names of the charts in `charts/`: folders by their name, packages by the name before the version. */
async function vendoredNames(dir: string): Promise<Set<string>> {
  const names = new Set<string>();
  const entries = await readdir(path.join(dir, 'charts'), { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (e.name.endsWith('.tgz')) {
      const m = /^(.+)-v?\d+\.\d+\.\d+.*\.tgz$/.exec(e.name);
      if (m?.[1]) names.add(m[1]);
    } else {
      names.add(e.name);
    }
  }
  return names;
}

async function lockedVersions(dir: string): Promise<Map<string, string>> {
  const text = await readFile(path.join(dir, 'Chart.lock'), 'utf8').catch(() => '');
  const lock = (text ? readYaml(text) : {}) as { dependencies?: Dependency[] };
  return new Map(
    (lock.dependencies ?? []).flatMap((d) =>
      typeof d.name === 'string' && typeof d.version === 'string' ? [[d.name, d.version]] : [],
    ),
  );
}

function readYaml(text: string): unknown {
  return parseYamlText(text, { maxAliasCount: 100 }) ?? {};
}
