/**
 * The charts' values map to the programs' flags: rendered with the real `helm` and every
 * optional value set, the agent's Deployment and the hub's StatefulSet set the environment
 * variable of every flag, but for the few listed here with the reason a chart does not.
 * (test/integration/charts checks the converse: every variable a chart sets is a flag.)
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { flagEnvName, type FlagSpec } from '@driftless/common';
import { AGENT_ENV_PREFIX, agentFlags } from '@driftless/agent';
import { HUB_ENV_PREFIX, HUB_FLAGS } from '@driftless/hub';
import { findBinary } from '../../harness/index.ts';

const run = promisify(execFile);
const CHARTS = path.resolve(import.meta.dirname, '../../../charts');

/** Agent flags no chart value sets, and why. */
const AGENT_WITHOUT_VALUE: Record<string, string> = {
  kubeconfig: 'in a pod the agent uses its service account',
  gitCredentialsFile: 'gitCredentials.existingSecret sets the user name and password',
  chartCacheDir: 'charts are cached in the work volume (charts/ in --work-dir)',
};
/** Hub flags no chart value sets, and why. */
const HUB_WITHOUT_VALUE: Record<string, string> = {
  bootstrapTokenFile: 'the token is printed in the log once; the root filesystem is read-only',
  webhookSecretFile: 'webhookSecret.existingSecret sets --webhook-secret from a Secret',
};

/** The names of the variables the first container of the chart's `kind` sets. */
async function envOf(chart: string, kind: string, values: string[]): Promise<Set<string>> {
  const { stdout } = await run(findBinary('helm'), [
    'template',
    'demo',
    path.join(CHARTS, chart),
    '--kube-version',
    'v1.34.4',
    '-n',
    'driftless',
    ...values.flatMap((v) => ['--set', v]),
  ]);
  const workload = parseAllDocuments(stdout)
    .map((d) => d.toJS() as { kind?: string; spec?: unknown } | null)
    .find((o) => o?.kind === kind);
  assert.ok(workload, `${chart} renders a ${kind}`);
  const spec = workload.spec as {
    template: { spec: { containers: { env?: { name: string }[] }[] } };
  };
  return new Set((spec.template.spec.containers[0]?.env ?? []).map((e) => e.name));
}

/** Flags of `spec` whose variable `set` lacks, other than the `excused` ones. */
function missing(spec: FlagSpec, prefix: string, set: Set<string>, excused: object): string[] {
  return Object.entries(spec)
    .filter(([name]) => !(name in excused))
    .map(([name, flag]) => flag.env ?? flagEnvName(prefix, name))
    .filter((env) => !set.has(env));
}

describe('chart values cover the flags', () => {
  it('agent: every flag of driftless-agent run has a value', async () => {
    const set = await envOf('agent', 'Deployment', [
      'repoUrl=https://git.example/fleet.git',
      'clusterName=dev',
      'clusterLabels.env=dev',
      'gitCredentials.existingSecret=git',
      'enrollmentToken.existingSecret=enroll',
      'hubAddress=hub.driftless.svc:7443',
      'hubCa.existingSecret=hub-ca',
      'reportBufferSize=500',
      'chartCredentials.existingSecret=chart-creds',
      'gitMaxFetchBytes=1000',
      'renderMaxFileBytes=1000',
      'renderMaxBytes=1000',
      'renderMaxObjects=10',
    ]);
    assert.deepEqual(missing(agentFlags, AGENT_ENV_PREFIX, set, AGENT_WITHOUT_VALUE), []);
    assert.ok(set.has('DRIFTLESS_CLUSTER_LABELS'));
  });

  it('hub: every flag of driftless-hub has a value', async () => {
    const set = await envOf('hub', 'StatefulSet', [
      'webhookSecret.existingSecret=webhook',
      'ca.existingSecret=hub-ca',
      'store=postgres',
      'database.existingSecret=hub-db',
      'secretsKey.existingSecret=hub-secrets-key',
    ]);
    assert.deepEqual(missing(HUB_FLAGS, HUB_ENV_PREFIX, set, HUB_WITHOUT_VALUE), []);
  });
});
