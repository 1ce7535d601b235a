/**
 * The agent's side of `driftless-agent run` that exists only with a hub: the outbox and its
 * journal, the identity check, the reporter that feeds the outbox and the link itself. run.ts
 * loads this module only when --hub-address is set, so a standalone agent never loads gRPC,
 * the generated protocol, X.509 or NATS; NATS is loaded only with --transport nats.
 */
import { join } from 'node:path';
import type { Logger } from '@driftless/common';
import type { AgentFlags } from '../config/index.ts';
import type { KubeClient } from '../kube/index.ts';
import { loadOptionalModule } from '../optional-module.ts';
import type { Reporter } from '../report/index.ts';
import { TreeReader, type TreeLimits } from '../tree/index.ts';
import type { HealthRule } from '../model.ts';
import { NotEnrolledError } from './errors.ts';
import { HubLink } from './hub-link.ts';
import { SecretIdentityStore } from './identity.ts';
import { Outbox } from './outbox.ts';
import { OutboxJournal } from './outbox-journal.ts';
import { LinkReporter } from './reporter.ts';
import type { LinkHooks } from './session.ts';
import { treeAnswerer } from './tree-convert.ts';
import { GrpcTransport, type LinkTransport } from './transport.ts';

/** The agent's options with a hub address (what `--hub-address` and the link flags resolved to). */
export type HubLinkSettings = AgentFlags & { hubAddress: string; agentVersion: string };

/** What the link asks of the running agent, once it exists: the link's hooks but the tree's. */
export type AgentHooks = Omit<LinkHooks, 'tree'> & {
  /** The health rules of an app, for the tree the hub asks for. */
  appRules: (app: string) => HealthRule[] | undefined;
  /** The inventory of an app, for the tree. */
  inventory: ConstructorParameters<typeof TreeReader>[0]['inventory'];
};

/** The prepared link: its reporter now, the link once the agent exists. */
export interface PreparedHubLink {
  /** Reports for the hub, kept in the outbox (and its journal) until acknowledged. */
  readonly reporter: Reporter;
  /** Creates the link (not started) once the agent it serves exists. */
  link(hooks: AgentHooks): Promise<HubLink>;
  /** Closes the journal (after the link has stopped). */
  close(): Promise<void>;
}

/**
 * Restores the outbox from the work directory's journal and checks that the agent can have an
 * identity. Throws {@link NotEnrolledError} when the cluster has no identity Secret and no
 * enrollment token is given (nothing could ever enroll it).
 */
export async function prepareHubLink(
  settings: HubLinkSettings,
  client: KubeClient,
  logger: Logger,
): Promise<PreparedHubLink> {
  // Unacknowledged reports are kept on the work-dir volume, so a restart does not lose them.
  const journal = new OutboxJournal({ path: join(settings.workDir, 'hub-outbox.json'), logger });
  const outbox = new Outbox({ maxMessages: settings.reportBufferSize, restore: journal.load() });
  journal.attach(outbox);
  const identities = new SecretIdentityStore(client, settings.stateNamespace);
  if (!settings.enrollmentToken && !(await identities.load())) {
    // Checked before anything runs: without a token there is no way to get an identity.
    throw new NotEnrolledError(
      `cluster ${settings.clusterName} is not enrolled with the hub at ${settings.hubAddress} (no Secret ${identities.where}) and no enrollment token is given: create one with "driftless token create --cluster ${settings.clusterName}" and set DRIFTLESS_ENROLLMENT_TOKEN, or run without --hub-address`,
    );
  }
  return {
    reporter: new LinkReporter(outbox, logger),
    link: async (hooks) =>
      new HubLink({
        cluster: settings.clusterName,
        agentVersion: settings.agentVersion,
        repoUrl: settings.repoUrl,
        branch: settings.branch,
        labels: settings.clusterLabels,
        transport: await linkTransport(settings, identities.where, logger),
        identities,
        outbox,
        hooks: {
          refresh: (revision) => hooks.refresh(revision),
          statuses: () => hooks.statuses(),
          approvals: hooks.approvals,
          ...(hooks.suspensions ? { suspensions: hooks.suspensions } : {}),
          tree: treeAnswerer(
            new TreeReader({
              cluster: settings.clusterName,
              client,
              inventory: (app) => hooks.inventory(app),
              appRules: (app) => hooks.appRules(app),
              limits: { deadlineMs: settings.treeDeadlineMs } satisfies Partial<TreeLimits>,
            }),
          ),
        },
        enrollment: { token: settings.enrollmentToken, caPem: settings.hubCaPem },
        logger,
      }),
    close: () => journal.close(),
  };
}

/** The link's transport: gRPC, or NATS (which still enrolls over gRPC). */
async function linkTransport(
  settings: HubLinkSettings,
  identityWhere: string,
  logger: Logger,
): Promise<LinkTransport> {
  const grpc = new GrpcTransport({
    address: settings.hubAddress,
    serverName: settings.hubServerName,
    ...(settings.hubCaFile ? { caFile: settings.hubCaFile } : {}),
    identityWhere,
  });
  if (settings.transport !== 'nats' || !settings.natsUrl) return grpc;
  const { NatsTransport } = await loadOptionalModule(
    'the NATS transport',
    () => import('./nats-transport.ts'),
  );
  return new NatsTransport({
    servers: settings.natsUrl,
    cluster: settings.clusterName,
    enrollVia: grpc,
    logger,
    // The client reconnects by itself; its state changes are logged (never its credentials).
    onStatus: (e) =>
      e.type === 'error'
        ? logger.warn({ nats: e }, `hub link: NATS: ${e.error}`)
        : logger.info({ nats: e }, `hub link: NATS ${e.type}`),
  });
}
