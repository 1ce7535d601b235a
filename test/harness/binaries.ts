import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { HarnessError } from './errors.ts';

/** The folder `make tools` fills: `$DRIFTLESS_CACHE/bin/current` (default `~/.cache/driftless`). */
export function binaryCacheDir(): string {
  const cache = process.env['DRIFTLESS_CACHE'] || join(homedir(), '.cache', 'driftless');
  return join(cache, 'bin', 'current');
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The path of a server binary: the pinned build in {@link binaryCacheDir} first,
 * then `PATH`. Throws a {@link HarnessError} that says to run `make tools` when
 * neither has it.
 */
export function findBinary(name: string): string {
  const cached = join(binaryCacheDir(), name);
  if (isExecutable(cached)) return cached;
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  throw new HarnessError(
    `${name} not found in ${binaryCacheDir()} or on PATH: run make tools to build the pinned test binaries`,
  );
}
