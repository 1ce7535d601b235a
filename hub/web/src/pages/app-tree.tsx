// The live object tree of one app, read by the cluster's agent on request: the app's managed
// objects and their children by owner reference, each with its health, status message and recent
// Kubernetes Events. Nodes expand and collapse; Refresh asks the agent again.
import { useState } from 'preact/hooks';
import type { Health } from '../api.ts';
import { Ago, Badge, Notice } from '../components.tsx';
import { HEALTH } from '../model.ts';
import { useLoad, useSession } from '../session.ts';

/** One Event of a node, as `GET /api/v1/clusters/:name/apps/:app/tree` answers. */
interface TreeEvent {
  type: string;
  reason: string;
  message: string;
  count: number;
  lastSeen: string | null;
  source: string;
}

/** One node of the tree, as the API answers. */
interface TreeNode {
  group: string;
  version: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  parentUid: string;
  managed: boolean;
  health: Health;
  message: string;
  createdAt: string | null;
  events: TreeEvent[];
}

/** The tree, as the API answers. */
interface AppTree {
  collectedAt: string | null;
  partial: boolean;
  truncated: boolean;
  note: string;
  nodes: TreeNode[];
}

/** The app's live object tree, with a Refresh button. */
export function AppTreeSection({ cluster, app }: { cluster: string; app: string }) {
  const { api } = useSession();
  const tree = useLoad(
    () =>
      api.get<AppTree>(
        `/api/v1/clusters/${encodeURIComponent(cluster)}/apps/${encodeURIComponent(app)}/tree`,
      ),
    [cluster, app],
  );
  const t = tree.value;
  const children = new Map<string, TreeNode[]>();
  const roots: TreeNode[] = [];
  const known = new Set((t?.nodes ?? []).map((n) => n.uid).filter((u) => u !== ''));
  for (const n of t?.nodes ?? []) {
    if (!n.parentUid || !known.has(n.parentUid)) roots.push(n);
    else children.set(n.parentUid, [...(children.get(n.parentUid) ?? []), n]);
  }
  return (
    <section class="card tree" aria-labelledby="tree-title">
      <div class="card-head">
        <h2 id="tree-title">Live objects</h2>
        <button
          type="button"
          aria-label="Refresh live objects"
          onClick={() => tree.reload()}
          disabled={tree.loading}
        >
          {tree.loading ? 'Reading…' : 'Refresh'}
        </button>
      </div>
      {tree.error && <Notice kind="error">{tree.error}</Notice>}
      {t && (
        <p class="muted">
          Read by the agent <Ago iso={t.collectedAt} />, {t.nodes.length} objects.
        </p>
      )}
      {t?.partial && <Notice kind="info">Partial: {t.note}</Notice>}
      {t && !t.partial && t.truncated && <Notice kind="info">Truncated: {t.note}</Notice>}
      {t && t.nodes.length === 0 && <p class="empty">The app has no objects in the cluster.</p>}
      {roots.length > 0 && (
        <ul class="tree-nodes" role="tree">
          {roots.map((n) => (
            <TreeItem
              key={n.uid || `${n.kind}/${n.namespace}/${n.name}`}
              n={n}
              byParent={children}
            />
          ))}
        </ul>
      )}
    </section>
  );
}

function TreeItem({ n, byParent }: { n: TreeNode; byParent: Map<string, TreeNode[]> }) {
  const kids = n.uid ? (byParent.get(n.uid) ?? []) : [];
  // Managed objects start open, so a Deployment shows its ReplicaSet at once.
  const [open, setOpen] = useState(n.managed);
  const expandable = kids.length > 0 || n.events.length > 0;
  const info = HEALTH[n.health] ?? HEALTH.unknown;
  const why = n.message.replace(/^[^:]*: /, '');
  const name = n.namespace ? `${n.namespace}/${n.name}` : n.name;
  return (
    <li
      role="treeitem"
      aria-label={`${n.kind} ${name}`}
      aria-expanded={expandable ? open : undefined}
      data-health={n.health}
    >
      <div class="tree-node">
        {expandable ? (
          <button
            type="button"
            class="toggle"
            aria-label={`${open ? 'Collapse' : 'Expand'} ${n.kind} ${n.name}`}
            onClick={() => setOpen(!open)}
          >
            {open ? '▾' : '▸'}
          </button>
        ) : (
          <span class="toggle" aria-hidden="true" />
        )}
        <span class="kind">{n.kind}</span>
        <span class="name">{name}</span>
        <Badge info={info} compact />
        {n.health !== 'healthy' && why && <span class={`why text-${info.tone}`}>{why}</span>}
        {n.events.length > 0 && (
          <span class="muted">
            {n.events.length} event{n.events.length === 1 ? '' : 's'}
          </span>
        )}
      </div>
      {open && n.events.length > 0 && (
        <ul class="tree-events">
          {n.events.map((e, i) => (
            <li key={i} class={e.type === 'Warning' ? 'tone-warn' : undefined}>
              <strong>{e.reason}</strong> {e.message}
              {e.count > 1 && <span class="muted"> ×{e.count}</span>}{' '}
              <span class="muted">
                {e.source && `${e.source}, `}
                <Ago iso={e.lastSeen} />
              </span>
            </li>
          ))}
        </ul>
      )}
      {open && kids.length > 0 && (
        <ul class="tree-nodes" role="group">
          {kids.map((k) => (
            <TreeItem key={k.uid} n={k} byParent={byParent} />
          ))}
        </ul>
      )}
    </li>
  );
}
