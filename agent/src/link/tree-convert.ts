import { errorMessage } from '@driftless/common';
import {
  HealthStatus,
  TreeErrorCode,
  TreeNode as TreeNodeMessage,
  TreeResponse,
  type TreeRequest,
} from '@driftless/proto';
import type { HealthStatus as AgentHealth } from '../health/index.ts';
import {
  TreeTimeoutError,
  UnknownAppError,
  type AppTree,
  type TreeLimits,
  type TreeNode,
} from '../tree/index.ts';
import { toObjectRef } from './convert.ts';

const HEALTH: Record<AgentHealth, HealthStatus> = {
  Healthy: HealthStatus.HEALTH_STATUS_HEALTHY,
  Progressing: HealthStatus.HEALTH_STATUS_PROGRESSING,
  Degraded: HealthStatus.HEALTH_STATUS_DEGRADED,
  Missing: HealthStatus.HEALTH_STATUS_MISSING,
  Unknown: HealthStatus.HEALTH_STATUS_UNKNOWN,
};

/** Room kept in the byte bound for the response's own fields (ids, app, note). */
const ENVELOPE_BYTES = 2048;

/** The limits a TreeRequest asks for, in the agent's form (0: not asked). */
export function askedLimits(request: TreeRequest): Partial<TreeLimits> {
  const l = request.limits;
  return {
    maxNodes: l?.maxNodes ?? 0,
    maxEventsPerNode: l?.maxEventsPerNode ?? 0,
    maxBytes: l?.maxBytes ?? 0,
    deadlineMs: l?.deadlineMs ?? 0,
  };
}

/**
 * The TreeResponse for a tree, within `maxBytes` of encoding: nodes are taken in order
 * (parents before children) while they fit, and what did not fit is said in `note`.
 */
export function toTreeResponse(requestId: string, tree: AppTree, maxBytes: number): TreeResponse {
  const budget = Math.max(0, maxBytes - ENVELOPE_BYTES);
  const nodes: TreeNodeMessage[] = [];
  let used = 0;
  for (const n of tree.nodes) {
    const m = toTreeNode(n);
    // A repeated field costs the node's bytes plus its tag and length prefix.
    const size = TreeNodeMessage.encode(m).finish().length + 6;
    if (used + size > budget) break;
    used += size;
    nodes.push(m);
  }
  const notes = [...tree.notes];
  let truncated = tree.truncated;
  if (nodes.length < tree.nodes.length) {
    truncated = true;
    notes.push(
      `${tree.nodes.length - nodes.length} of ${tree.nodes.length} nodes left out to stay within ${maxBytes} bytes`,
    );
  }
  return TreeResponse.create({
    requestId,
    app: tree.app,
    nodes,
    partial: tree.partial,
    truncated,
    note: notes.join('; '),
    collectedUnixMs: BigInt(tree.collectedMs),
  });
}

/** The TreeResponse for a failed read: the error's code and message, never a stack. */
export function treeErrorResponse(requestId: string, app: string, err: unknown): TreeResponse {
  const code =
    err instanceof UnknownAppError
      ? TreeErrorCode.TREE_ERROR_CODE_UNKNOWN_APP
      : err instanceof TreeTimeoutError
        ? TreeErrorCode.TREE_ERROR_CODE_TIMEOUT
        : TreeErrorCode.TREE_ERROR_CODE_FAILED;
  return TreeResponse.create({ requestId, app, errorCode: code, error: errorMessage(err) });
}

function toTreeNode(n: TreeNode): TreeNodeMessage {
  return {
    object: toObjectRef(n.ref),
    uid: n.uid,
    parentUid: n.parentUid,
    managed: n.managed,
    health: HEALTH[n.health.status] ?? HealthStatus.HEALTH_STATUS_UNSPECIFIED,
    statusMessage: n.health.message,
    events: n.events.map((e) => ({
      type: e.type,
      reason: e.reason,
      message: e.message,
      count: e.count,
      lastSeenUnixMs: BigInt(e.lastSeenMs),
      source: e.source,
    })),
    createdUnixMs: BigInt(n.createdMs),
  };
}

/**
 * The link's `tree` hook over a reader: reads the requested app's tree
 * within the request's limits and answers it, or answers the error.
 */
export function treeAnswerer(reader: {
  read(app: string, asked?: Partial<TreeLimits>): Promise<AppTree>;
  limits(asked?: Partial<TreeLimits>): TreeLimits;
}): (request: TreeRequest) => Promise<TreeResponse> {
  return async (request) => {
    const asked = askedLimits(request);
    try {
      const tree = await reader.read(request.app, asked);
      return toTreeResponse(request.requestId, tree, reader.limits(asked).maxBytes);
    } catch (err) {
      return treeErrorResponse(request.requestId, request.app, err);
    }
  };
}
