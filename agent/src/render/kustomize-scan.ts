import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments, parseDocument } from 'yaml';
import { checkValuesSchemas } from './chart-schema.ts';
import { RenderError } from './errors.ts';
import { checkFileSize, type RenderLimits } from './limits.ts';
import type { Checkout } from './paths.ts';

/** The names kustomize accepts for a kustomization, in its own order of preference. */
export const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

/** What a scan may let through. */
export interface ScanPolicy {
  /** Remote bases, resources and files (`kustomize.allowRemoteResources`). */
  allowRemote: boolean;
  /** `helmCharts` pulled from a chart repository (`kustomize.allowRemoteCharts`). */
  allowRemoteCharts: boolean;
  /** The app, named in messages. */
  app: string;
  limits: RenderLimits;
}

/** What a scan found that changes how kustomize must run. */
export interface ScanResult {
  /** Some kustomization uses `helmCharts`: kustomize needs `--enable-helm`. */
  helmCharts: boolean;
  /** Some `helmCharts` entry will be pulled from the network. */
  pullsCharts: boolean;
  /** The `helmCharts` entries to pull, and where kustomize looks for each. */
  pulls: ChartPull[];
  /** Every folder whose kustomization was read (symlink-free), the root first. */
  dirs: string[];
  /** Some folder was reached through a symbolic link: `dirs` alone do not decide the render. */
  throughLink: boolean;
}

/**
 * Keys whose values kustomize reads as data, never as a file or URL, at any
 * depth of a kustomization or a generator/transformer config. Every other
 * string is taken as a possible location and checked: an unknown or future
 * field that names a file is confined without being listed here, and a
 * missing entry in this list can only cause a false refusal, never a leak.
 */
const DATA_KEYS = new Set([
  'apiVersion',
  'kind',
  'metadata',
  'commonLabels',
  'commonAnnotations',
  'labels',
  'annotations',
  'pairs',
  'patch',
  'literals',
  'valuesInline',
  'target',
  'images',
  'replicas',
  'vars',
  'name',
  'namespace',
  'namePrefix',
  'nameSuffix',
  'version',
  'releaseName',
  'behavior',
  'type',
  'options',
  'buildMetadata',
  'sortOptions',
  'source',
  'targets',
  'fieldSpecs',
  'fieldPaths',
  'fieldPath',
]);

/** A chart kustomize would pull: `helm pull --untar --untardir <untarDir>`, then `<untarDir>/<name>`. */
export interface ChartPull {
  repo: string;
  name: string;
  /** '' for the latest. */
  version: string;
  /** Absolute folder inside the checkout. */
  untarDir: string;
}

/** Helm's rule for release names (chartutil.ValidateReleaseName), besides at most 53 characters. */
const HELM_RELEASE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A chart's name: never a path (Helm's own rule for chart names, besides its length). */
const CHART_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Fields whose entries may be another kustomization (a folder). */
const TREE_FIELDS = new Set(['resources', 'components', 'bases']);
/** Fields whose entries are plugin configs: files, folders or inline YAML. */
const PLUGIN_FIELDS = new Set(['generators', 'transformers', 'validators']);

/** URL schemes, scp-style Git addresses, go-getter prefixes and Git query parameters. */
const REMOTE_PATTERNS = [
  /^[a-z][a-z0-9+.-]*:\/\//i,
  /^[\w.-]+@[\w.-]+:/,
  /^git::/i,
  /\?(ref|version|submodules|timeout)=/,
  /^(github\.com|gitlab\.com|bitbucket\.org)\//i,
];

/** The kustomization file in `dir`, or undefined. */
export async function findKustomization(dir: string): Promise<string | undefined> {
  for (const name of KUSTOMIZATION_FILES) {
    const file = path.join(dir, name);
    if ((await stat(file).catch(() => undefined))?.isFile()) return file;
  }
  return undefined;
}

/**
 * Reads the kustomization in `dir` and everything it includes — bases,
 * components, plugin configs (files and inline) — and checks every string
 * that is not data ({@link DATA_KEYS}): a URL is refused unless the policy
 * allows remotes (`file://` always), an absolute path always, a relative
 * path that leaves the checkout always. Files reached are size-checked.
 * Throws a {@link RenderError} naming the kustomization and the field.
 */
export async function scanKustomizationTree(
  checkout: Checkout,
  dir: string,
  policy: ScanPolicy,
): Promise<ScanResult> {
  const scanner = new Scanner(checkout, policy);
  await scanner.kustomization(dir);
  return { ...scanner.result, dirs: [...scanner.seen] };
}

class Scanner {
  readonly result = {
    helmCharts: false,
    pullsCharts: false,
    throughLink: false,
    pulls: [] as ChartPull[],
  };
  readonly seen = new Set<string>();
  readonly #checkout: Checkout;
  readonly #policy: ScanPolicy;

  constructor(checkout: Checkout, policy: ScanPolicy) {
    this.#checkout = checkout;
    this.#policy = policy;
  }

  async kustomization(dir: string): Promise<void> {
    if (this.seen.has(dir)) return;
    this.seen.add(dir);
    const file = await findKustomization(dir);
    if (file === undefined) return;
    const source = this.#checkout.relative(file);
    const spec = await this.#readMapping(file, source);
    for (const [key, value] of Object.entries(spec)) {
      if (key === 'helmCharts') await this.#helmCharts(dir, source, spec, value);
      else await this.#value(dir, source, key, key, value);
    }
  }

  /** Visits a field's value: recursion into mappings and lists, checks of strings. */
  async #value(dir: string, source: string, field: string, key: string, value: unknown) {
    this.#helmArgument(source, field, key, value);
    if (DATA_KEYS.has(key)) return;
    if (Array.isArray(value)) {
      for (const [i, item] of value.entries())
        await this.#value(dir, source, `${field}[${i}]`, key, item);
      return;
    }
    if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value))
        await this.#value(dir, source, `${field}.${k}`, k, v);
      return;
    }
    if (typeof value !== 'string' || value === '') return;
    if (value.includes('\n')) {
      // Inline plugin configs are YAML that names files of its own.
      if (PLUGIN_FIELDS.has(key)) await this.#pluginConfig(dir, source, field, value);
      return;
    }
    await this.#location(dir, source, field, key, value);
  }

  /**
   * Fields kustomize hands to `helm` on its command line or in its environment. A release
   * name is a bare argument of `helm template`: one that starts with "-" is an option
   * (`--post-renderer=./run.sh` runs a program of the repository). `configHome` is where
   * Helm loads plugins from, which run programs too: the agent keeps Helm's configuration
   * private. Refused here for `helmCharts` entries and HelmChartInflationGenerator configs.
   */
  #helmArgument(source: string, field: string, key: string, value: unknown) {
    if (key === 'releaseName' && typeof value === 'string' && value !== '') {
      if (value.length > 53 || !HELM_RELEASE_NAME.test(value))
        throw this.#refuse(
          source,
          `${field} ${JSON.stringify(value.slice(0, 100))} is not a Helm release name (at most 53 lower-case letters, digits, "-" and ".", starting and ending with a letter or digit)`,
        );
    }
    if (key === 'configHome' && value !== undefined && value !== null && value !== '')
      throw this.#refuse(
        source,
        `${field} is not allowed: Helm would load its plugins, which run programs, from there; the agent gives Helm a private configuration`,
      );
  }

  /** Checks one string that may name a file, folder or URL. */
  async #location(dir: string, source: string, field: string, key: string, ref: string) {
    // Generator entries name files as `key=path`: the path is what the loader reads.
    const eq = ref.indexOf('=');
    if (eq > 0 && !REMOTE_PATTERNS.some((p) => p.test(ref))) {
      await this.#location(dir, source, field, key, ref.slice(eq + 1));
    }
    const what = `${field} ${ref}`;
    // kustomize strips a `git::` prefix and clones what follows, a local repository too.
    if (/^(git::)?file:/i.test(ref))
      throw this.#refuse(source, `${what}: file URLs are not allowed`);
    if (REMOTE_PATTERNS.some((p) => p.test(ref))) {
      if (this.#policy.allowRemote) return;
      throw this.#refuse(
        source,
        `remote resource ${ref} refused (${field}): remote resources are off for this app; vendor it into the repository or set kustomize.allowRemoteResources: true on app ${this.#policy.app}`,
      );
    }
    if (path.isAbsolute(ref) || ref.startsWith('~')) {
      throw this.#refuse(
        source,
        `${what}: absolute paths are not allowed; use a path relative to the kustomization`,
      );
    }
    const lexical = path.resolve(dir, ref);
    if (!this.#checkout.contains(lexical)) {
      throw this.#refuse(source, `${what} is outside the checkout`);
    }
    const local = await this.#checkout.resolve(ref, `${field} ${ref} in ${source}`, dir);
    if (local === undefined) {
      // kustomize treats `host.tld/org/repo` as a Git URL when no such folder exists.
      if (TREE_FIELDS.has(key) && /^[^./][^/]*\.[^/]+\//.test(ref) && !this.#policy.allowRemote) {
        throw this.#refuse(
          source,
          `${what}: no such folder, and kustomize would fetch it as a remote Git repository; vendor it or set kustomize.allowRemoteResources: true on app ${this.#policy.app}`,
        );
      }
      return; // missing local paths are left for kustomize to report
    }
    const info = await stat(local);
    if (info.isDirectory()) {
      if (local !== lexical) this.result.throughLink = true;
      if (TREE_FIELDS.has(key) || PLUGIN_FIELDS.has(key)) await this.kustomization(local);
      return;
    }
    if (info.isFile()) {
      checkFileSize(this.#checkout.relative(local), info.size, this.#policy.limits);
      if (PLUGIN_FIELDS.has(key)) {
        await this.#pluginConfig(dir, source, field, await readFile(local, 'utf8'));
      }
    }
  }

  /** A generator, transformer or validator config: its strings are checked like the kustomization's. */
  async #pluginConfig(dir: string, source: string, field: string, text: string) {
    for (const doc of parseAllDocuments(text, { prettyErrors: false })) {
      if (doc.errors[0]) throw this.#refuse(source, `${field}: ${doc.errors[0].message}`);
      const value: unknown = doc.toJS({ maxAliasCount: 100 });
      if (value === null || typeof value !== 'object') continue;
      // The generator behind `helmCharts`, configured directly: checked as an entry of it.
      if ((value as { kind?: unknown }).kind === 'HelmChartInflationGenerator') {
        const config = value as Record<string, unknown>;
        const chartHome = config['chartHome'] ?? 'charts';
        await this.#helmCharts(dir, source, { helmGlobals: { chartHome } }, [config], field);
        continue;
      }
      for (const [k, v] of Object.entries(value))
        await this.#value(dir, source, `${field}.${k}`, k, v);
    }
  }

  /**
   * `helmCharts`: values files are locations; a `repo` is fetched unless the chart is vendored.
   * The chart's name and version are parts of paths kustomize builds (`<chartHome>/<name>`,
   * and a values file written to `<its temporary folder>/<name>-kustomize-values.yaml`), so
   * they must be a name and a version, never a path: `../` in a name would have Helm load a
   * chart from anywhere on the agent's disk, symbolic links unchecked.
   */
  async #helmCharts(
    dir: string,
    source: string,
    spec: Record<string, unknown>,
    value: unknown,
    fieldName = 'helmCharts',
  ) {
    if (!Array.isArray(value) || value.length === 0) return;
    this.result.helmCharts = true;
    const globals = spec['helmGlobals'];
    const chartHomeRef =
      globals !== null && typeof globals === 'object' && 'chartHome' in globals
        ? String(globals.chartHome)
        : 'charts';
    // helm template (run by kustomize) follows the references of a values schema.
    const home = await this.#checkout
      .resolve(chartHomeRef, 'helmGlobals.chartHome', dir)
      .catch(() => undefined);
    if (home !== undefined && (await stat(home)).isDirectory()) {
      await checkValuesSchemas(home, this.#checkout.relative(home), this.#policy.limits);
    }
    for (const [i, entry] of value.entries()) {
      const field =
        value.length === 1 && fieldName !== 'helmCharts' ? fieldName : `${fieldName}[${i}]`;
      if (entry === null || typeof entry !== 'object') continue;
      const chart = entry as Record<string, unknown>;
      for (const [k, v] of Object.entries(chart)) {
        if (k !== 'repo') await this.#value(dir, source, `${field}.${k}`, k, v);
      }
      const repo = typeof chart['repo'] === 'string' ? chart['repo'] : '';
      const name = typeof chart['name'] === 'string' ? chart['name'] : '';
      // Also a bare argument of `helm pull`, like the release name of `helm template`.
      if (name !== '' && !CHART_NAME.test(name))
        throw this.#refuse(
          source,
          `${field}.name ${JSON.stringify(name.slice(0, 100))} is not a chart name (letters, digits, ".", "_", "-", starting with a letter or digit); kustomize reads the chart from <chartHome>/<name>: point helmGlobals.chartHome at the folder that holds it`,
        );
      const pinned = chart['version'];
      if (typeof pinned === 'string' && /[/\\]/.test(pinned))
        throw this.#refuse(
          source,
          `${field}.version ${JSON.stringify(pinned.slice(0, 100))} is not a version`,
        );
      if (!repo) continue;
      if (/^(git::)?file:/i.test(repo))
        throw this.#refuse(source, `${field}.repo ${repo}: file URLs are not allowed`);
      // kustomize looks for `<chartHome>/<name>`, or `<chartHome>/<name>-<version>/<name>` when pinned.
      const version = typeof chart['version'] === 'string' ? chart['version'] : '';
      const folder = version ? path.join(`${name}-${version}`, name) : name;
      const vendored = await this.#checkout
        .resolve(path.join(chartHomeRef, folder), `${field} chart ${name}`, dir)
        .catch(() => undefined);
      if (vendored !== undefined) continue;
      if (!this.#policy.allowRemoteCharts) {
        const home = this.#checkout.relative(path.resolve(dir, chartHomeRef));
        const untarDir = version ? `${home}/${name}-${version}` : home;
        throw this.#refuse(
          source,
          `${field} chart ${name} from ${repo} needs the network: vendor it into ${home}/${folder} (helm pull ${name} --repo ${repo}${version ? ` --version ${version}` : ''} --untar --untardir ${untarDir}) or set kustomize.allowRemoteCharts: true on app ${this.#policy.app} in driftless.yaml`,
        );
      }
      if (!name) throw this.#refuse(source, `${field} has a repo but no chart name`);
      this.result.pullsCharts = true;
      const chartHome = path.resolve(dir, chartHomeRef);
      this.result.pulls.push({
        repo,
        name,
        version,
        untarDir: version ? path.join(chartHome, `${name}-${version}`) : chartHome,
      });
    }
  }

  async #readMapping(file: string, source: string): Promise<Record<string, unknown>> {
    const info = await stat(file);
    checkFileSize(source, info.size, this.#policy.limits);
    const doc = parseDocument(await readFile(file, 'utf8'), { prettyErrors: false });
    const problem = doc.errors[0];
    if (problem) {
      throw new RenderError(`render ${source}: ${problem.message}`, {
        file: source,
        cause: problem,
      });
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return {};
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new RenderError(`render ${source}: a kustomization must be a mapping`, {
        file: source,
      });
    }
    return value as Record<string, unknown>;
  }

  #refuse(source: string, message: string): RenderError {
    return new RenderError(`render ${source}: ${message}`, { file: source });
  }
}
