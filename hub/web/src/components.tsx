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

/**
 * Two values of one field, then a line diff when they are multi-line. A `change` (a plan) reads
 * as from → to; a `comparison` (drift: Git against live) puts the two side by side with neither
 * marked as the one to keep.
 */
export function ValueDiff(props: {
  path: string;
  fromLabel: string;
  toLabel: string;
  from: string;
  to: string;
  kind?: 'change' | 'comparison';
}) {
  const multi = props.from.includes('\n') || props.to.includes('\n');
  if (props.kind === 'comparison') return <Comparison {...props} multi={multi} />;
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

/** Git's value and the live one side by side, neither marked as right. */
function Comparison(props: {
  path: string;
  fromLabel: string;
  toLabel: string;
  from: string;
  to: string;
  multi: boolean;
}) {
  // Every line starts with its side's label, padded to one width, so the values stay aligned.
  const width = Math.max(props.fromLabel.length, props.toLabel.length) + 2;
  return (
    <div class="vdiff">
      <div class="vdiff-path">
        <code>{props.path}</code>
      </div>
      {props.multi ? (
        <pre class="diff compare" aria-label={`${props.fromLabel} and ${props.toLabel}`}>
          {lineDiff(props.from, props.to).map((l, i) => (
            <span key={i} class={l.op === '-' ? 'side-git' : l.op === '+' ? 'side-live' : ''}>
              {(l.op === '-'
                ? `${props.fromLabel}:`
                : l.op === '+'
                  ? `${props.toLabel}:`
                  : ''
              ).padEnd(width)}
              {l.text}
              {'\n'}
            </span>
          ))}
        </pre>
      ) : (
        <dl class="vdiff-pair compare">
          <div class="side-git">
            <dt>{props.fromLabel}</dt>
            <dd>
              <code>{props.from}</code>
            </dd>
          </div>
          <div class="side-live">
            <dt>{props.toLabel}</dt>
            <dd>
              <code>{props.to}</code>
            </dd>
          </div>
        </dl>
      )}
    </div>
  );
}

/** Field drift: Git's value against the live one, side by side. */
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
          kind="comparison"
          path={f.path}
          fromLabel="Git"
          toLabel="live"
          from={showValue(f.desired)}
          to={showValue(f.live)}
        />
      ))}
    </div>
  );
}

/** Fields the API server fills in; a plan from an older agent may still carry them. */
const SERVER_FILLED = [
  'managedFields',
  'uid',
  'resourceVersion',
  'creationTimestamp',
  'generation',
  'selfLink',
];

/**
 * The manifest of an object a plan creates, from the plan's whole-object entry (JSON text),
 * without the fields the API server fills in.
 */
export function createdManifest(afterJson: string): unknown {
  let obj: unknown;
  try {
    obj = JSON.parse(afterJson);
  } catch {
    return afterJson;
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return obj;
  const { status: _status, metadata, ...rest } = obj as Record<string, unknown>;
  if (metadata === null || typeof metadata !== 'object') return rest;
  const meta = Object.fromEntries(
    Object.entries(metadata as Record<string, unknown>).filter(([k]) => !SERVER_FILLED.includes(k)),
  );
  return { ...rest, metadata: meta };
}

/** A value as compact YAML-like lines, for reading (not for applying). */
export function compactYaml(value: unknown, indent = ''): string {
  if (Array.isArray(value)) {
    if (!value.length) return '[]';
    return value
      .map((v) => {
        const inner = compactYaml(v, indent + '  ');
        return `${indent}- ${inner.trimStart()}`;
      })
      .join('\n');
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (!entries.length) return '{}';
    return entries
      .map(([k, v]) => {
        const nested = v !== null && typeof v === 'object' && Object.keys(v).length > 0;
        return nested
          ? `${indent}${k}:\n${compactYaml(v, indent + '  ')}`
          : `${indent}${k}: ${compactYaml(v)}`;
      })
      .join('\n');
  }
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
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
          {c.action === 'create' && c.diff.length === 1 && c.diff[0]?.after ? (
            <pre class="manifest" aria-label={`manifest of ${objectName(c.object)}`}>
              {compactYaml(createdManifest(c.diff[0].after))}
            </pre>
          ) : (
            c.diff.length > 0 && (
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
            )
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
