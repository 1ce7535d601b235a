/**
 * The `driftless` command line: flags, usage and one function per command over the hub's HTTP
 * API. Over 400 lines because every command is a short case of one table; split it when a
 * command grows logic of its own.
 */
import {
  errorMessage,
  FlagError,
  flagEnvName,
  flagsHelp,
  parseFlags,
  type FlagSpec,
} from '@driftless/common';
import { ApiError, HubClient, HubUnreachableError } from './client.ts';
import { labelsText, renderTable, shortRev, timeText, type Column } from './table.ts';
import { runSuspendCli } from './suspend.ts';

/** Flags every command takes. */
const GLOBAL_FLAGS = {
  hub: {
    type: 'string',
    default: 'http://127.0.0.1:7080',
    help: 'Base URL of the hub HTTP API.',
  },
  token: {
    type: 'string',
    default: '',
    help: 'API token to authenticate with (its role decides what you may do).',
  },
  output: {
    type: 'string',
    default: 'table',
    short: 'o',
    help: 'Output format: table (for people) or json (for scripts).',
  },
} satisfies FlagSpec;

/** Flags of individual commands; all are parsed, each command reads its own. */
const COMMAND_FLAGS = {
  cluster: { type: 'string', default: '', help: 'Cluster name.' },
  labels: {
    type: 'string',
    default: '',

    help: 'Cluster labels for token create, as k=v,k2=v2.',
  },
  ttl: {
    type: 'string',
    default: '1h',

    help: 'How long a new enrollment token is valid, e.g. 30m, 1h, 24h.',
  },
  uses: {
    type: 'number',
    default: 1,

    help: 'How many enrollments a new token allows.',
  },
  selector: {
    type: 'string',
    default: '',
    short: 'l',

    help: 'Cluster label selector, e.g. env=prod,region=eu.',
  },
  app: { type: 'string', default: '', help: 'App name.' },
  state: {
    type: 'string',
    default: 'open',

    help: 'Which drift to list: open, healed or all.',
  },
  limit: {
    type: 'number',
    default: 0,

    help: 'Most rows to return (0: the hub default).',
  },
  revision: {
    type: 'string',
    default: '',

    help: 'Commit SHA the approval is for.',
  },
  planDigest: {
    type: 'string',
    default: '',

    help: 'Plan digest the approval is for (from cluster get / app list).',
  },
  name: {
    type: 'string',
    default: '',

    help: 'Name of a new API token.',
  },
  role: {
    type: 'string',
    default: 'viewer',

    help: 'Role of a new API token: viewer, operator, approver or admin.',
  },
} satisfies FlagSpec;

/**
 * Command flags read `DRIFTLESS_CLI_<FLAG>` (`--plan-digest` is `DRIFTLESS_CLI_PLAN_DIGEST`),
 * so they cannot be mistaken for the agent's `DRIFTLESS_` variables; global flags read
 * `DRIFTLESS_<FLAG>`. Both by common's one naming rule.
 */
const withEnvPrefix = <S extends FlagSpec>(spec: S, prefix: string): S =>
  Object.fromEntries(
    Object.entries(spec).map(([name, flag]) => [name, { ...flag, env: flagEnvName(prefix, name) }]),
  ) as S;

const SPEC = { ...GLOBAL_FLAGS, ...withEnvPrefix(COMMAND_FLAGS, 'DRIFTLESS_CLI') };

const USAGE = `driftless: the Driftless command line, over the hub HTTP API

Usage: driftless <command> [flags]

Commands:
  token create --cluster NAME [--labels k=v,...] [--ttl 1h] [--uses 1]
                                 create an enrollment token (printed once)
  token list                     list enrollment tokens
  token revoke ID                revoke an enrollment token
  cluster list [-l SELECTOR]     list clusters
  cluster get NAME               show a cluster and its apps
  cluster revoke NAME            revoke a cluster: closes its stream, refuses it from then on
  cluster allow-enroll NAME      let a revoked cluster enroll again (with a new token)
  app list [--cluster C] [-l SELECTOR]
                                 list apps across the fleet
  drift [-l SELECTOR] [--cluster C] [--app A] [--state open|healed|all]
                                 list drift across the fleet
  history [--cluster C] [--app A] [-l SELECTOR] [--limit N]
                                 list sync history
  approve --cluster C --app A --revision SHA --plan-digest D
                                 approve one plan of one app
  api-token create --name N --role R | api-token list | api-token revoke ID
                                 manage API tokens (admin)

Flags:
${flagsHelp(SPEC, 'DRIFTLESS')}
`;

/** Where the CLI writes; injectable for tests. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env?: NodeJS.ProcessEnv;
}

type Row = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const col = (header: string, cell: (r: Row) => unknown): Column<Row> => ({
  header,
  cell: (r) => {
    const v = cell(r);
    if (v === undefined || v === null || v === '') return '-';
    if (typeof v === 'string') return v;
    return typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  },
});

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  if (argv[0] === 'suspend' || argv[0] === 'resume') return runSuspendCli(argv, io);
  let parsed;
  try {
    parsed = parseFlags(SPEC, argv, { envPrefix: 'DRIFTLESS', env: io.env ?? process.env });
  } catch (err) {
    if (err instanceof FlagError) {
      io.stderr(`driftless: ${err.message}\nRun driftless --help for usage.\n`);
      return 2;
    }
    throw err;
  }
  const f = parsed.values;
  const [cmd, sub, arg] = parsed.positionals;
  if (parsed.help || !cmd) {
    io.stdout(USAGE);
    return cmd || parsed.help ? 0 : 2;
  }
  if (f.output !== 'table' && f.output !== 'json') {
    io.stderr(`driftless: --output "${f.output}": use table or json\n`);
    return 2;
  }
  const client = new HubClient({ base: f.hub, token: f.token });
  const print = (value: unknown, table: () => string) =>
    io.stdout(f.output === 'json' ? JSON.stringify(value, null, 2) + '\n' : table());
  const need = (value: string, flag: string, command: string) => {
    if (!value) throw new FlagError(`${command}: ${flag} is required`);
    return value;
  };
  const query = (params: Record<string, string | number>) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== '' && v !== 0) q.set(k, `${v}`);
    const s = q.toString();
    return s ? `?${s}` : '';
  };

  try {
    switch (`${cmd} ${sub ?? ''}`.trim()) {
      case 'token create': {
        const t = await client.call<Row>('POST', '/api/v1/tokens', {
          cluster: need(f.cluster, '--cluster', 'token create'),
          labels: f.labels,
          ttl: f.ttl,
          uses: f.uses,
        });
        print(t, () =>
          [
            `Enrollment token for cluster ${t['cluster']} (id ${t['id']}, expires ${timeText(t['expiresAt'])}, ${t['maxUses']} use(s)):`,
            '',
            `  ${t['token']}`,
            '',
            'It is shown only now; the hub keeps only its hash. Give it to the agent of that cluster.',
            '',
          ].join('\n'),
        );
        return 0;
      }
      case 'token list': {
        const { items } = await client.call<{ items: Row[] }>('GET', '/api/v1/tokens');
        print(items, () =>
          renderTable(items, [
            col('id', (r) => r['id']),
            col('cluster', (r) => r['cluster']),
            col('state', (r) => r['state']),
            col('uses', (r) => `${r['uses']}/${r['maxUses']}`),
            col('expires', (r) => timeText(r['expiresAt'])),
            col('labels', (r) => labelsText(r['labels'])),
            col('created by', (r) => r['createdBy']),
          ]),
        );
        return 0;
      }
      case 'token revoke': {
        const id = need(arg ?? '', 'the token ID', 'token revoke');
        const t = await client.call<Row>('POST', `/api/v1/tokens/${encodeURIComponent(id)}/revoke`);
        print(t, () => `Enrollment token ${t['id']} revoked.\n`);
        return 0;
      }
      case 'cluster list': {
        const { items } = await client.call<{ items: Row[] }>(
          'GET',
          `/api/v1/clusters${query({ selector: f.selector })}`,
        );
        print(items, () =>
          renderTable(items, [
            col('name', (r) => r['name']),
            col('connected', (r) => (r['revoked'] ? 'revoked' : r['connected'] ? 'yes' : 'no')),
            col('agent', (r) => r['agentVersion']),
            col('config', (r) => configText(r['config'])),
            col('last seen', (r) => timeText(r['lastSeen'])),
            col('labels', (r) => labelsText(r['labels'])),
          ]),
        );
        return 0;
      }
      case 'cluster get': {
        const name = need(arg ?? '', 'the cluster NAME', 'cluster get');
        const c = await client.call<Row>('GET', `/api/v1/clusters/${encodeURIComponent(name)}`);
        print(c, () =>
          [
            `Name:        ${c['name']}`,
            `Connected:   ${c['revoked'] ? `revoked at ${timeText(c['revokedAt'])}` : c['connected'] ? 'yes' : 'no'}`,
            `Agent:       ${c['agentVersion'] || '-'}`,
            `Last seen:   ${timeText(c['lastSeen'])}`,
            `Enrolled:    ${timeText(c['enrolledAt'])}`,
            `Labels:      ${labelsText(c['labels'])}`,
            `Config:      ${configText(c['config'], true)}`,
            '',
            renderTable(c['apps'] as Row[], appColumns(false)),
          ].join('\n'),
        );
        return 0;
      }
      case 'cluster revoke': {
        const name = need(arg ?? '', 'the cluster NAME', 'cluster revoke');
        const c = await client.call<Row>(
          'POST',
          `/api/v1/clusters/${encodeURIComponent(name)}/revoke`,
        );
        print(
          c,
          () =>
            `Cluster ${c['name']} revoked: its stream is closed and its certificates are refused.\n`,
        );
        return 0;
      }
      case 'cluster allow-enroll': {
        const name = need(arg ?? '', 'the cluster NAME', 'cluster allow-enroll');
        const c = await client.call<Row>(
          'POST',
          `/api/v1/clusters/${encodeURIComponent(name)}/allow-enrollment`,
        );
        print(
          c,
          () =>
            `Cluster ${c['name']} may enroll again: create a token with driftless token create --cluster ${c['name']}.\n`,
        );
        return 0;
      }
      case 'app list': {
        const { items } = await client.call<{ items: Row[] }>(
          'GET',
          `/api/v1/apps${query({ cluster: f.cluster, selector: f.selector })}`,
        );
        print(items, () => renderTable(items, appColumns(true)));
        return 0;
      }
      case 'drift': {
        const { items } = await client.call<{ items: Row[] }>(
          'GET',
          `/api/v1/drift${query({ selector: f.selector, cluster: f.cluster, app: f.app, state: f.state, limit: f.limit })}`,
        );
        print(items, () =>
          renderTable(items, [
            col('cluster', (r) => r['cluster']),
            col('app', (r) => r['app']),
            col('object', (r) => r['objectRef']),
            col('type', (r) => r['type']),
            col('fields', (r) =>
              (r['fields'] as Row[])
                .map(
                  (x) =>
                    `${x['path']}: ${JSON.stringify(x['desired'])} -> ${JSON.stringify(x['live'])}`,
                )
                .join('; '),
            ),
            col('changed by', (r) => r['changedBy']),
            col('detected', (r) => timeText(r['detectedAt'])),
            col('healed', (r) => (r['healed'] ? timeText(r['healedAt']) : 'no')),
          ]),
        );
        return 0;
      }
      case 'history': {
        const { items } = await client.call<{ items: Row[] }>(
          'GET',
          `/api/v1/history${query({ cluster: f.cluster, app: f.app, selector: f.selector, limit: f.limit })}`,
        );
        print(items, () =>
          renderTable(items, [
            col('finished', (r) => timeText(r['finishedAt'])),
            col('cluster', (r) => r['cluster']),
            col('app', (r) => r['app']),
            col('revision', (r) => shortRev(r['revision'])),
            col('result', (r) => r['result']),
            col('duration', (r) => `${r['durationMs']}ms`),
            col('trace', (r) => r['traceId']),
            col('error', (r) => r['error']),
          ]),
        );
        return 0;
      }
      case 'approve': {
        const a = await client.call<Row>('POST', '/api/v1/approvals', {
          cluster: need(f.cluster, '--cluster', 'approve'),
          app: need(f.app, '--app', 'approve'),
          revision: need(f.revision, '--revision', 'approve'),
          planDigest: need(f.planDigest, '--plan-digest', 'approve'),
        });
        print(
          a,
          () =>
            `Approved ${a['app']} on ${a['cluster']} at ${shortRev(a['revision'])} (plan ${a['planDigest']}): approval ${a['id']}, ${a['deliveredAt'] ? 'delivered to the agent' : 'delivered when the agent connects'}.\n`,
        );
        return 0;
      }
      case 'api-token create': {
        const t = await client.call<Row>('POST', '/api/v1/api-tokens', {
          name: need(f.name, '--name', 'api-token create'),
          role: f.role,
        });
        print(
          t,
          () =>
            `API token ${t['id']} (${t['name']}, role ${t['role']}), shown only now:\n\n  ${t['token']}\n\n`,
        );
        return 0;
      }
      case 'api-token list': {
        const { items } = await client.call<{ items: Row[] }>('GET', '/api/v1/api-tokens');
        print(items, () =>
          renderTable(items, [
            col('id', (r) => r['id']),
            col('name', (r) => r['name']),
            col('role', (r) => r['role']),
            col('state', (r) => r['state']),
            col('created', (r) => timeText(r['createdAt'])),
            col('created by', (r) => r['createdBy']),
          ]),
        );
        return 0;
      }
      case 'api-token revoke': {
        const id = need(arg ?? '', 'the token ID', 'api-token revoke');
        const t = await client.call<Row>(
          'POST',
          `/api/v1/api-tokens/${encodeURIComponent(id)}/revoke`,
        );
        print(t, () => `API token ${t['id']} revoked.\n`);
        return 0;
      }
      default:
        throw new FlagError(`unknown command "${[cmd, sub].filter(Boolean).join(' ')}"`);
    }
  } catch (err) {
    // A missing flag or an unknown command is a usage error like a bad flag: exit code 2.
    if (err instanceof FlagError) {
      io.stderr(`driftless: ${err.message}\nRun driftless --help for usage.\n`);
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

function appColumns(withCluster: boolean): Column<Row>[] {
  return [
    ...(withCluster ? [col('cluster', (r) => r['cluster'])] : []),
    col('app', (r) => r['app'] + (r['gone'] ? ' (gone)' : '')),
    col('revision', (r) => shortRev(r['revision'])),
    col('sync', (r) => r['syncStatus']),
    col('mode', (r) => r['syncMode']),
    col('health', (r) => r['health']),
    col('drift', (r) => r['driftCount']),
    col('plan', (r) => r['planDigest']),
    col('last sync', (r) => timeText(r['lastSync'])),
  ];
}

/**
 * A cluster's driftless.yaml state in the API's words: `valid`, `unknown`, or `failed`
 * (with the config in force and, in full, the problems).
 */
function configText(config: unknown, full = false): string {
  const c = (config ?? {}) as { state?: string; appliedRevision?: string; error?: string };
  if (c.state !== 'failed') return c.state ?? 'unknown';
  const running = c.appliedRevision ? `running ${c.appliedRevision.slice(0, 7)}` : 'no app synced';
  return full ? `failed (${running}): ${c.error ?? ''}` : `failed (${running})`;
}
