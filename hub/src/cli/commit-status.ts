/**
 * `driftless commit-status …`: the Git hosts that take commit statuses (their tokens are read
 * from a file or stdin, never a flag, and never shown again), the status of each commit, and
 * the log of posts. Self-contained (its own flags), so `runCli` hands it the arguments as is.
 */
import { readFile } from 'node:fs/promises';
import {
  errorMessage,
  FlagError,
  flagEnvName,
  flagsHelp,
  parseFlags,
  type FlagSpec,
} from '@driftless/common';
import { ApiError, HubClient, HubUnreachableError } from './client.ts';
import { renderTable, shortRev, timeText, type Column } from './table.ts';

const FLAGS = {
  hub: { type: 'string', default: 'http://127.0.0.1:7080', help: 'Base URL of the hub HTTP API.' },
  token: {
    type: 'string',
    default: '',
    help: 'API token to authenticate with (host commands need the admin role).',
  },
  output: {
    type: 'string',
    default: 'table',
    short: 'o',
    help: 'Output format: table (for people) or json (for scripts).',
  },
  kind: {
    type: 'string',
    default: '',
    help: 'Host kind for host set: github, gitlab or gitea.',
    env: flagEnvName('DRIFTLESS_CLI', 'kind'),
  },
  match: {
    type: 'string',
    default: '',
    help: 'Repository URLs the host serves, as host[:port][/path-prefix] (e.g. github.com).',
    env: flagEnvName('DRIFTLESS_CLI', 'match'),
  },
  apiUrl: {
    type: 'string',
    default: '',
    help: "API root, e.g. https://ghe.example.com/api/v3; empty: the kind's usual one for the host.",
    env: flagEnvName('DRIFTLESS_CLI', 'apiUrl'),
  },
  hostTokenFile: {
    type: 'string',
    default: '',
    help: 'File holding the host token (a trailing newline is ignored); - reads it from stdin. Required for a new host.',
    env: flagEnvName('DRIFTLESS_CLI', 'hostTokenFile'),
  },
  sha: {
    type: 'string',
    default: '',
    help: 'Only this commit (a SHA or a prefix of 7+ hex digits).',
    env: flagEnvName('DRIFTLESS_CLI', 'sha'),
  },
  context: {
    type: 'string',
    default: '',
    help: 'Only this context, e.g. driftless/prod-eu.',
    env: flagEnvName('DRIFTLESS_CLI', 'context'),
  },
  limit: {
    type: 'number',
    default: 0,
    help: 'Most rows to return (0: the hub default).',
    env: flagEnvName('DRIFTLESS_CLI', 'limit'),
  },
} satisfies FlagSpec;

/** Usage of `driftless commit-status`. */
export const COMMIT_STATUS_USAGE = `driftless commit-status: Git commit statuses per cluster (docs/commit-status.md)

Usage:
  driftless commit-status host list
  driftless commit-status host set NAME --kind github|gitlab|gitea --match HOST[:PORT][/PREFIX]
                                    [--api-url URL] --host-token-file FILE|-
  driftless commit-status host delete NAME
  driftless commit-status list [--sha SHA] [--context C] [--limit N]
  driftless commit-status posts [--sha SHA] [--limit N]

Flags:
${flagsHelp(FLAGS, 'DRIFTLESS')}
`;

/** Where the command writes and reads; injectable for tests. */
export interface CommitStatusCliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Reads all of stdin (for `--host-token-file -`); default process.stdin. */
  stdin?: () => Promise<string>;
}

type Row = Record<string, unknown>;

const col = (header: string, cell: (r: Row) => unknown): Column<Row> => ({
  header,
  cell: (r) => {
    const v = cell(r);
    if (v === undefined || v === null || v === '') return '-';
    return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : `${v as number}`;
  },
});

/** Reads the host token from a file or stdin (`-`), without its trailing newline. */
async function readToken(path: string, stdin: () => Promise<string>): Promise<string> {
  const text = path === '-' ? await stdin() : await readFile(path, 'utf8');
  const token = text.replace(/\r?\n$/, '');
  if (!token) throw new FlagError(`--host-token-file ${path}: it is empty`);
  return token;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Runs `driftless commit-status` with the arguments after `commit-status`; resolves to the
 * exit code (0 done, 1 the hub refused or is unreachable, 2 bad usage).
 */
export async function runCommitStatusCli(argv: string[], io: CommitStatusCliIo): Promise<number> {
  try {
    const parsed = parseFlags(FLAGS, argv, { envPrefix: 'DRIFTLESS', env: io.env ?? process.env });
    const f = parsed.values;
    const [verb, sub, name] = parsed.positionals;
    if (parsed.help || !verb) {
      io.stdout(COMMIT_STATUS_USAGE);
      return verb || parsed.help ? 0 : 2;
    }
    if (f.output !== 'table' && f.output !== 'json')
      throw new FlagError(`--output "${f.output}": use table or json`);
    const client = new HubClient({ base: f.hub, token: f.token });
    const print = (value: unknown, table: () => string) =>
      io.stdout(f.output === 'json' ? JSON.stringify(value, null, 2) + '\n' : table());
    const query = (params: Record<string, string | number>) => {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) if (v !== '' && v !== 0) q.set(k, `${v}`);
      return q.size ? `?${q.toString()}` : '';
    };
    const hostPath = () => {
      if (!name) throw new FlagError(`commit-status host ${sub}: the host NAME is required`);
      return `/api/v1/commit-status/hosts/${encodeURIComponent(name)}`;
    };

    switch (verb === 'host' ? `host ${sub ?? ''}` : verb) {
      case 'host list': {
        const { items } = await client.call<{ items: Row[] }>('GET', '/api/v1/commit-status/hosts');
        print(items, () =>
          renderTable(items, [
            col('name', (r) => r['name']),
            col('kind', (r) => r['kind']),
            col('match', (r) => r['match']),
            col('api url', (r) => r['apiUrl']),
            col('token', (r) => (r['tokenSet'] ? 'set' : 'missing')),
            col('updated', (r) => timeText(r['updatedAt'])),
          ]),
        );
        return 0;
      }
      case 'host set': {
        const path = hostPath();
        if (!f.kind) throw new FlagError('commit-status host set: --kind is required');
        if (!f.match) throw new FlagError('commit-status host set: --match is required');
        const token = f.hostTokenFile
          ? await readToken(f.hostTokenFile, io.stdin ?? readStdin)
          : undefined;
        const h = await client.call<Row>('PUT', path, {
          kind: f.kind,
          match: f.match,
          ...(f.apiUrl ? { apiUrl: f.apiUrl } : {}),
          ...(token ? { token } : {}),
        });
        print(
          h,
          () =>
            `Host ${String(h['name'])} (${String(h['kind'])}) set: statuses for ${String(h['match'])} go to ${String(h['apiUrl'])}.\n`,
        );
        return 0;
      }
      case 'host delete': {
        await client.call('DELETE', hostPath());
        print({ deleted: name }, () => `Host ${name} deleted with its token.\n`);
        return 0;
      }
      case 'list': {
        const { items } = await client.call<{ items: Row[] }>(
          'GET',
          `/api/v1/commit-status/statuses${query({ sha: f.sha, context: f.context, limit: f.limit })}`,
        );
        print(items, () =>
          renderTable(items, [
            col('commit', (r) => shortRev(r['sha'])),
            col('context', (r) => r['context']),
            col('state', (r) => r['state']),
            col('posted', (r) => (r['posted'] ? 'yes' : `no (${String(r['attempts'])} tries)`)),
            col('description', (r) => r['description']),
            col('last error', (r) => r['lastError']),
          ]),
        );
        return 0;
      }
      case 'posts': {
        const { items } = await client.call<{ items: Row[] }>(
          'GET',
          `/api/v1/commit-status/posts${query({ sha: f.sha, limit: f.limit })}`,
        );
        print(items, () =>
          renderTable(items, [
            col('at', (r) => timeText(r['at'])),
            col('commit', (r) => shortRev(r['sha'])),
            col('context', (r) => r['context']),
            col('host', (r) => r['host']),
            col('state', (r) => r['state']),
            col('result', (r) => r['result']),
            col('http', (r) => r['httpStatus']),
            col('error', (r) => r['error']),
          ]),
        );
        return 0;
      }
      default:
        throw new FlagError(
          `unknown command "commit-status ${[verb, sub].filter(Boolean).join(' ')}"`,
        );
    }
  } catch (err) {
    if (err instanceof FlagError) {
      io.stderr(`driftless: ${err.message}\nRun driftless commit-status --help for usage.\n`);
      return 2;
    }
    if (err instanceof ApiError || err instanceof HubUnreachableError) {
      io.stderr(`driftless: ${err.message}\n`);
      return 1;
    }
    io.stderr(`driftless: ${errorMessage(err)}\n`);
    return 1;
  }
}
