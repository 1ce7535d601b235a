/**
 * `driftless app get CLUSTER/APP --tree`: the app's live object tree, read by its agent, as an
 * indented tree (or the API's JSON with `-o json`).
 */
import type { HubClient } from './client.ts';

/** One Event of a node, as `GET /api/v1/clusters/:name/apps/:app/tree` answers. */
export interface AppTreeEvent {
  type: string;
  reason: string;
  message: string;
  count: number;
  lastSeen: string | null;
  source: string;
}

/** One node of the tree, as the API answers. */
export interface AppTreeNode {
  group: string;
  version: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  parentUid: string;
  managed: boolean;
  health: string;
  message: string;
  createdAt: string | null;
  events: AppTreeEvent[];
}

/** The tree, as the API answers. */
export interface AppTreeView {
  cluster: string;
  app: string;
  collectedAt: string | null;
  partial: boolean;
  truncated: boolean;
  note: string;
  nodes: AppTreeNode[];
}

/** Options of {@link printAppTree}. */
export interface PrintAppTreeOptions {
  /** `table` (the indented tree, for people) or `json` (the API's answer). Default `table`. */
  output?: string;
  /** Events shown per node in the tree (newest first). Default 3. */
  eventsPerNode?: number;
  /** How long the hub waits for the agent, e.g. `10s`; empty: the hub's default. */
  deadline?: string;
}

const DEFAULTS = { output: 'table', eventsPerNode: 3, deadline: '' } as const;

/** Reads the tree of `cluster`/`app` from the hub. Throws the client's ApiError (404, 503, 504). */
export function fetchAppTree(
  client: HubClient,
  cluster: string,
  app: string,
  deadline = '',
): Promise<AppTreeView> {
  const q = deadline ? `?deadline=${encodeURIComponent(deadline)}` : '';
  return client.call<AppTreeView>(
    'GET',
    `/api/v1/clusters/${encodeURIComponent(cluster)}/apps/${encodeURIComponent(app)}/tree${q}`,
  );
}

/**
 * Fetches the tree of `target` (`CLUSTER/APP`) and writes it to `stdout`: indented by owner,
 * each node with its kind, name, health and status message, and its latest Events. Throws an
 * Error naming the problem for a target that is not `CLUSTER/APP`.
 */
export async function printAppTree(
  client: HubClient,
  target: string,
  stdout: (text: string) => void,
  options: PrintAppTreeOptions = {},
): Promise<void> {
  const o = { ...DEFAULTS, ...options };
  const [cluster, app, ...rest] = target.split('/');
  if (!cluster || !app || rest.length > 0)
    throw new Error(`app get --tree ${target}: name the app as CLUSTER/APP`);
  const tree = await fetchAppTree(client, cluster, app, o.deadline);
  stdout(
    o.output === 'json' ? JSON.stringify(tree, null, 2) + '\n' : renderTree(tree, o.eventsPerNode),
  );
}

/** The tree as indented text, one node per line, Events below their node. */
export function renderTree(
  tree: AppTreeView,
  eventsPerNode: number = DEFAULTS.eventsPerNode,
): string {
  const lines = [`${tree.cluster}/${tree.app}  (read ${tree.collectedAt ?? 'now'})`];
  const children = new Map<string, AppTreeNode[]>();
  const known = new Set(tree.nodes.map((n) => n.uid).filter((u) => u !== ''));
  const roots: AppTreeNode[] = [];
  for (const n of tree.nodes) {
    // A child whose parent was left out by a size bound is shown at the top, not lost.
    if (!n.parentUid || !known.has(n.parentUid)) roots.push(n);
    else children.set(n.parentUid, [...(children.get(n.parentUid) ?? []), n]);
  }
  const walk = (nodes: AppTreeNode[], prefix: string) => {
    nodes.forEach((n, i) => {
      const last = i === nodes.length - 1;
      lines.push(`${prefix}${last ? '└─ ' : '├─ '}${nodeLine(n)}`);
      const inner = prefix + (last ? '   ' : '│  ');
      for (const e of n.events.slice(0, eventsPerNode))
        lines.push(
          `${inner}  · ${e.type} ${e.reason}: ${e.message}${e.count > 1 ? ` (×${e.count})` : ''}`,
        );
      walk(n.uid ? (children.get(n.uid) ?? []) : [], inner);
    });
  };
  walk(roots, '');
  if (tree.partial) lines.push(`partial: ${tree.note}`);
  else if (tree.truncated) lines.push(`truncated: ${tree.note}`);
  return lines.join('\n') + '\n';
}

function nodeLine(n: AppTreeNode): string {
  const name = n.namespace ? `${n.namespace}/${n.name}` : n.name;
  const why = n.message.replace(/^[^:]*: /, '');
  return `${n.kind} ${name}  ${n.health}${n.health === 'healthy' || !why ? '' : `: ${why}`}`;
}
