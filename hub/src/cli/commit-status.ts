/**
 * `driftless commit-status …`: the Git hosts that take commit statuses (their tokens are read
 * from a file or stdin, never a flag, and never shown again), what each commit shows, and the
 * log of posts. See docs/commit-status.md.
 */
import { readFile } from 'node:fs/promises';
import { defineCommand, oneArg, UsageError, type CliIo } from './command.ts';
import { limitFlag, query } from './flags.ts';
import { col, renderTable, shortRev, timeText, type Row } from './table.ts';

/** Reads all of `io.stdin` (default process.stdin). */
async function readStdin(io: CliIo): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of io.stdin ?? process.stdin)
    chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** The host token from a file or stdin (`-`), without its trailing newline. */
async function readToken(path: string, io: CliIo): Promise<string> {
  const text = path === '-' ? await readStdin(io) : await readFile(path, 'utf8');
  const token = text.replace(/\r?\n$/, '');
  if (!token) throw new UsageError(`--host-token-file ${path}: it is empty`);
  return token;
}

const hostPath = (name: string) => `/api/v1/commit-status/hosts/${encodeURIComponent(name)}`;

const shaFlag = {
  type: 'string',
  default: '',
  help: 'Only this commit (a SHA, or a prefix of 7 or more hex digits).',
} as const;

/** The `commit-status` commands. */
export const commitStatusCommands = [
  defineCommand({
    name: 'commit-status host list',
    usage: '',
    summary: 'list the Git hosts that take commit statuses (admin)',
    flags: {},
    async run({ client, print }) {
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
    },
  }),
  defineCommand({
    name: 'commit-status host set',
    usage: 'NAME --kind KIND --match HOST[:PORT][/PREFIX] [--api-url URL] [--host-token-file F]',
    summary: 'add or change a Git host and its token (admin)',
    description:
      'The token is read from a file, or from stdin with -, never from a flag (flags show in the process list); it is required for a new host and kept when omitted. Without --api-url the usual API root of the kind is used.',
    flags: {
      kind: { type: 'string', default: '', help: 'github, gitlab or gitea.' },
      match: {
        type: 'string',
        default: '',
        help: 'Repository URLs the host serves, as host[:port][/path-prefix], e.g. github.com.',
      },
      apiUrl: {
        type: 'string',
        default: '',
        help: "API root, e.g. https://ghe.example.com/api/v3; empty: the kind's usual one.",
      },
      hostTokenFile: {
        type: 'string',
        default: '',
        help: 'File holding the host token (a trailing newline is ignored); - reads stdin.',
      },
    },
    async run({ client, args, flags, print, io }) {
      const name = oneArg('commit-status host set', args, 'the host NAME');
      if (!flags.kind) throw new UsageError('commit-status host set: --kind is required');
      if (!flags.match) throw new UsageError('commit-status host set: --match is required');
      const token = flags.hostTokenFile ? await readToken(flags.hostTokenFile, io) : undefined;
      const h = await client.call<Row>('PUT', hostPath(name), {
        kind: flags.kind,
        match: flags.match,
        ...(flags.apiUrl ? { apiUrl: flags.apiUrl } : {}),
        ...(token ? { token } : {}),
      });
      print(
        h,
        () =>
          `Host ${h['name']} (${h['kind']}) set: statuses for ${h['match']} go to ${h['apiUrl']}.\n`,
      );
      return 0;
    },
  }),
  defineCommand({
    name: 'commit-status host delete',
    usage: 'NAME',
    summary: 'delete a Git host and its token (admin)',
    flags: {},
    async run({ client, args, print }) {
      const name = oneArg('commit-status host delete', args, 'the host NAME');
      await client.call('DELETE', hostPath(name));
      print({ deleted: name }, () => `Host ${name} deleted with its token.\n`);
      return 0;
    },
  }),
  defineCommand({
    name: 'commit-status list',
    usage: '[--sha SHA] [--context C] [--limit N]',
    summary: 'what each commit shows on its Git host, and whether it was posted',
    flags: {
      sha: shaFlag,
      context: { type: 'string', default: '', help: 'Only this context, e.g. driftless/prod-eu.' },
      limit: limitFlag,
    },
    async run({ client, flags, print }) {
      const { items } = await client.call<{ items: Row[] }>(
        'GET',
        `/api/v1/commit-status/statuses${query({ sha: flags.sha, context: flags.context, limit: flags.limit })}`,
      );
      print(items, () =>
        renderTable(items, [
          col('commit', (r) => shortRev(r['sha'])),
          col('context', (r) => r['context']),
          col('state', (r) => r['state']),
          col('posted', (r) => (r['posted'] ? 'yes' : `no (${r['attempts']} tries)`)),
          col('description', (r) => r['description']),
          col('last error', (r) => r['lastError']),
        ]),
      );
      return 0;
    },
  }),
  defineCommand({
    name: 'commit-status posts',
    usage: '[--sha SHA] [--limit N]',
    summary: 'the log of commit-status posts, newest first, with their result',
    flags: { sha: shaFlag, limit: limitFlag },
    async run({ client, flags, print }) {
      const { items } = await client.call<{ items: Row[] }>(
        'GET',
        `/api/v1/commit-status/posts${query({ sha: flags.sha, limit: flags.limit })}`,
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
    },
  }),
];
