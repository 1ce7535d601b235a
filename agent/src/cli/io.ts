import { FlagError, parseFlags, type FlagSpec, type ParsedFlags } from '@driftless/common';

/**
 * Where a command reads and writes, passed in so that commands are tested
 * without touching the real process.
 */
export interface CliIo {
  /** Command output: manifests, plans. */
  stdout: { write(text: string): unknown };
  /** Warnings and errors, so stdout can be piped into a file or `kubectl apply -f -`. */
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
  /** Folder relative paths are resolved against. */
  cwd: string;
  /** Aborted on Ctrl-C; renders kill their tool and requests stop. */
  signal?: AbortSignal;
}

/** The environment variable prefix of every flag: `--namespace` is `DRIFTLESS_NAMESPACE`. */
export const CLI_ENV_PREFIX = 'DRIFTLESS';

/** Exit codes of the CLI. */
export const ExitCode = {
  ok: 0,
  /** Something failed at run time. */
  error: 1,
  /** The command line is wrong: unknown command or flag, bad value, missing argument. */
  usage: 2,
  /** `diff` only: the cluster differs from the folder, like `diff(1)` exits 1. */
  changes: 3,
} as const;

/** The command line is wrong; the message says how, and the exit code is 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * {@link parseFlags}, plus list flags that may be repeated (`--values a.yaml
 * --values b.yaml`) as well as comma-separated: common's parser keeps only
 * the last occurrence of a flag, so repeated ones are collected first.
 */
export function parseCommandFlags<S extends FlagSpec>(
  spec: S,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  repeatable: readonly (keyof S & string)[] = [],
): ParsedFlags<S> {
  const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  const collected = new Map<string, string[]>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const name = repeatable.find(
      (n) => arg === `--${kebab(n)}` || arg.startsWith(`--${kebab(n)}=`),
    );
    if (name === undefined) {
      rest.push(arg);
      continue;
    }
    let value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
    if (value === undefined) throw new FlagError(`flag --${kebab(name)} needs a value`);
    value = value.trim();
    const list = collected.get(name) ?? [];
    list.push(
      ...value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
    collected.set(name, list);
  }
  const parsed = parseFlags(spec, rest, { envPrefix: CLI_ENV_PREFIX, env });
  const values = parsed.values as Record<string, unknown>;
  for (const [name, list] of collected) values[name] = list;
  return parsed;
}

/** Checks a flag whose value must be one of `allowed`. */
export function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`flag --${flag}: "${value}" is not one of ${allowed.join(', ')}`);
}
