/**
 * Bundles the three Driftless programs into plain JavaScript for the
 * artifacts that carry no checkout (the npm release package and the
 * container images): Node strips types only outside node_modules, so these
 * must not be TypeScript.
 *
 *   node deploy/bundle.ts [--out DIR]      default DIR: dist
 *
 * Writes DIR/bin/driftless.mjs, DIR/bin/driftless-agent.mjs (with the parts it loads later in
 * DIR/bin/driftless-agent-lib/) and DIR/bin/driftless-hub.mjs, and copies the built dashboard (hub/web/dist,
 * from `make web`) to DIR/web, where the bundled hub looks for it.
 * Packages listed in EXTERNAL stay imports and must be installed beside the
 * bundles (see deploy/release.ts); today every dependency is pure
 * JavaScript and bundled.
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build, type BuildOptions, type Plugin } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');

/** The programs: entry point (relative to the root) -> bundle name. */
export const PROGRAMS = {
  'hub/bin/driftless.ts': 'driftless',
  'agent/bin/driftless-agent.ts': 'driftless-agent',
  'hub/bin/driftless-hub.ts': 'driftless-hub',
} as const;

/**
 * Imports left to the runtime: optional add-ons some libraries try to load
 * (pg's native binding, ws's native helpers), none of which Driftless uses.
 */
export const EXTERNAL: readonly string[] = ['pg-native', 'bufferutil', 'utf-8-validate'];

/** The folder beside driftless-agent.mjs that holds the agent's other files (bundle.ts splits it). */
export const AGENT_CHUNKS = 'driftless-agent-lib';

/** Where the bundled hub finds the dashboard, relative to the bundle's folder. */
const WEB_DIR_FROM_BIN = '../web';

function rootVersion(): string {
  const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** The checkout's commit, or '' (a source tarball has no .git). DRIFTLESS_COMMIT overrides. */
function commit(): string {
  const fromEnv = process.env['DRIFTLESS_COMMIT'];
  if (fromEnv !== undefined) return fromEnv;
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return '';
  }
}

/** Bundles the programs into `out`/bin and copies the dashboard into `out`/web. */
export async function bundle(out: string): Promise<void> {
  const webDist = resolve(ROOT, 'hub/web/dist');
  if (!existsSync(resolve(webDist, 'index.html'))) {
    throw new Error('hub/web/dist/index.html is missing: run make web first');
  }
  rmSync(resolve(out, 'bin'), { recursive: true, force: true });
  rmSync(resolve(out, 'web'), { recursive: true, force: true });
  mkdirSync(resolve(out, 'bin'), { recursive: true });
  const common = {
    absWorkingDir: ROOT,
    outdir: resolve(out, 'bin'),
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22.12',
    external: [...EXTERNAL],
    plugins: [builtinsThroughRequire],
    // CommonJS dependencies call require() for Node's built-ins; an ES module has none.
    banner: {
      js: "import { createRequire as __driftlessCreateRequire } from 'node:module';\nconst require = __driftlessCreateRequire(import.meta.url);",
    },
    define: {
      __DRIFTLESS_VERSION__: JSON.stringify(rootVersion()),
      __DRIFTLESS_COMMIT__: JSON.stringify(commit()),
      __DRIFTLESS_WEB_DIR__: JSON.stringify(WEB_DIR_FROM_BIN),
    },
    sourcemap: false,
    minifySyntax: true,
    minifyWhitespace: true,
    keepNames: true,
    logLevel: 'warning',
  } satisfies BuildOptions;
  const entries = Object.entries(PROGRAMS).map(([entry, name]) => ({ in: entry, out: name }));
  await build({
    ...common,
    entryPoints: entries.filter((e) => e.out !== 'driftless-agent'),
    legalComments: 'linked',
  });
  // The agent in pieces: what a feature loads only when configured (the hub link, NATS, OpenPGP,
  // metrics, the OTLP exporter) sits in its own file under AGENT_CHUNKS, so the resident program
  // text is only what runs (Node keeps a module's whole source for as long as it runs: one file
  // of everything cost about 10 MiB more resident, docs/benchmarks.md).
  await build({
    ...common,
    entryPoints: entries.filter((e) => e.out === 'driftless-agent'),
    splitting: true,
    chunkNames: `${AGENT_CHUNKS}/[name]-[hash]`,
    legalComments: 'external',
  });
  gatherLegal(resolve(out, 'bin'), 'driftless-agent');
  for (const file of outputs(resolve(out, 'bin'))) asciiOnly(file);
  cpSync(webDist, resolve(out, 'web'), { recursive: true });
}

/**
 * Loads Node's built-in modules with require() where the sources import them: an `import` of a
 * built-in gives Node's ES module wrapper, which reads every export of the module at once, and
 * some exports are getters that load more: `node:http`'s WebSocket, CloseEvent and MessageEvent
 * load Node's copy of undici (the fetch implementation), about 13 MiB resident that the agent
 * never uses. Through require() the exports are read when the code reads them. The same module
 * objects either way; only when each part is loaded differs.
 */
const builtinsThroughRequire: Plugin = {
  name: 'builtins-through-require',
  setup(b) {
    const builtins = new Set(builtinModules);
    b.onResolve({ filter: /^[a-z_0-9:/]+$/ }, (args) => {
      if (args.kind !== 'import-statement' && args.kind !== 'dynamic-import') return undefined;
      const bare = args.path.replace(/^node:/, '');
      if (!builtins.has(bare)) return undefined;
      return { path: `node:${bare}`, namespace: 'builtin-require' };
    });
    b.onLoad({ filter: /.*/, namespace: 'builtin-require' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

/** Every .mjs file under `dir`, its subfolders included. */
function outputs(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.mjs'))
    .map((f) => resolve(dir, f));
}

/**
 * One `<name>.mjs.LEGAL.txt` for a program built in pieces: the licence comments esbuild wrote
 * beside each piece, each once, in one file (as the single-file programs have).
 */
function gatherLegal(dir: string, name: string): void {
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter(
      (f) =>
        f.endsWith('.LEGAL.txt') && (f.startsWith(`${name}.`) || f.startsWith(`${AGENT_CHUNKS}/`)),
    )
    .sort();
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const f of files) {
    const text = readFileSync(resolve(dir, f), 'utf8').replace(
      /^Bundled license information:\n/,
      '',
    );
    for (const block of text.split(/\n\n(?=\S)/)) {
      const part = block.trim();
      if (part && !seen.has(part)) {
        seen.add(part);
        parts.push(part);
      }
    }
    rmSync(resolve(dir, f));
  }
  if (parts.length > 0)
    writeFileSync(
      resolve(dir, `${name}.mjs.LEGAL.txt`),
      `Bundled license information:\n\n${parts.join('\n\n')}\n`,
    );
}

/**
 * Escapes the few characters outside ASCII that esbuild leaves in place (it keeps them in
 * regular expression literals, e.g. isomorphic-git's `/[\ud800-\uffff]/`) as `\uXXXX`, which
 * means the same there and in strings. Node keeps a program's source in memory for as long as
 * it runs, one byte a character when all of it is Latin-1 and two bytes otherwise: one such
 * character doubles what the agent's 4 MB of source costs.
 */
function asciiOnly(file: string): void {
  const text = readFileSync(file, 'utf8');
  const escaped = text.replace(
    /[^\x00-\x7f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  if (escaped !== text) writeFileSync(file, escaped);
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'dist' } } });
  await bundle(resolve(values.out));
}
