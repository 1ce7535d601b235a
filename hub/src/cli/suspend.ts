/**
 * `driftless suspend` and `driftless resume`: the break-glass pause of applying and healing of a
 * cluster or one app, over the hub API (POST /api/v1/clusters/{name}/suspend and /resume).
 */
import { CliError, defineCommand, oneArg, UsageError } from './command.ts';
import { durationText } from './flags.ts';
import { timeText } from './table.ts';

/** CLUSTER or CLUSTER/APP, split. */
export function parseScope(text: string, verb: string): { cluster: string; app: string } {
  const [cluster = '', app = '', ...rest] = text.split('/');
  if (!cluster || rest.length > 0 || (text.includes('/') && !app))
    throw new UsageError(`${verb}: give CLUSTER or CLUSTER/APP, not "${text}"`);
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

const pathOf = (cluster: string, verb: string) =>
  `/api/v1/clusters/${encodeURIComponent(cluster)}/${verb}`;

const suspendCommand = defineCommand({
  name: 'suspend',
  usage: 'CLUSTER[/APP] (--for DURATION | --until TIME) --reason TEXT',
  summary: 'pause applying and healing of a cluster or an app for a while (break-glass)',
  description: `Pauses applying, pruning and healing of every app of a cluster, or of one app,
until the pause ends by itself (--for or --until; the hub caps it with --max-suspension) or
someone resumes it. The agent keeps planning and still reports drift and new commits (as out of
sync), but writes nothing; it ends the pause on its own clock, even with the hub down. The pause
and its reason are audited and shown on the dashboard. A new pause of the same scope replaces
the one in force. Needs the operator role.

Examples:
  driftless suspend prod-eu/payments --for 30m --reason "INC-4711: hot-fixing by hand"
  driftless suspend prod-eu --until 2026-12-01T18:00:00Z --reason "migration freeze"`,
  flags: {
    for: {
      type: 'string',
      default: '',
      help: 'How long the pause lasts, e.g. 30m or 2h (up to the hub --max-suspension); or give --until.',
    },
    until: {
      type: 'string',
      default: '',
      help: 'When the pause ends, as an ISO-8601 time (e.g. 2026-12-01T18:00:00Z); or give --for.',
    },
    reason: {
      type: 'string',
      default: '',
      help: 'Why you pause, for the audit log and everyone who sees the pause (required).',
    },
  },
  async run({ client, args, flags, print }) {
    const target = oneArg('suspend', args, 'CLUSTER or CLUSTER/APP');
    const scope = parseScope(target, 'suspend');
    if (!flags.for && !flags.until)
      throw new UsageError('suspend: --for DURATION (e.g. 30m) or --until TIME is required');
    if (flags.for && flags.until) throw new UsageError('suspend: give --for or --until, not both');
    if (!flags.reason.trim()) throw new UsageError('suspend: --reason is required');
    const answer = await client.call<{ suspension: HubSuspension; replaced: HubSuspension[] }>(
      'POST',
      pathOf(scope.cluster, 'suspend'),
      {
        ...(scope.app ? { app: scope.app } : {}),
        ...(flags.for ? { for: durationText('--for', flags.for) } : { until: flags.until }),
        reason: flags.reason,
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
  },
});

const resumeCommand = defineCommand({
  name: 'resume',
  usage: 'CLUSTER[/APP]',
  summary: 'end a pause of a cluster or an app now',
  description: `Ends the pause from the hub of a cluster (driftless resume CLUSTER) or of one app
(CLUSTER/APP) now: the agent syncs and heals at once. Exit 1 when no such pause is in force, or
when the app is paused by suspend: true in Git (remove it there). Audited. Needs the operator
role.`,
  flags: {},
  async run({ client, args, print }) {
    const target = oneArg('resume', args, 'CLUSTER or CLUSTER/APP');
    const scope = parseScope(target, 'resume');
    const answer = await client.call<{ resumed: HubSuspension[] }>(
      'POST',
      pathOf(scope.cluster, 'resume'),
      scope.app ? { app: scope.app } : {},
    );
    if (answer.resumed.length === 0) throw new CliError(`resume: nothing was paused there`);
    print(
      answer,
      () =>
        `Resumed ${scopeText(scope)}: the agent applies and heals again (${answer.resumed.length} pause(s) ended).\n`,
    );
    return 0;
  },
});

/** `driftless suspend` and `driftless resume`. */
export const suspendCommands = [suspendCommand, resumeCommand];
