/**
 * `make demo`: runs the whole product on this machine — two local clusters (dev, prod), a Git
 * server with an example fleet, the hub (SQLite, dashboard at /) and an enrolled agent per
 * cluster — prints how to reach each and what to try, and runs until Ctrl-C, which stops
 * everything and exits 0. See docs/demo.md.
 *
 * `--check` starts everything, waits until both clusters' apps are Synced and Healthy on the hub
 * (prod's manual podinfo waiting for an approval), prints the same summary and stops: the
 * non-interactive form that test/e2e/demo.test.ts runs.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startEnvironment, waitFor, type Environment, type HubApp } from './environment.ts';
import { printNotifications } from './notifications.ts';

const USAGE = `Usage: node test/demo/demo.ts [--check] [--poll-interval 1m]

  --check            start everything, wait until the fleet has converged, print the summary, stop
  --poll-interval D  the agents' Git poll interval (default 1m; pushes reach them at once through
                     the hub's webhook receiver)
`;

/** Whether the hub shows the fleet as the demo expects it once the first commit is in. */
function converged(apps: HubApp[], head: string): boolean {
  const find = (cluster: string, app: string) =>
    apps.find((a) => a.cluster === cluster && a.app === app && a.revision === head);
  const ready = (a: HubApp | undefined) => a?.syncStatus === 'synced' && a.health === 'healthy';
  const prodPodinfo = find('prod', 'podinfo');
  return (
    ready(find('dev', 'infrastructure')) &&
    ready(find('dev', 'podinfo')) &&
    ready(find('prod', 'infrastructure')) &&
    // Nothing applied yet in prod: the plan waits for an approval of its digest.
    prodPodinfo?.syncStatus === 'out-of-sync' &&
    prodPodinfo.planDigest !== ''
  );
}

/** The fleet as a small table, as `driftless app list` shows it. */
function appTable(apps: HubApp[]): string {
  const rows = [
    ['CLUSTER', 'APP', 'REVISION', 'SYNC', 'MODE', 'HEALTH'],
    ...apps.map((a) => [
      a.cluster,
      a.app,
      a.revision.slice(0, 12),
      a.syncStatus,
      a.syncMode,
      a.health,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => '    ' + r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n');
}

/** The folder holding `bin/driftless`, the launcher that runs the CLI from this checkout. */
const BIN_DIR = resolve(import.meta.dirname, '../../bin');

/**
 * Everything a person needs to use the running demo, with commands to copy. Every line that
 * starts with `$ ` is a command that works as printed, in the order printed, in one shell
 * (test/e2e/demo.test.ts runs them so): none carries a value that an earlier step changes —
 * approve approves the plan pending when it runs, wait reads the revision from Git. The
 * approval comes before the push, so prod's plan cannot move under it.
 */
function summary(env: Environment, apps: HubApp[]): string {
  const { hub, git, repo, clusters } = env;
  const cloneUrl = repo.url.replace(
    '://',
    `://${encodeURIComponent(git.credentials.username)}:${encodeURIComponent(git.credentials.password)}@`,
  );
  const pki = (cluster: 'dev' | 'prod', file: string) => join(clusters[cluster].dir, 'pki', file);
  const curlKube = (cluster: 'dev' | 'prod') =>
    `curl -sf --cacert ${pki(cluster, 'ca.crt')} --cert ${pki(cluster, 'admin.crt')} --key ${pki(cluster, 'admin.key')}`;
  return `
Driftless is running.

  Hub (dashboard)   ${hub.httpUrl}/
  Admin API token   ${hub.adminToken}
  Hub gRPC          ${hub.grpcAddress} (agents connect here over mTLS; CA ${hub.caFile})
  Fleet repository  ${cloneUrl}
  Kubeconfig dev    ${clusters.dev.kubeconfigPath}
  Kubeconfig prod   ${clusters.prod.kubeconfigPath}
  Agent logs        ${env.agents.dev.process.logPath}
                    ${env.agents.prod.process.logPath}
  Hub log           ${hub.process.logPath}${
    env.jaeger
      ? `
  Jaeger (traces)   ${env.jaeger.queryUrl}/api/traces?service=driftless-agent  (OTLP in at ${env.jaeger.otlpHttpUrl}; the dashboard's trace links open each trace)`
      : ''
  }

The fleet as the hub sees it:
${appTable(apps)}

Things to try, in another terminal, in this order (the lines after $; \`make install\` puts
driftless on your PATH, the first line does it for this shell only):

  $ export PATH="${BIN_DIR}:$PATH"
  $ export DRIFTLESS_HUB=${hub.httpUrl} DRIFTLESS_TOKEN=${hub.adminToken}
  $ driftless version
  $ driftless app list

  1. prod's podinfo is sync: manual: its first plan waits for an approval. See it field by
     field, approve exactly the plan shown (drop --yes to be asked first), and wait until prod
     runs it, synced and healthy:
  $ driftless approvals
  $ driftless app diff prod/podinfo
  $ driftless approve prod/podinfo --yes
  $ driftless wait --cluster prod --app podinfo --revision "$(git ls-remote ${cloneUrl} HEAD | cut -f1)" --timeout 2m
  $ ${curlKube('prod')} '${clusters.prod.server}/apis/apps/v1/namespaces/podinfo/deployments/podinfo' | grep '"replicas"'

  2. Change dev through Git: clone, set 3 replicas in dev's overlay and push. The Git server's
     post-receive hook calls the hub's webhook, the hub hints the agents, dev applies it;
     wait returns once dev runs the new commit, synced and healthy.
  $ fleet=$(mktemp -d) && git clone -q ${cloneUrl} "$fleet"
  $ sed -i 's/count: 1/count: 3/' "$fleet/apps/podinfo/overlays/dev/kustomization.yaml"
  $ git -C "$fleet" -c user.name=you -c user.email=you@example.com commit -qam 'dev: 3 replicas'
  $ git -C "$fleet" push -q
  $ driftless wait -l env=dev --revision "$(git -C "$fleet" rev-parse HEAD)" --timeout 2m
  $ driftless app get dev/podinfo

  3. Cause drift in dev (what "kubectl scale" does) and see it detected and healed:
  $ ${curlKube('dev')} -X PATCH -H 'Content-Type: application/merge-patch+json' \\
      '${clusters.dev.server}/apis/apps/v1/namespaces/podinfo/deployments/podinfo?fieldManager=kubectl-edit' \\
      -d '{"spec":{"replicas":5}}' >/dev/null
  $ driftless drift --cluster dev --state all
     (with kubectl: KUBECONFIG=${clusters.dev.kubeconfigPath} kubectl -n podinfo scale deploy/podinfo --replicas 5)

  docs/demo.md walks through these and more (driftless events, history, sync). Ctrl-C stops
  everything.
`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      check: { type: 'boolean', default: false },
      'poll-interval': { type: 'string', default: '1m' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  // Ctrl-C (or SIGTERM) at any point stops what runs and exits 0; the harness's own handlers
  // have already asked every server to stop, this waits for them and says so.
  let stopRequested = false;
  const stopSignal = new Promise<void>((resolve) => {
    const onSignal = (name: string) => {
      if (stopRequested) return;
      stopRequested = true;
      process.stdout.write(`\n${name}: stopping the demo ...\n`);
      resolve();
    };
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGTERM', () => onSignal('SIGTERM'));
  });

  const started = Date.now();
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const starting = startEnvironment({ pollInterval: values['poll-interval'], log, tracing: true });
  const env = await Promise.race([starting, stopSignal.then(() => undefined)]);
  if (!env) {
    await starting.then((e) => e.stop()).catch(() => {});
    return 0;
  }
  // Notifications: a local receiver prints each one the hub sends (docs/notifications.md).
  const notifications = await printNotifications(env.hub, log);
  try {
    log('waiting for both clusters to converge ...');
    const head = await env.repo.head();
    let apps: HubApp[] = [];
    const ok = await Promise.race([
      waitFor(
        'the fleet to converge on the hub',
        async () => {
          apps = await env.apps();
          return converged(apps, head) ? true : undefined;
        },
        { timeoutMs: 120_000, everyMs: 250 },
      ).catch((error: unknown) => {
        log(`the fleet did not converge: ${String(error)}`);
        return false;
      }),
      stopSignal.then(() => false),
    ]);
    if (stopRequested) return 0;
    apps = await env.apps();
    process.stdout.write(summary(env, apps));
    log(
      `\n${ok ? 'Converged' : 'NOT converged'} ${((Date.now() - started) / 1000).toFixed(1)} s after start.`,
    );
    if (values.check) return ok ? 0 : 1;
    await stopSignal;
    return 0;
  } finally {
    await env.stop();
    await notifications.stop();
    log('stopped.');
  }
}

process.exitCode = await main();
