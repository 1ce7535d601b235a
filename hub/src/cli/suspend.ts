/**
 * `driftless suspend` and `driftless resume`: the break-glass pause of applying and healing of a
 * cluster or one app, over the hub API (POST /api/v1/clusters/{name}/suspend and /resume).
 */
import { errorMessage, FlagError, flagsHelp, parseFlags, type FlagSpec } from '@driftless/common';
import { ApiError, HubClient, HubUnreachableError } from './client.ts';
import { timeText } from './table.ts';
import type { CliIo } from './main.ts';

/** The flags of suspend and resume (the hub, token and output flags as every command has). */
export const SUSPEND_FLAGS = {
  hub: { type: 'string', default: 'http://127.0.0.1:7080', help: 'Base URL of the hub HTTP API.' },
  token: {
    type: 'string',
    default: '',
    help: 'API token to authenticate with (suspend and resume need the operator role).',
  },
  output: {
    type: 'string',
    default: 'table',
    short: 'o',
    help: 'Output format: table (for people) or json (for scripts).',
  },
  for: {
    type: 'string',
    default: '',
    env: 'DRIFTLESS_CLI_FOR',
    help: 'How long the pause lasts, e.g. 30m or 2h (up to the hub --max-suspension); or give --until.',
  },
  until: {
    type: 'string',
    default: '',
    env: 'DRIFTLESS_CLI_UNTIL',
    help: 'When the pause ends, as an ISO-8601 time (e.g. 2026-12-01T18:00:00Z); or give --for.',
  },
  reason: {
    type: 'string',
    default: '',
    env: 'DRIFTLESS_CLI_REASON',
    help: 'Why you pause, for the audit log and everyone who sees the pause (required).',
  },
} satisfies FlagSpec;

const USAGE = `Usage:
  driftless suspend CLUSTER[/APP] --for 30m --reason "why"   (or --until TIME)
  driftless resume CLUSTER[/APP]

suspend pauses applying and healing of a whole cluster, or of one app, until the
pause ends by itself (--for or --until; the hub caps it) or someone resumes it.
The agent keeps planning and reports drift and new commits as out of sync, but
writes nothing; it ends the pause on its own clock, even with the hub down.
The pause and its reason are audited and shown on the dashboard.

Flags:
${flagsHelp(SUSPEND_FLAGS, 'DRIFTLESS')}
`;

/** CLUSTER or CLUSTER/APP, split. */
export function parseScope(text: string, verb: string): { cluster: string; app: string } {
  const [cluster = '', app = '', ...rest] = text.split('/');
  if (!cluster || rest.length > 0 || (text.includes('/') && !app))
    throw new FlagError(`${verb}: give CLUSTER or CLUSTER/APP, not "${text}"`);
  return { cluster, app };
}

interface HubSuspension {
  id: string;
  cluster: string;
  app: string;
  reason: string;
  actor: string;
  since: string | null;
  until: string | null;
}

const scopeText = (s: { cluster: string; app: string }) =>
  s.app ? `app ${s.cluster}/${s.app}` : `cluster ${s.cluster} (every app)`;

/**
 * Runs `driftless suspend …` or `driftless resume …` (`argv` starts with the verb); resolves to
 * the exit code: 0 done, 1 refused by the hub or hub unreachable, 2 usage error.
 */
export async function runSuspendCli(argv: string[], io: CliIo): Promise<number> {
  const [verb = '', ...rest] = argv;
  try {
    if (verb !== 'suspend' && verb !== 'resume') throw new FlagError(`unknown command "${verb}"`);
    const parsed = parseFlags(SUSPEND_FLAGS, rest, {
      envPrefix: 'DRIFTLESS',
      env: io.env ?? process.env,
    });
    if (parsed.help) {
      io.stdout(USAGE);
      return 0;
    }
    const f = parsed.values;
    if (f.output !== 'table' && f.output !== 'json')
      throw new FlagError(`--output "${f.output}": use table or json`);
    const [target, extra] = parsed.positionals;
    if (!target || extra !== undefined)
      throw new FlagError(`${verb}: give one CLUSTER or CLUSTER/APP`);
    const scope = parseScope(target, verb);
    const client = new HubClient({ base: f.hub, token: f.token });
    const path = `/api/v1/clusters/${encodeURIComponent(scope.cluster)}/${verb}`;
    const print = (value: unknown, table: () => string) =>
      io.stdout(f.output === 'json' ? JSON.stringify(value, null, 2) + '\n' : table());

    if (verb === 'suspend') {
      if (!f.for && !f.until)
        throw new FlagError('suspend: --for DURATION (e.g. 30m) or --until TIME is required');
      if (f.for && f.until) throw new FlagError('suspend: give --for or --until, not both');
      if (!f.reason.trim()) throw new FlagError('suspend: --reason is required');
      const answer = await client.call<{ suspension: HubSuspension; replaced: HubSuspension[] }>(
        'POST',
        path,
        {
          ...(scope.app ? { app: scope.app } : {}),
          ...(f.for ? { for: f.for } : { until: f.until }),
          reason: f.reason,
        },
      );
      const s = answer.suspension;
      print(
        answer,
        () =>
          `Paused ${scopeText(s)} until ${timeText(s.until)} (by ${s.actor}): ${s.reason}\n` +
          (answer.replaced.length
            ? `It replaces the pause that ran until ${timeText(answer.replaced[0]?.until)}.\n`
            : '') +
          `The agent applies and heals nothing there until then, and still reports drift.\n` +
          `End it early with: driftless resume ${target}\n`,
      );
      return 0;
    }
    const answer = await client.call<{ resumed: HubSuspension[] }>(
      'POST',
      path,
      scope.app ? { app: scope.app } : {},
    );
    print(
      answer,
      () =>
        `Resumed ${scopeText(scope)}: the agent applies and heals again (${answer.resumed.length} pause(s) ended).\n`,
    );
    return 0;
  } catch (err) {
    if (err instanceof FlagError) {
      io.stderr(
        `driftless: ${err.message}\nRun driftless ${verb || 'suspend'} --help for usage.\n`,
      );
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
