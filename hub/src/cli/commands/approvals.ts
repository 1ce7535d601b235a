/** `driftless approvals` (pending plans across the fleet) and `driftless approve`. */
import { CliError, defineCommand, oneArg, parseAppRef, UsageError } from '../command.ts';
import { selectorFlag, yesFlag, clusterFlag } from '../flags.ts';
import { getApp, listApps, listClusters, pendingPlanOf } from '../lookup.ts';
import { planText } from '../plan-text.ts';
import { confirm, isInteractive } from '../prompt.ts';
import { col, renderTable, shortDigest, shortRev, timeText, type Row } from '../table.ts';
import { appMessage, planSummary, staleFootnote, stalenessOf } from '../views.ts';

/** What the footnote says of a pending plan whose agent does not report now. */
const APPROVAL_STALE =
  'an approval goes out when its agent is back; the plan may have changed by then (the approval is then refused, not applied)';

/** Approval commands. */
export const approvalCommands = [
  defineCommand({
    name: 'approvals',
    usage: '[--cluster C] [-l SELECTOR]',
    summary: 'list the plans that wait for an approval, across the fleet',
    description: `A manual app that is out of sync waits for an approval of its exact revision and
plan digest. JSON and YAML carry each app with its full revision, plan digest and plan.`,
    flags: { cluster: clusterFlag, selector: selectorFlag },
    async run({ client, flags, print }) {
      const apps = await listApps(client, { cluster: flags.cluster, selector: flags.selector });
      const waiting = apps.filter((a) => pendingPlanOf(a));
      // A plan its agent can no longer confirm is still the one to approve; the table says so.
      const stale = waiting.length
        ? stalenessOf(await listClusters(client, flags.cluster ? '' : flags.selector))
        : () => '';
      print(waiting, () =>
        waiting.length === 0
          ? 'No plan waits for an approval.\n'
          : renderTable(waiting, [
              col('cluster', (r) => r['cluster']),
              col('app', (r) => `${r['app']}${stale(r['cluster'] as string) ? ' (stale)' : ''}`),
              col('revision', (r) => shortRev(r['revision'])),
              col('plan', (r) => shortDigest(r['planDigest'])),
              col('changes', (r) => planSummary(r['pendingPlan'])),
              col('since', (r) => timeText(r['updatedAt'])),
              col('message', appMessage),
            ]) + staleFootnote(waiting, stale, APPROVAL_STALE),
      );
      return 0;
    },
  }),
  defineCommand({
    name: 'approve',
    usage: 'CLUSTER/APP [--yes]',
    summary: "show an app's pending plan and approve exactly that plan",
    description: `Shows the plan the app waits on (as driftless app diff does) and asks for
confirmation; the approval names that plan's revision and digest, so if Git or the cluster
changed meanwhile the hub refuses it (exit 1) and nothing is applied. Without a terminal
(scripts, CI) give --yes, else the command refuses (exit 2). --revision and --plan-digest,
when given, must name the pending plan too.

Examples:
  driftless approve prod/podinfo
  driftless approve prod/podinfo --yes -o json`,
    flags: {
      yes: yesFlag,
      revision: {
        type: 'string',
        default: '',
        help: 'Approve only if the pending plan is at this commit (full SHA or a prefix).',
      },
      planDigest: {
        type: 'string',
        default: '',
        help: 'Approve only if the pending plan has this digest.',
      },
    },
    async run({ client, args, flags, io, output, print }) {
      const { cluster, app } = parseAppRef('approve', oneArg('approve', args, 'CLUSTER/APP'));
      // Step 1: the plan the app waits on now.
      const a = await getApp(client, cluster, app);
      const pending = pendingPlanOf(a);
      if (!pending)
        throw new CliError(
          `approve ${cluster}/${app}: no plan waits for an approval (${a['syncStatus']}, mode ${a['syncMode']}, at ${shortRev(a['revision'])})`,
        );
      if (flags.revision && !pending.revision.startsWith(flags.revision.toLowerCase()))
        throw new CliError(
          `approve ${cluster}/${app}: the pending plan is at ${shortRev(pending.revision)}, not ${flags.revision}`,
        );
      if (flags.planDigest && flags.planDigest !== pending.planDigest)
        throw new CliError(
          `approve ${cluster}/${app}: the pending plan is ${pending.planDigest}, not ${flags.planDigest}`,
        );
      // Step 2: show it (to stderr when stdout carries JSON or YAML for a script).
      const shown = `Plan of ${cluster}/${app} at ${shortRev(pending.revision)} (plan ${shortDigest(pending.planDigest)}): ${planSummary(a['pendingPlan'])}\n\n${planText(a['pendingPlan'])}\n`;
      (output === 'table' ? io.stdout : io.stderr)(shown);
      // Step 3: confirmation.
      if (!flags.yes) {
        if (!isInteractive(io))
          throw new UsageError(
            `approve ${cluster}/${app}: not a terminal, so no one can confirm; give --yes to approve the plan shown`,
          );
        if (!(await confirm(io, `Approve this plan of ${cluster}/${app}?`))) {
          io.stderr('Not approved.\n');
          return 1;
        }
      }
      // Step 4: approve exactly the plan shown.
      const created = await client.call<Row>('POST', '/api/v1/approvals', {
        cluster,
        app,
        revision: pending.revision,
        planDigest: pending.planDigest,
      });
      print(
        created,
        () =>
          `Approved ${cluster}/${app} at ${shortRev(created['revision'])} (plan ${shortDigest(created['planDigest'])}): approval ${created['id']}, ${created['deliveredAt'] ? 'delivered to the agent' : 'delivered when the agent connects'}.\n`,
      );
      return 0;
    },
  }),
];
