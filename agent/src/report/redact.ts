/**
 * Secret values never leave the agent. A Secret an app manages (with
 * `allowPlaintextSecrets`) has its values in plans, sync results and drift
 * reports, which go to the hub, its dashboard and its notifications, where
 * every viewer would read them: the live value of a Secret rotated in the
 * cluster, or a password a chart generates at render time, is in no
 * repository. Those values are replaced by {@link REDACTED} before a report is
 * sent, keeping the paths and the keys: a person still sees which key changed.
 */
import type { ObjectRef } from '../model.ts';

/** What a redacted value reads as. */
export const REDACTED = '(redacted)';

/** `kubectl apply` keeps the whole object, values included, in this annotation. */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** Fields of a Secret whose values are secret. */
const SECRET_MAPS = new Set(['data', 'stringData']);

/** True for a core Secret, the one kind whose values are redacted. */
export function isSecret(ref: Pick<ObjectRef, 'apiVersion' | 'kind'>): boolean {
  return ref.apiVersion === 'v1' && ref.kind === 'Secret';
}

/**
 * `value`, found at `path` (a diff path such as `.data.password`, `.data`, `.` or
 * `.metadata.annotations`) of the object `ref`, with every secret value in it replaced.
 * Anything but a Secret comes back as it is; so does an absent value.
 */
export function redactValue(
  ref: Pick<ObjectRef, 'apiVersion' | 'kind'>,
  path: string,
  value: unknown,
): unknown {
  if (value === undefined || !isSecret(ref)) return value;
  return redactBelow(segments(path), value);
}

function redactBelow(at: readonly string[], value: unknown): unknown {
  const [first, second, third] = at;
  if (at.length === 0) {
    if (!isRecord(value)) return REDACTED;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactBelow([k], v);
    return out;
  }
  if (SECRET_MAPS.has(first ?? '')) {
    if (at.length > 1) return REDACTED;
    if (!isRecord(value)) return REDACTED;
    return Object.fromEntries(Object.keys(value).map((k) => [k, REDACTED]));
  }
  if (first !== 'metadata') return value;
  if (at.length === 1) {
    if (!isRecord(value)) return value;
    return {
      ...value,
      annotations: redactBelow(['metadata', 'annotations'], value['annotations']),
    };
  }
  if (second !== 'annotations') return value;
  if (at.length === 2) {
    if (!isRecord(value) || !(LAST_APPLIED in value)) return value;
    return { ...value, [LAST_APPLIED]: REDACTED };
  }
  return third === LAST_APPLIED ? REDACTED : value;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The keys of a diff path (`.a.b`, `["x.y"]`, `[0]`); `.` is the root. */
function segments(path: string): string[] {
  const out: string[] = [];
  for (const m of path.matchAll(/\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g)) {
    out.push(m[1] ?? m[2] ?? (JSON.parse(m[3] ?? '""') as string));
  }
  return out;
}
