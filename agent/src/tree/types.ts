import { TerminalError, TransientError } from '@driftless/common';
import type { Health } from '../health/index.ts';
import type { ObjectRef } from '../model.ts';

/** One Kubernetes Event about a tree node. */
export interface TreeEvent {
  /** `Normal` or `Warning`. */
  type: string;
  reason: string;
  message: string;
  /** How many times it happened (at least 1). */
  count: number;
  /** When it last happened, ms since the epoch (0 when the Event says nothing). */
  lastSeenMs: number;
  /** The component that reported it, e.g. `deployment-controller`. */
  source: string;
}

/** One live object of an app's tree. */
export interface TreeNode {
  ref: ObjectRef;
  /** `metadata.uid`; '' for a managed object missing from the cluster. */
  uid: string;
  /** The uid of the owner it hangs under; '' for the app's managed objects. */
  parentUid: string;
  /** In the app's inventory (rather than a child found by owner reference). */
  managed: boolean;
  health: Health;
  /** Newest first, at most the limit's `maxEventsPerNode`. */
  events: TreeEvent[];
  /** `metadata.creationTimestamp` in ms; 0 when unknown. */
  createdMs: number;
}

/** An app's live object tree, as the agent read it. */
export interface AppTree {
  app: string;
  /** Parents before their children; managed objects first. */
  nodes: TreeNode[];
  /** The deadline passed before everything was read. */
  partial: boolean;
  /** A size bound left something out. */
  truncated: boolean;
  /** What partial or truncated left out, one sentence each. */
  notes: string[];
  /** When the tree was read, ms since the epoch. */
  collectedMs: number;
}

/** The app is neither in the cluster's driftless.yaml nor in an inventory: terminal. */
export class UnknownAppError extends TerminalError {
  override name = 'UnknownAppError';
}

/** The deadline passed before anything of the tree could be read: transient (ask again). */
export class TreeTimeoutError extends TransientError {
  override name = 'TreeTimeoutError';
}
