/** Bounds of one tree answer; see docs/link.md, "Object tree". */
export interface TreeLimits {
  /** Most nodes; managed objects come first, then children breadth first. */
  maxNodes: number;
  /** Most Events per node, newest first. */
  maxEventsPerNode: number;
  /** Most bytes of the encoded answer (it must fit a NATS message and a gRPC frame). */
  maxBytes: number;
  /** How long reading may take, ms; past it the answer holds what was read by then. */
  deadlineMs: number;
}

/**
 * The agent's own bounds: a request may ask for less, never for more. 512 KiB stays well under
 * the 1 MiB a default nats-server takes per message.
 */
export const TREE_DEFAULTS: Readonly<TreeLimits> = {
  maxNodes: 500,
  maxEventsPerNode: 10,
  maxBytes: 512 * 1024,
  deadlineMs: 5_000,
};

/**
 * The limits of one request: each field the smaller of what the hub asked (0: not asked) and
 * the agent's maximum (`agent`, default {@link TREE_DEFAULTS}).
 */
export function resolveTreeLimits(
  asked: Partial<TreeLimits> | undefined,
  agent: Partial<TreeLimits> = {},
): TreeLimits {
  const max = { ...TREE_DEFAULTS, ...agent };
  const pick = (key: keyof TreeLimits) => {
    const want = asked?.[key] ?? 0;
    return want > 0 ? Math.min(want, max[key]) : max[key];
  };
  return {
    maxNodes: pick('maxNodes'),
    maxEventsPerNode: pick('maxEventsPerNode'),
    maxBytes: pick('maxBytes'),
    deadlineMs: pick('deadlineMs'),
  };
}
