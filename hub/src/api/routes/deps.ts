import type { Clock, Logger } from '@driftless/common';
import { NotFoundError } from '../../errors.ts';
import type { EventBus } from '../../events.ts';
import type { LinkServer, SessionRegistry, TreeRequests } from '../../link/index.ts';
import type { HubMetrics } from '../../metrics.ts';
import type { Notifier } from '../../notify/index.ts';
import type { OutboundGuard } from '../../outbound/index.ts';
import type { SecretBox } from '../../secrets/index.ts';
import type { ClusterRecord, Store } from '../../store/index.ts';

/** Whether the hub can serve: its store (and link) answer. `reason` says what is wrong. */
export type Readiness = () => Promise<{ ready: true } | { ready: false; reason: string }>;

/** What the resource routes need. */
export interface RouteDeps {
  store: Store;
  /** Seals the secrets the hub stores (Git host tokens); never shown by the API. */
  secrets: SecretBox;
  sessions: SessionRegistry;
  link: LinkServer;
  /** Object-tree requests to agents over their streams. */
  trees: TreeRequests;
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
  /** Which addresses configured URLs may point at; default only public ones. */
  guard?: OutboundGuard;
  /** Notifications (routes/notifications.ts): the secrets box and the notifier. */
  notifications?: { secrets: SecretBox; notifier: Notifier };
}

/** The cluster named `name`, or NotFoundError. */
export async function clusterOr404(store: Store, name: string): Promise<ClusterRecord> {
  const c = await store.getCluster(name);
  if (!c) throw new NotFoundError(`cluster ${name}: not found`);
  return c;
}
