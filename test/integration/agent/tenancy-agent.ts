/**
 * An in-process agent wired as `driftless-agent run` wires it for tenancy:
 * apps with a serviceAccountName act as it (sync and heals), and the Git
 * source can verify commit signatures. Shared by the tenancy, ownership and
 * signature tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { trace } from '@opentelemetry/api';
import type { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '@driftless/common';
import {
  Agent,
  ApprovalBook,
  DriftWatcher,
  GitSource,
  InventoryStore,
  KubeClient,
  TenantClients,
  type GitSourceOptions,
} from '@driftless/agent';
import { waitFor, type GitRepo, type GitServer } from '@driftless/test';
import { Recorder } from './fleet.ts';

/** An agent, its clients and what it reported. */
export interface TenancyAgent {
  agent: Agent;
  /** The agent's own client. */
  client: KubeClient;
  drift: DriftWatcher;
  recorder: Recorder;
  source: GitSource;
  close(): Promise<void>;
}

/** Builds (does not start) an agent for `repo` on the cluster of `kubeConfig`. */
export async function makeTenancyAgent(options: {
  kubeConfig: KubeConfig;
  git: GitServer;
  repo: GitRepo;
  verify?: GitSourceOptions['verify'];
  /** Reused across agents to test a restart; default a fresh temp folder. */
  workDir?: string;
}): Promise<TenancyAgent> {
  const workDir =
    options.workDir ?? (await mkdtemp(path.join(os.tmpdir(), 'driftless-tenancy-test-')));
  const client = await KubeClient.fromKubeConfig(options.kubeConfig);
  const logger = createLogger({
    name: 'tenancy-test',
    level: process.env['LOG_LEVEL'] ?? 'silent',
  });
  const source = new GitSource({
    url: options.repo.url,
    branch: options.repo.branch,
    dir: workDir,
    auth: options.git.credentials,
    logger,
    verify: options.verify,
  });
  const inventory = new InventoryStore(client, 'driftless-system');
  await inventory.ensureNamespace();
  const recorder = new Recorder();
  const tenants = new TenantClients(client);
  const drift = new DriftWatcher({
    client: tenants.watcherClient(),
    logger,
    reporter: {
      appStatus: (r) => recorder.appStatus(r),
      syncResult: (r) => recorder.syncResult(r),
      drift: (r) => agent.noteDrift(r),
    },
  });
  const agent: Agent = new Agent({
    cluster: 'test',
    client,
    tenants,
    source,
    clusterPath: 'clusters/test',
    inventory,
    reporter: recorder,
    approvals: new ApprovalBook(),
    drift,
    tracer: trace.getTracer('tenancy-test'),
    logger,
    pollIntervalMs: 3_600_000,
    healthPollMs: 100,
  });
  return {
    agent,
    client,
    drift,
    recorder,
    source,
    close: async () => {
      await agent.stop();
      await drift.stop();
      client.close();
      if (!options.workDir) await rm(workDir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const found = await waitFor(
    what,
    async () => {
      const value = await check();
      return value === undefined ? undefined : { value };
    },
    { timeoutMs, everyMs: 50 },
  );
  return found.value;
}
