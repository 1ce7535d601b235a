/**
 * A chart gated on `.Capabilities.APIVersions` renders again when a CRD appears: the agent's
 * served-API generation moves on the CRD's watch events, and the render it wakes asks
 * discovery. The API server marks a CRD Established before its discovery documents list it
 * (asked right after the event, discovery lacked the new group about one time in four), and
 * after that render nothing moves again, so the app stayed Synced without what the chart
 * gates on the CRD. Real kube-apiserver: the lag is the server's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger, systemClock } from '@driftless/common';
import { KubeClient } from '@driftless/agent';
import { startCluster, type Cluster } from '@driftless/test';
import { servedApiVersions } from '../../agent/src/kube/discovery.ts';
import { ServedApiWatch } from '../../agent/src/reconcile/served-apis.ts';

const CRDS = 20;

function crd(group: string) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `widgets.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
          },
        },
      ],
    },
  };
}

describe('served-API generation and discovery', () => {
  let cluster: Cluster;
  let client: KubeClient;
  before(async () => {
    cluster = await startCluster();
    client = await KubeClient.fromKubeConfig(cluster.kubeConfig);
  });
  after(async () => {
    client?.close();
    await cluster?.stop();
  });

  it('moves only once discovery serves the CRD the watch saw established', async () => {
    /** At each move of the generation: what the watch expected, and discovery asked at once. */
    const moves: { expected: string[]; discovered: Promise<Set<string>> }[] = [];
    let wake: (() => void) | undefined;
    const watch = new ServedApiWatch({
      source: client,
      clock: systemClock,
      logger: createLogger({ name: 'test', level: 'silent' }),
      discovered: (signal) => servedApiVersions(client, signal),
      onChange: () => {
        // What a render woken now would see: discovery asked right away, as the agent does.
        moves.push({
          expected: watch.expectedApiVersions,
          discovered: servedApiVersions(client).catch(() => new Set<string>()),
        });
        wake?.();
      },
    });
    watch.start();
    await watch.whenListed();
    const nextMove = (seen: number) =>
      moves.length > seen
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            wake = resolve;
          });
    try {
      let seen = 0;
      for (let i = 0; i < CRDS; i++) {
        const group = `g${i}.served.example.com`;
        await client.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
          body: crd(group),
        });
        // Every move until the watch counts the CRD as served; then what discovery said.
        for (;;) {
          await nextMove(seen);
          const move = moves[seen++]!;
          if (!move.expected.includes(`${group}/v1/Widget`)) continue;
          const served = await move.discovered;
          assert.ok(
            served.has(`${group}/v1/Widget`) && served.has(`${group}/v1`),
            `CRD ${i}: the generation moved for ${group}/v1 before discovery served it`,
          );
          break;
        }
      }
    } finally {
      await watch.stop();
    }
  });
});
