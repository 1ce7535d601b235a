// Approvals: every manual app whose plan waits, with the plan diff and a one-click approve
// bound to that exact revision and plan digest; and the approvals given so far.
import { useState } from 'preact/hooks';
import { HubCallError, query, type App, type Approval } from '../api.ts';
import { Ago, Badge, Notice, PageHeader, PlanView, Revision, RoleNote } from '../components.tsx';
import { needsApproval, shortSha } from '../model.ts';
import { href } from '../router.ts';
import { useEventTick, useFleet, useLoad, useSession } from '../session.ts';

/** The approval already given for an app's current plan, if any. */
export const approvalFor = (a: App, approvals: Approval[]): Approval | undefined =>
  approvals.find(
    (p) =>
      p.cluster === a.cluster &&
      p.app === a.app &&
      p.planDigest === a.planDigest &&
      a.revision.startsWith(p.revision),
  );

/** Approve an app's current plan (approver role), or say who already did. */
export function ApproveButton(props: { app: App; approvals: Approval[]; onApproved(): void }) {
  const { api, can } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const given = approvalFor(props.app, props.approvals);
  if (given)
    return (
      <p class="approved" role="status">
        <Badge info={{ tone: 'ok', symbol: '✓', text: 'Approved' }} /> by{' '}
        <strong>{given.approvedBy}</strong> <Ago iso={given.approvedAt} />
        {' · '}
        {given.acked
          ? 'the agent has it'
          : given.deliveredAt
            ? 'sent to the agent'
            : 'goes out when the agent connects'}
      </p>
    );
  const allowed = can('approver');
  return (
    <div class="approve">
      <button
        type="button"
        class="btn primary"
        disabled={!allowed || busy}
        aria-describedby={allowed ? undefined : `why-${props.app.cluster}-${props.app.app}`}
        onClick={() => {
          setBusy(true);
          setError(undefined);
          api
            .post<Approval>('/api/v1/approvals', {
              cluster: props.app.cluster,
              app: props.app.app,
              revision: props.app.revision,
              planDigest: props.app.planDigest,
            })
            .then(
              () => props.onApproved(),
              (err: unknown) => setError(err instanceof HubCallError ? err.message : String(err)),
            )
            .finally(() => setBusy(false));
        }}
      >
        {busy ? 'Approving…' : `Approve ${shortSha(props.app.revision)}`}
      </button>
      {!allowed && (
        <span id={`why-${props.app.cluster}-${props.app.app}`}>
          {' '}
          <RoleNote role="approver" />
        </span>
      )}
      {error && <Notice kind="error">{error}</Notice>}
    </div>
  );
}

export function ApprovalsPage() {
  const { api } = useSession();
  const fleet = useFleet();
  const tick = useEventTick((e) => e.type.startsWith('approval.'));
  const approvals = useLoad(() => api.list<Approval>('/api/v1/approvals' + query({})), [tick]);
  const list = approvals.value ?? [];
  const waiting = fleet.clusters
    .flatMap((c) => fleet.appsOf(c.name))
    .filter(needsApproval)
    .sort((a, b) => a.cluster.localeCompare(b.cluster) || a.app.localeCompare(b.app));

  return (
    <>
      <PageHeader
        title="Approvals"
        sub="Manual apps apply a plan only once someone approves that exact revision and plan digest."
      />
      {approvals.error && <Notice kind="error">{approvals.error}</Notice>}
      <h2>Waiting for approval ({waiting.length})</h2>
      {waiting.length === 0 && <p class="empty">No plan is waiting for approval.</p>}
      <ul class="approval-list">
        {waiting.map((a) => (
          <li class="card" key={`${a.cluster}/${a.app}`} data-approval={`${a.cluster}/${a.app}`}>
            <div class="approval-head">
              <h3>
                <a href={href('apps', a.cluster, a.app)}>{a.app}</a> <span class="muted">on</span>{' '}
                <a href={href('clusters', a.cluster)}>{a.cluster}</a>
              </h3>
              <ApproveButton app={a} approvals={list} onApproved={() => approvals.reload()} />
            </div>
            <dl class="facts">
              <div>
                <dt>Revision</dt>
                <dd>
                  <Revision revision={a.revision} cluster={a.cluster} app={a.app} />
                </dd>
              </div>
              <div>
                <dt>Plan digest</dt>
                <dd>
                  <code>{a.planDigest}</code>
                </dd>
              </div>
              {a.message && (
                <div>
                  <dt>Agent says</dt>
                  <dd>{a.message}</dd>
                </div>
              )}
            </dl>
            <PlanView plan={a.pendingPlan} />
          </li>
        ))}
      </ul>

      <h2>Approvals given</h2>
      <div class="table-wrap">
        <table class="list">
          <thead>
            <tr>
              <th scope="col">Cluster / app</th>
              <th scope="col">Revision</th>
              <th scope="col">Plan digest</th>
              <th scope="col">Approved by</th>
              <th scope="col">When</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {list.slice(0, 100).map((p) => (
              <tr key={p.id}>
                <td>
                  <a href={href('apps', p.cluster, p.app)}>
                    {p.cluster} / {p.app}
                  </a>
                </td>
                <td>
                  <Revision revision={p.revision} cluster={p.cluster} app={p.app} />
                </td>
                <td>
                  <code class="digest">{p.planDigest}</code>
                </td>
                <td>{p.approvedBy}</td>
                <td>
                  <Ago iso={p.approvedAt} />
                </td>
                <td>
                  {p.state === 'applied' ? (
                    <Badge info={{ tone: 'ok', symbol: '✓', text: 'Applied' }} />
                  ) : p.state === 'stale' ? (
                    <span title={p.stateReason}>
                      <Badge info={{ tone: 'warn', symbol: '⚠', text: 'Stale' }} />{' '}
                      <small>{p.stateReason}</small>
                    </span>
                  ) : p.acked ? (
                    <Badge info={{ tone: 'ok', symbol: '✓', text: 'Received by agent' }} />
                  ) : p.deliveredAt ? (
                    <Badge info={{ tone: 'info', symbol: '→', text: 'Sent' }} />
                  ) : (
                    <Badge info={{ tone: 'muted', symbol: '…', text: 'Queued' }} />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {approvals.value && list.length === 0 && <p class="empty">No approvals yet.</p>}
      </div>
    </>
  );
}
