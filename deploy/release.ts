/**
 * The release artifact that needs no checkout: an npm package tarball
 * holding the bundled programs (plain JavaScript, see deploy/bundle.ts), the
 * dashboard and a `bin` map for `driftless`, `driftless-agent` and
 * `driftless-hub`. It has no dependencies, so it installs offline:
 *
 *   node deploy/release.ts [--out DIR]     default DIR: dist/release
 *   npm install -g --prefix ~/.local DIR/driftless-VERSION.tgz
 *
 * Prints the tarball's path on stdout.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { bundle, PROGRAMS } from './bundle.ts';

const ROOT = resolve(import.meta.dirname, '..');

const PACKAGE_README = `# driftless

The Driftless programs, bundled: \`driftless\` (the command line over a hub's
HTTP API), \`driftless-agent\` (the in-cluster agent, and \`render\`, \`diff\` and
\`export\` on a workstation) and \`driftless-hub\` (the hub, with its dashboard).

Needs Node.js 22.12 or newer on PATH. The agent's \`render\` and \`diff\` run
\`helm\` and \`kustomize\` from PATH for apps that use them.

    npm install -g --prefix ~/.local driftless-VERSION.tgz
    driftless --help

See docs/install.md in the Driftless repository.
`;

/** The tarball's file name for `version` (what npm pack writes). */
export function tarballName(version: string): string {
  return `driftless-${version}.tgz`;
}

/** Builds the package in `out`/package and packs it; returns the tarball's path. */
export async function release(out: string): Promise<string> {
  const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
    description: string;
    engines: Record<string, string>;
  };
  const pkgDir = join(out, 'package');
  rmSync(pkgDir, { recursive: true, force: true });
  mkdirSync(pkgDir, { recursive: true });
  await bundle(pkgDir);
  const bin = Object.fromEntries(Object.values(PROGRAMS).map((name) => [name, `bin/${name}.mjs`]));
  const manifest = {
    name: 'driftless',
    version: root.version,
    description: root.description,
    type: 'module',
    engines: root.engines,
    bin,
    files: ['bin/', 'web/', 'README.md'],
    license: 'UNLICENSED',
  };
  writeFileSync(join(pkgDir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  writeFileSync(join(pkgDir, 'README.md'), PACKAGE_README);
  const tarball = join(out, tarballName(root.version));
  rmSync(tarball, { force: true });
  execFileSync('npm', ['pack', '--pack-destination', out, '--silent'], {
    cwd: pkgDir,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return tarball;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'dist/release' } } });
  process.stdout.write(`${await release(resolve(values.out))}\n`);
}
