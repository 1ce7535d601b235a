import type { Clock, Logger } from '@driftless/common';
import { NotFoundError } from '../../errors.ts';
import type { EventBus } from '../../events.ts';
import type { LinkServer, SessionRegistry } from '../../link/index.ts';
import type { HubMetrics } from '../../metrics.ts';
import type { ClusterRecord, Store } from '../../store/index.ts';

/** Whether the hub can serve: its store (and link) answer. `reason` says what is wrong. */
export type Readiness = () => Promise<{ ready: true } | { ready: false; reason: string }>;

/** What the resource routes need. */
export interface RouteDeps {
  store: Store;
  sessions: SessionRegistry;
  link: LinkServer;
  events: EventBus;
  metrics: HubMetrics;
  log: Logger;
  /** Longest enrollment token lifetime a person may ask for, ms. */
  maxTokenTtlMs: number;
  /** Longest break-glass pause a person may ask for, ms. Default 24 h. */
  maxSuspensionMs?: number;
  /** What `/readyz` reports. */
  readiness: Readiness;
  clock: Clock;
}

/** The cluster named `name`, or NotFoundError. */
export async function clusterOr404(store: Store, name: string): Promise<ClusterRecord> {
  const c = await store.getCluster(name);
  if (!c) throw new NotFoundError(`cluster ${name}: not found`);
  return c;
}
