// Small shared pieces: state badges, labels, times, links from templates, diffs, notices.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { Labels, PlanChange } from './api.ts';
import {
  ago,
  fillTemplate,
  lineDiff,
  objectName,
  shortSha,
  showJsonText,
  showValue,
  when,
  type StateInfo,
} from './model.ts';
import { useSession } from './session.ts';

/** A state as colour, symbol and word. */
export function Badge({ info, compact }: { info: StateInfo; compact?: boolean }) {
  return (
    <span class={`badge tone-${info.tone}${compact ? ' compact' : ''}`}>
      <span class="sym" aria-hidden="true">
        {info.symbol}
      </span>
      {info.text}
    </span>
  );
}

export function LabelChips({ labels }: { labels: Labels }) {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  if (!entries.length) return <span class="muted">no labels</span>;
  return (
    <span class="chips">
      {entries.map(([k, v]) => (
        <code class="chip" key={k}>
          {k}={v}
        </code>
      ))}
    </span>
  );
}

/** A relative time with the exact time on hover. */
export function Ago({ iso }: { iso: string | null }) {
  return <time title={when(iso)}>{ago(iso)}</time>;
}

/** A short SHA, linked to the commit when the hub has a commit URL template. */
export function Revision(props: { revision: string; cluster: string; app?: string }) {
  const { config, fleet } = useSession();
  if (!props.revision) return <span class="muted">none yet</span>;
  const url = fillTemplate(config.commitUrlTemplate, {
    revision: props.revision,
    repo: fleet.cluster(props.cluster)?.repoUrl ?? '',
    cluster: props.cluster,
    app: props.app ?? '',
  });
  const text = <code title={props.revision}>{shortSha(props.revision)}</code>;
  return url ? (
    <a href={url} target="_blank" rel="noopener noreferrer" class="ext">
      {text}
    </a>
  ) : (
    text
  );
}

/** A trace id, linked to the tracing UI when the hub has a trace URL template. */
export function TraceLink(props: { traceId: string; cluster: string; app: string }) {
  const { config } = useSession();
  if (!props.traceId) return <span class="muted">—</span>;
  const url = fillTemplate(config.traceUrlTemplate, {
    traceId: props.traceId,
    cluster: props.cluster,
    app: props.app,
  });
  return url ? (
    <a href={url} target="_blank" rel="noopener noreferrer" class="ext">
      Trace <code>{props.traceId.slice(0, 8)}</code>
    </a>
  ) : (
    <code title="Set --trace-url-template on the hub to link traces">
      {props.traceId.slice(0, 16)}
    </code>
  );
}

/** Desired vs live of one field: both values, then a line diff when they are multi-line. */
export function ValueDiff(props: {
  path: string;
  fromLabel: string;
  toLabel: string;
  from: string;
  to: string;
}) {
  const multi = props.from.includes('\n') || props.to.includes('\n');
  return (
    <div class="vdiff">
      <div class="vdiff-path">
        <code>{props.path}</code>
      </div>
      {multi ? (
        <pre class="diff" aria-label={`${props.fromLabel} versus ${props.toLabel}`}>
          {lineDiff(props.from, props.to).map((l, i) => (
            <span key={i} class={l.op === '-' ? 'del' : l.op === '+' ? 'add' : ''}>
              {l.op === ' ' ? '  ' : `${l.op} `}
              {l.text}
              {'\n'}
            </span>
          ))}
        </pre>
      ) : (
        <dl class="vdiff-pair">
          <div class="del">
            <dt>− {props.fromLabel}</dt>
            <dd>
              <code>{props.from}</code>
            </dd>
          </div>
          <div class="add">
            <dt>+ {props.toLabel}</dt>
            <dd>
              <code>{props.to}</code>
            </dd>
          </div>
        </dl>
      )}
    </div>
  );
}

/** Field drift: desired (Git) against live (cluster). */
export function DriftFields({
  fields,
}: {
  fields: { path: string; desired: unknown; live: unknown }[];
}) {
  if (!fields.length) return <p class="muted">The whole object differs (deleted or recreated).</p>;
  return (
    <div class="vdiffs">
      {fields.map((f) => (
        <ValueDiff
          key={f.path}
          path={f.path}
          fromLabel="desired (Git)"
          toLabel="live (cluster)"
          from={showValue(f.desired)}
          to={showValue(f.live)}
        />
      ))}
    </div>
  );
}

const ACTION: Record<string, string> = {
  create: '+ create',
  update: '~ update',
  delete: '− delete',
  unchanged: '= unchanged',
};

/** A plan: per object its action and, for updates, the field diff. */
export function PlanView({ plan }: { plan: PlanChange[] }) {
  const changes = plan.filter((c) => c.action !== 'unchanged');
  if (!changes.length) return <p class="muted">The plan changes nothing.</p>;
  return (
    <ul class="plan">
      {changes.map((c, i) => (
        <li key={i} class={`plan-item action-${c.action}`}>
          <div class="plan-head">
            <span class="action">{ACTION[c.action] ?? c.action}</span>
            <code>{objectName(c.object)}</code>
            {c.wave !== 0 && <span class="muted">wave {c.wave}</span>}
          </div>
          {c.diff.length > 0 && (
            <div class="vdiffs">
              {c.diff.map((d) => (
                <ValueDiff
                  key={d.path}
                  path={d.path}
                  fromLabel="live now"
                  toLabel="after sync"
                  from={showJsonText(d.before)}
                  to={showJsonText(d.after)}
                />
              ))}
            </div>
          )}
        </li>
      ))}
    </ul>
  );
}

export function Notice(props: { kind: 'error' | 'info' | 'ok'; children: ComponentChildren }) {
  return (
    <div class={`notice notice-${props.kind}`} role={props.kind === 'error' ? 'alert' : 'status'}>
      {props.children}
    </div>
  );
}

/** A value to copy (a token, a command), with a Copy button. */
export function CopyBox({ label, text }: { label: string; text: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="copybox">
      <div class="copybox-head">
        <span>{label}</span>
        <button
          type="button"
          class="btn small"
          onClick={() => {
            void navigator.clipboard?.writeText(text).then(() => setCopied(true));
          }}
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
      <pre aria-label={label}>{text}</pre>
    </div>
  );
}

/** A button for an action the role may not take: disabled, saying which role it needs. */
export function RoleNote({ role }: { role: string }) {
  const { me } = useSession();
  return (
    <span class="muted small">
      Needs the {role} role; you are {me.role}.
    </span>
  );
}

export function PageHeader(props: {
  title: ComponentChildren;
  sub?: ComponentChildren;
  actions?: ComponentChildren;
}) {
  return (
    <header class="page-head">
      <div>
        <h1>{props.title}</h1>
        {props.sub && <p class="sub">{props.sub}</p>}
      </div>
      {props.actions && <div class="actions">{props.actions}</div>}
    </header>
  );
}
