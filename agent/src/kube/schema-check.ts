/**
 * A client-side check of an object against an OpenAPI v3 schema, for objects
 * the server cannot dry-run (those in a Namespace that does not exist yet: it
 * refuses them for the missing Namespace before it validates them).
 *
 * Two dialects. `built-in`: the schema the API server serves for a built-in
 * kind, where it checks, at server-side apply, undeclared fields, field types,
 * integer ranges, base64 and quantity strings, duplicate keys of keyed lists
 * and sets, and (in the kind's own validation) enums and the required fields
 * that validation enforces (the served `required` lists are not those: they
 * name every field without `omitempty`, such as a probe header's `value`, which
 * the server takes empty). `custom`: the structural schema of a
 * CustomResourceDefinition, which the server enforces as written: required,
 * enum, pattern, lengths, bounds, item and property counts, nullable.
 *
 * Three answers: passes (the server's schema checks certainly pass it),
 * refused (they certainly refuse it: the field and the rule), or unsure
 * (anything the check does not fully understand: a null, a free-form field, a
 * `oneOf` other than int-or-string and quantity, a format it does not check, a
 * keyed-list entry without its key). So it can be stricter than the server in
 * what it passes, and never refuses what the server takes.
 */

import { compileGoPattern, type GoPattern } from './go-regexp.ts';

/** The parts of an OpenAPI v3 schema the check reads (see {@link compactSchema}). */
export interface Schema {
  type?: string;
  format?: string;
  $ref?: string;
  allOf?: Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  default?: unknown;
  nullable?: boolean;
  required?: string[];
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
}

/** Named schemas of one OpenAPI document (`components.schemas`), for `$ref`s. */
export type Schemas = ReadonlyMap<string, Schema>;

/** Why the server certainly refuses an object: the field (as `spec.ports[0].port`) and the rule. */
export interface Refusal {
  path: string;
  rule: string;
}

/** The check's answer: certainly passes, certainly refused (where and why), or unsure. */
export type Verdict =
  { verdict: 'passes' } | { verdict: 'refused'; refusal: Refusal } | { verdict: 'unsure' };

/**
 * How the server reads a schema: `built-in` (served documents of built-in
 * kinds, see the module comment) or `custom` (a CRD's structural schema).
 */
export type Dialect = 'built-in' | 'custom';

const REF_PREFIX = '#/components/schemas/';
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
/** Deeper than any built-in kind nests; deeper counts as unsure. */
const MAX_DEPTH = 64;
const INT32 = 2 ** 31;
// The quantity grammar of k8s.io/apimachinery (api/resource): a signed decimal and a suffix.
const QUANTITY_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)([KMGTPE]i|[mkMGTPE]|[eE][+-]?\d+)?$/;
const BASE64_TEXT = /^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Go's base64 decoder, which the server's JSON decoding uses, skips line breaks anywhere. */
const BASE64 = { test: (value: string) => BASE64_TEXT.test(value.replace(/[\r\n]/g, '')) };
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const IPV4 = /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * Required fields of built-in schemas that the kind's validation refuses when
 * missing or empty (`""`, `[]`, `0`), by schema name: each checked against
 * kube-apiserver's validation (a missing `containerPort` is 0, out of range).
 * The served `required` lists say more than this (see the module comment), so
 * they are not used for built-in kinds.
 */
const VALIDATED_REQUIRED: Record<string, readonly string[]> = {
  'io.k8s.api.apps.v1.Deployment': ['spec'],
  'io.k8s.api.apps.v1.ReplicaSet': ['spec'],
  'io.k8s.api.apps.v1.StatefulSet': ['spec'],
  'io.k8s.api.apps.v1.DaemonSet': ['spec'],
  'io.k8s.api.batch.v1.Job': ['spec'],
  'io.k8s.api.batch.v1.CronJob': ['spec'],
  'io.k8s.api.core.v1.Service': ['spec'],
  'io.k8s.api.core.v1.PersistentVolumeClaim': ['spec'],
  'io.k8s.api.networking.v1.Ingress': ['spec'],
  'io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler': ['spec'],
  'io.k8s.api.rbac.v1.RoleBinding': ['roleRef'],
  'io.k8s.api.rbac.v1.ClusterRoleBinding': ['roleRef'],
  // Required in pod templates of workloads too, whatever the field's documentation says.
  'io.k8s.api.core.v1.Container': ['name', 'image'],
  'io.k8s.api.core.v1.EphemeralContainer': ['name'],
  'io.k8s.api.core.v1.PodTemplateSpec': ['spec'],
  'io.k8s.api.core.v1.PodSpec': ['containers'],
  'io.k8s.api.apps.v1.DeploymentSpec': ['selector'],
  'io.k8s.api.apps.v1.ReplicaSetSpec': ['selector'],
  'io.k8s.api.apps.v1.StatefulSetSpec': ['selector'],
  'io.k8s.api.apps.v1.DaemonSetSpec': ['selector'],
  'io.k8s.api.batch.v1.JobSpec': ['template'],
  'io.k8s.api.batch.v1.CronJobSpec': ['schedule', 'jobTemplate'],
  'io.k8s.api.batch.v1.JobTemplateSpec': ['spec'],
  'io.k8s.api.core.v1.HTTPHeader': ['name'],
  'io.k8s.api.core.v1.ConfigMapVolumeSource': ['name'],
  'io.k8s.api.core.v1.SecretVolumeSource': ['secretName'],
  'io.k8s.api.core.v1.EnvVar': ['name'],
  'io.k8s.api.core.v1.Volume': ['name'],
  'io.k8s.api.core.v1.VolumeMount': ['name', 'mountPath'],
  'io.k8s.api.core.v1.ContainerPort': ['containerPort'],
  'io.k8s.api.core.v1.ServicePort': ['port'],
  'io.k8s.api.core.v1.KeyToPath': ['key', 'path'],
  'io.k8s.api.core.v1.ConfigMapKeySelector': ['name', 'key'],
  'io.k8s.api.core.v1.SecretKeySelector': ['name', 'key'],
  'io.k8s.api.core.v1.ObjectFieldSelector': ['fieldPath'],
  'io.k8s.api.core.v1.PersistentVolumeClaimVolumeSource': ['claimName'],
  'io.k8s.api.core.v1.HTTPGetAction': ['port'],
  'io.k8s.api.core.v1.TCPSocketAction': ['port'],
  'io.k8s.api.core.v1.TopologySpreadConstraint': ['topologyKey', 'whenUnsatisfiable'],
  'io.k8s.api.rbac.v1.PolicyRule': ['verbs'],
  'io.k8s.api.rbac.v1.RoleRef': ['kind', 'name'],
  'io.k8s.api.rbac.v1.Subject': ['kind', 'name'],
  'io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement': ['key', 'operator'],
  'io.k8s.api.networking.v1.HTTPIngressRuleValue': ['paths'],
  'io.k8s.api.networking.v1.HTTPIngressPath': ['pathType', 'backend'],
  'io.k8s.api.networking.v1.IngressServiceBackend': ['name', 'port'],
  'io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec': ['scaleTargetRef', 'maxReplicas'],
  'io.k8s.api.autoscaling.v2.CrossVersionObjectReference': ['kind', 'name'],
  'io.k8s.api.autoscaling.v2.MetricSpec': ['type'],
  'io.k8s.api.autoscaling.v2.MetricTarget': ['type'],
  'io.k8s.api.autoscaling.v2.ResourceMetricSource': ['name', 'target'],
};

/** Keys of a schema the check keeps; the rest (descriptions, patch hints) is dropped. */
const KEPT = new Set([
  'type',
  'format',
  '$ref',
  'allOf',
  'oneOf',
  'anyOf',
  'properties',
  'additionalProperties',
  'items',
  'nullable',
  'required',
  'enum',
  'pattern',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-embedded-resource',
]);

/**
 * A schema of an OpenAPI document with only what the check reads: most of a
 * served document is descriptions, which are not worth keeping in memory.
 * Scalar defaults are kept (a keyed list's missing key takes its default);
 * any other default is kept as `{}` (a required field with a default is set).
 */
export function compactSchema(raw: unknown): Schema {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (k === 'default') out[k] = v === null || typeof v !== 'object' ? v : {};
    else if (!KEPT.has(k)) continue;
    else if (k === 'properties' && typeof v === 'object' && v !== null)
      out[k] = Object.fromEntries(
        Object.entries(v as Record<string, unknown>).map(([p, s]) => [p, compactSchema(s)]),
      );
    else if ((k === 'allOf' || k === 'oneOf' || k === 'anyOf') && Array.isArray(v))
      out[k] = (v as unknown[]).map(compactSchema);
    else if (k === 'items' || (k === 'additionalProperties' && typeof v === 'object'))
      out[k] = compactSchema(v);
    else out[k] = v;
  }
  return out;
}

/**
 * Whether `value` certainly passes the server's schema checks for `schema`
 * (false: it may not; ask the server). `schemas` resolves `$ref`s.
 */
export function conforms(value: unknown, schema: Schema, schemas: Schemas): boolean {
  return judge(value, schema, schemas).verdict === 'passes';
}

/**
 * The check's {@link Verdict} on `value` against `schema` (`schemas` resolves
 * `$ref`s). `path` prefixes the paths of refusals (default: none); `dialect`
 * defaults to `built-in`. Never throws.
 */
export function judge(
  value: unknown,
  schema: Schema,
  schemas: Schemas,
  options: { dialect?: Dialect; path?: string } = {},
): Verdict {
  const context = {
    schemas,
    dialect: options.dialect ?? 'built-in',
    patternWork: { left: MAX_PATTERN_WORK },
  };
  const result = check(value, schema, context, 0, new Loc(undefined, options.path ?? ''));
  if (result === true) return { verdict: 'passes' };
  if (result === false) return { verdict: 'unsure' };
  return { verdict: 'refused', refusal: { path: result.path.toString(), rule: result.rule } };
}

/** A refusal as the walk finds it, its path not written out yet. */
interface Miss {
  path: Loc;
  rule: string;
}

/** true: passes; false: unsure; a miss: certainly refused. */
type Result = boolean | Miss;

interface Context {
  schemas: Schemas;
  dialect: Dialect;
  /** Pattern work left for this object (program size times characters, see `goPattern`). */
  patternWork: { left: number };
}

/**
 * Pattern work one object may cost: a pattern whose program is large (`[a-z]{1,1000}` twenty
 * times over is 40,000 instructions) took 40 s on a value of 20,000 characters, all that time
 * holding up every other app of the agent. Past it, patterns are left to the server.
 */
const MAX_PATTERN_WORK = 20_000_000;
/** Largest program compiled for the check; the patterns CRDs use are a few hundred. */
const MAX_PATTERN_SIZE = 20_000;

/**
 * Where a value is, built as the walk descends and written out only for a refusal: most
 * values pass, and their paths are never read.
 */
class Loc {
  readonly parent: Loc | undefined;
  readonly key: string | number;
  readonly indexed: boolean;
  constructor(parent: Loc | undefined, key: string | number, indexed = false) {
    this.parent = parent;
    this.key = key;
    this.indexed = indexed;
  }
  toString(): string {
    if (!this.parent) return String(this.key);
    const at = this.parent.toString();
    const key = String(this.key);
    if (this.indexed || !/^[A-Za-z_$][\w$-]*$/.test(key)) return `${at}[${key}]`;
    return at ? `${at}.${key}` : key;
  }
}

const field = (path: Loc, name: string) => new Loc(path, name);
const index = (path: Loc, i: string | number) => new Loc(path, i, true);

/** A schema with `$ref`s and single-part `allOf`s resolved, and the name of the last `$ref`. */
function resolve(
  schema: Schema,
  schemas: Schemas,
  depth: number,
  name?: string,
): { schema: Schema; name: string | undefined } | undefined {
  if (depth > MAX_DEPTH) return undefined;
  if (schema.$ref !== undefined) {
    if (!schema.$ref.startsWith(REF_PREFIX)) return undefined;
    const ref = schema.$ref.slice(REF_PREFIX.length);
    const named = schemas.get(ref);
    return named && resolve(named, schemas, depth + 1, ref);
  }
  if (schema.allOf !== undefined) {
    // The documents wrap a reference as `allOf: [{$ref}]` beside a default: one part only.
    if (schema.allOf.length !== 1) return undefined;
    const { allOf: _all, default: _default, ...rest } = schema;
    const inner = resolve(schema.allOf[0] as Schema, schemas, depth + 1, name);
    return inner && Object.keys(rest).length === 0 ? inner : undefined;
  }
  return { schema, name };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean (true or false)',
  object: 'an object (a mapping)',
  array: 'a list',
};

function check(value: unknown, raw: Schema, c: Context, depth: number, path: Loc): Result {
  const resolved = resolve(raw, c.schemas, depth);
  if (!resolved) return false;
  const { schema, name } = resolved;
  if (value === undefined) return false;
  if (value === null) return c.dialect === 'custom' && schema.nullable === true;
  if (schema['x-kubernetes-embedded-resource']) return false;
  const custom = c.dialect === 'custom';
  if (schema['x-kubernetes-int-or-string'] || schema.format === 'int-or-string') {
    if (typeof value === 'string') return custom ? stringRules(value, schema, path, c) : true;
    if (typeof value === 'number' && Number.isInteger(value)) {
      if (custom) return numberRules(value, schema, path);
      // Larger ones the server refuses or takes depending on the field: not judged.
      return Math.abs(value) < INT32;
    }
    return { path, rule: 'must be an integer or a string' };
  }
  if (name === QUANTITY) {
    if (typeof value === 'string') {
      // The server trims white space before it parses: a padded quantity is not judged.
      if (value !== value.trim() || /^\s|\s$|\u0085/.test(value)) return false;
      if (!QUANTITY_TEXT.test(value))
        return {
          path,
          rule: `${JSON.stringify(value)} must be a quantity (such as 500m, 2, 1.5Gi)`,
        };
      // The server takes longer ones too, rounded: not judged.
      return value.length <= 64;
    }
    if (typeof value === 'number') return Number.isSafeInteger(value);
    return { path, rule: 'must be a quantity (such as 500m, 2, 1.5Gi)' };
  }
  if (schema['x-kubernetes-preserve-unknown-fields'] && !custom) return false;
  if (schema.oneOf !== undefined || schema.anyOf !== undefined) {
    // In a structural schema they only add value rules, which the check does not judge.
    if (!custom) return false;
  }
  const words = schema.type && TYPE_WORDS[schema.type];
  switch (schema.type) {
    case 'string':
      if (typeof value !== 'string') return { path, rule: `must be ${words}` };
      return custom ? stringRules(value, schema, path, c) : builtInString(value, schema, path);
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value))
        return { path, rule: `must be ${words}` };
      if (!Number.isSafeInteger(value)) return false;
      if (schema.format === 'int32' && Math.abs(value) >= INT32)
        return { path, rule: `${value} must fit in 32 bits` };
      return custom ? numberRules(value, schema, path) : true;
    case 'number':
      if (typeof value !== 'number') return { path, rule: `must be ${words}` };
      return custom ? numberRules(value, schema, path) : true;
    case 'boolean':
      if (typeof value !== 'boolean') return { path, rule: `must be ${words}` };
      return custom ? enumRule(value, schema, path) : true;
    case 'object':
      if (!isRecord(value)) return { path, rule: `must be ${words}` };
      return checkObject(value, schema, name, c, depth, path);
    case 'array':
      if (!Array.isArray(value)) return { path, rule: `must be ${words}` };
      return checkArray(value, schema, c, depth, path);
    default:
      // No type: free-form in a built-in schema; any value in a custom one that keeps unknowns.
      return custom && schema['x-kubernetes-preserve-unknown-fields'] === true;
  }
}

function builtInString(value: string, schema: Schema, path: Loc): Result {
  // An empty field is the server's to default; an empty list entry is not (nothing defaults it).
  const item = path.indexed && typeof path.key === 'number';
  if (schema.enum && (value !== '' || item) && !schema.enum.includes(value))
    return {
      path,
      rule: `${JSON.stringify(value)} must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`,
    };
  switch (schema.format) {
    case undefined:
      return true;
    case 'byte':
      return BASE64.test(value) || { path, rule: 'must be base64' };
    case 'date-time':
      return (
        (DATE_TIME.test(value) && !Number.isNaN(Date.parse(value))) || {
          path,
          rule: `${JSON.stringify(value)} must be an RFC 3339 date and time`,
        }
      );
    default:
      return false;
  }
}

function enumRule(value: unknown, schema: Schema, path: Loc): Result {
  if (!schema.enum) return true;
  // Structural schemas compare scalars; object or list values are left unjudged.
  if (schema.enum.some((e) => typeof e === 'object' && e !== null)) return false;
  return schema.enum.includes(value)
    ? true
    : {
        path,
        rule: `${JSON.stringify(value)} must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`,
      };
}

function stringRules(value: string, schema: Schema, path: Loc, c: Context): Result {
  const e = enumRule(value, schema, path);
  if (e !== true) return e;
  // The server counts characters (Unicode code points), not bytes.
  const length = [...value].length;
  if (schema.maxLength !== undefined && length > schema.maxLength)
    return { path, rule: `may have at most ${schema.maxLength} characters` };
  if (schema.minLength !== undefined && length < schema.minLength)
    return { path, rule: `must have at least ${schema.minLength} characters` };
  if (schema.pattern !== undefined) {
    // Go's syntax and semantics in linear time: the CRD, and so the pattern, may be hostile.
    const pattern = goPattern(schema.pattern);
    // A pattern RE2 refuses (the server refused the CRD too), or too costly: the server decides.
    if (!pattern) return false;
    const work = pattern.size * (value.length + 1);
    if (work > c.patternWork.left) return false;
    c.patternWork.left -= work;
    if (!pattern.test(value))
      return { path, rule: `${JSON.stringify(value)} must match ${schema.pattern}` };
  }
  return customFormat(value, schema.format, path);
}

/** The formats a CRD schema's server checks that this check knows; others pass unjudged. */
function customFormat(value: string, format: string | undefined, path: Loc): Result {
  const bad = (what: string): Miss => ({
    path,
    rule: `${JSON.stringify(value)} must be ${what}`,
  });
  switch (format) {
    case 'byte':
      return BASE64.test(value) || bad('base64');
    case 'date-time':
      return (
        (DATE_TIME.test(value) && !Number.isNaN(Date.parse(value))) ||
        bad('an RFC 3339 date and time')
      );
    case 'date':
      return (DATE.test(value) && !Number.isNaN(Date.parse(value))) || bad('a date (YYYY-MM-DD)');
    case 'uuid':
      return UUID.test(value) || bad('a UUID');
    case 'ipv4':
      return IPV4.test(value) || bad('an IPv4 address');
    default:
      return true;
  }
}

const patterns = new Map<string, GoPattern | undefined>();

/** The compiled pattern, from a small cache (a list of objects repeats the same few). */
function goPattern(pattern: string): GoPattern | undefined {
  if (patterns.has(pattern)) return patterns.get(pattern);
  // Compiling is linear in the program too: one that must be large is not even compiled.
  const repeat = Math.max(
    1,
    ...[...pattern.matchAll(/\{(\d+)(?:,(\d*))?\}/g)].map((m) => Number(m[2] || m[1])),
  );
  let compiled =
    pattern.length * repeat > 10 * MAX_PATTERN_SIZE ? undefined : compileGoPattern(pattern);
  if (compiled && compiled.size > MAX_PATTERN_SIZE) compiled = undefined;
  if (patterns.size >= 256) patterns.clear();
  patterns.set(pattern, compiled);
  return compiled;
}

function numberRules(value: number, schema: Schema, path: Loc): Result {
  const e = enumRule(value, schema, path);
  if (e !== true) return e;
  const { minimum, maximum } = schema;
  if (minimum !== undefined && (schema.exclusiveMinimum ? value <= minimum : value < minimum))
    return {
      path,
      rule: `${value} must be ${schema.exclusiveMinimum ? 'greater than' : 'at least'} ${minimum}`,
    };
  if (maximum !== undefined && (schema.exclusiveMaximum ? value >= maximum : value > maximum))
    return {
      path,
      rule: `${value} must be ${schema.exclusiveMaximum ? 'less than' : 'at most'} ${maximum}`,
    };
  return true;
}

/** Whether a built-in kind's validation counts `value` as not set. */
function isEmpty(value: unknown): boolean {
  return (
    value === undefined ||
    value === '' ||
    value === 0 ||
    (Array.isArray(value) && value.length === 0)
  );
}

function checkObject(
  value: Record<string, unknown>,
  schema: Schema,
  name: string | undefined,
  c: Context,
  depth: number,
  path: Loc,
): Result {
  const { properties, additionalProperties } = schema;
  const custom = c.dialect === 'custom';
  const missing = requiredMissing(value, schema, name, custom);
  if (missing !== undefined) return { path: field(path, missing), rule: 'required' };
  if (custom) {
    const n = Object.keys(value).length;
    if (schema.maxProperties !== undefined && n > schema.maxProperties)
      return { path, rule: `may have at most ${schema.maxProperties} entries` };
    if (schema.minProperties !== undefined && n < schema.minProperties)
      return { path, rule: `must have at least ${schema.minProperties} entries` };
  }
  if (properties !== undefined) {
    // Fields are declared one by one: an undeclared one is refused by the server's apply.
    if (additionalProperties !== undefined && additionalProperties !== false) return false;
    const keepsUnknown = schema['x-kubernetes-preserve-unknown-fields'] === true;
    let passes = true;
    for (const k in value) {
      const declared = Object.hasOwn(properties, k) ? properties[k] : undefined;
      if (declared === undefined) {
        if (keepsUnknown) continue;
        return { path: field(path, k), rule: 'field not declared in schema' };
      }
      const r = check(value[k], declared, c, depth + 1, field(path, k));
      if (r === false) passes = false;
      else if (r !== true) return r;
    }
    return passes;
  }
  if (isRecord(additionalProperties)) {
    let passes = true;
    for (const k in value) {
      const r = check(value[k], additionalProperties, c, depth + 1, index(path, k));
      if (r === false) passes = false;
      else if (r !== true) return r;
    }
    return passes;
  }
  // Free-form content: the server decides (a custom schema that keeps unknown fields takes it).
  return custom && schema['x-kubernetes-preserve-unknown-fields'] === true;
}

/** The first required field `value` lacks, by the dialect's rules (see {@link VALIDATED_REQUIRED}). */
function requiredMissing(
  value: Record<string, unknown>,
  schema: Schema,
  name: string | undefined,
  custom: boolean,
): string | undefined {
  if (custom) {
    // The server sets defaults before it validates.
    return schema.required?.find(
      (k) => value[k] === undefined && schema.properties?.[k]?.default === undefined,
    );
  }
  const validated = name === undefined ? undefined : VALIDATED_REQUIRED[name];
  return validated?.find((k) => isEmpty(value[k]));
}

function checkArray(
  value: unknown[],
  schema: Schema,
  c: Context,
  depth: number,
  path: Loc,
): Result {
  const items = schema.items;
  if (c.dialect === 'custom') {
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      return { path, rule: `may have at most ${schema.maxItems} items` };
    if (schema.minItems !== undefined && value.length < schema.minItems)
      return { path, rule: `must have at least ${schema.minItems} items` };
  }
  if (!items) return false;
  let each: Result = true;
  for (let i = 0; i < value.length; i++) {
    const r = check(value[i], items, c, depth + 1, index(path, i));
    if (r === false) each = false;
    else if (r !== true) return r;
  }
  switch (schema['x-kubernetes-list-type']) {
    case 'set': {
      if (value.some((v) => typeof v === 'object')) return false;
      const dup = value.find((v, i) => value.indexOf(v) !== i);
      return dup === undefined
        ? each
        : { path, rule: `${JSON.stringify(dup)} is listed twice (a set)` };
    }
    case 'map': {
      const keys = schema['x-kubernetes-list-map-keys'] ?? [];
      const itemSchema = resolve(items, c.schemas, depth + 1)?.schema;
      if (keys.length === 0 || !itemSchema?.properties) return false;
      const seen = new Set<string>();
      for (const [i, entry] of (value as Record<string, unknown>[]).entries()) {
        if (!isRecord(entry)) return false;
        const tuple: unknown[] = [];
        for (const key of keys) {
          const declared = itemSchema.properties[key];
          const fieldSchema = declared && resolve(declared, c.schemas, depth + 1)?.schema;
          const v = entry[key] ?? fieldSchema?.default;
          if (v === undefined || typeof v === 'object') return false;
          tuple.push(v);
        }
        const id = JSON.stringify(tuple);
        if (seen.has(id))
          return {
            path: index(path, i),
            rule: `duplicate entry: another has the same ${keys.join(' and ')} (${tuple.map((t) => JSON.stringify(t)).join(', ')})`,
          };
        seen.add(id);
      }
      return each;
    }
    default:
      return each;
  }
}
