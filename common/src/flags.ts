import { formatDuration, parseDuration } from './time.ts';

/** The kinds of value a flag holds. `duration` values are milliseconds. */
export type FlagType = 'string' | 'number' | 'boolean' | 'duration' | 'list';

type ValueOf<T extends FlagType> = T extends 'string'
  ? string
  : T extends 'number' | 'duration'
    ? number
    : T extends 'boolean'
      ? boolean
      : string[];

/** One flag: `--kebab-name`, with an environment variable and a default. */
export interface Flag<T extends FlagType = FlagType> {
  type: T;
  /** Used when neither the flag nor its environment variable is set. */
  default: ValueOf<T>;
  /** A full sentence for `--help`. */
  help: string;
  /** Environment variable; default PREFIX_ + the name in upper snake case. */
  env?: string;
  /** One-letter alias, e.g. `o` for `-o`. */
  short?: string;
}

/** A set of flags keyed by camelCase name. */
export type FlagSpec = Record<string, Flag>;

/** The parsed values of a {@link FlagSpec}. */
export type FlagValues<S extends FlagSpec> = { [K in keyof S]: ValueOf<S[K]['type']> };

/** Raised for an unknown flag or a value that does not parse; the message names it. */
export class FlagError extends Error {
  override name = 'FlagError';
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * The environment variable of the flag named `name` (camelCase, as in a {@link FlagSpec}):
 * `prefix`, `_` and the flag's kebab-case name in upper snake case (`repoUrl` with prefix
 * `DRIFTLESS` is `DRIFTLESS_REPO_URL`). The one naming rule; a flag's `env` overrides it.
 */
export function flagEnvName(prefix: string, name: string): string {
  return `${prefix}_${kebab(name).replaceAll('-', '_').toUpperCase()}`;
}

const envName = (prefix: string, name: string, flag: Flag) => flag.env ?? flagEnvName(prefix, name);

function convert(flag: Flag, raw: string, source: string): unknown {
  switch (flag.type) {
    case 'string':
      return raw;
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n))
        throw new FlagError(`${source}: "${raw}" is not a number`);
      return n;
    }
    case 'duration':
      try {
        return parseDuration(raw);
      } catch (err) {
        throw new FlagError(`${source}: ${(err as Error).message}`);
      }
    case 'boolean':
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off|)$/i.test(raw)) return false;
      throw new FlagError(`${source}: "${raw}" is not a boolean (true or false)`);
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
  }
}

/** Result of {@link parseFlags}. */
export interface ParsedFlags<S extends FlagSpec> {
  values: FlagValues<S>;
  /** Arguments that are not flags, in order. */
  positionals: string[];
  /** True when `-h` or `--help` was given. */
  help: boolean;
}

/**
 * Parses `argv` against `spec`. Precedence: flag, then environment variable,
 * then default. Accepts `--name value`, `--name=value`, `--flag`/`--no-flag`
 * for booleans and `--` to end flags. Throws {@link FlagError} naming the flag.
 */
export function parseFlags<S extends FlagSpec>(
  spec: S,
  argv: readonly string[],
  options: { envPrefix: string; env?: NodeJS.ProcessEnv },
): ParsedFlags<S> {
  const env = options.env ?? process.env;
  const byName = new Map<string, string>();
  for (const [name, flag] of Object.entries(spec)) {
    byName.set(kebab(name), name);
    if (flag.short) byName.set(flag.short, name);
  }
  const values: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(spec)) {
    const fromEnv = env[envName(options.envPrefix, name, flag)];
    values[name] =
      fromEnv === undefined
        ? flag.default
        : convert(flag, fromEnv, envName(options.envPrefix, name, flag));
  }
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    const m = /^--?([^=]+)(?:=(.*))?$/s.exec(arg);
    if (!m || arg === '-') {
      positionals.push(arg);
      continue;
    }
    let key = m[1] ?? '';
    let inline = m[2];
    let negated = false;
    if (
      !byName.has(key) &&
      key.startsWith('no-') &&
      spec[byName.get(key.slice(3)) ?? '']?.type === 'boolean'
    ) {
      key = key.slice(3);
      negated = true;
    }
    const name = byName.get(key);
    const flag = name === undefined ? undefined : spec[name];
    if (name === undefined || flag === undefined)
      throw new FlagError(`unknown flag ${arg.split('=')[0]}`);
    if (flag.type === 'boolean' && inline === undefined) {
      values[name] = !negated;
      continue;
    }
    if (inline === undefined) {
      inline = argv[++i];
      if (inline === undefined) throw new FlagError(`flag --${key} needs a value`);
    }
    values[name] = convert(flag, inline, `flag --${kebab(name)}`);
  }
  return { values: values as FlagValues<S>, positionals, help };
}

function showDefault(flag: Flag): string {
  const d = flag.default;
  if (flag.type === 'duration') return formatDuration(d as number);
  if (Array.isArray(d)) return d.join(',');
  return String(d);
}

/** `--help` text: one block per flag with its environment variable and default. */
export function flagsHelp(spec: FlagSpec, envPrefix: string): string {
  return Object.entries(spec)
    .map(([name, flag]) => {
      const short = flag.short ? `-${flag.short}, ` : '';
      const value = flag.type === 'boolean' ? '' : ` ${flag.type === 'list' ? 'a,b' : flag.type}`;
      const dflt = showDefault(flag);
      return `  ${short}--${kebab(name)}${value}\n      ${flag.help}\n      env ${envName(envPrefix, name, flag)}${dflt === '' ? '' : `, default ${dflt}`}`;
    })
    .join('\n');
}
