/**
 * A strict client-side check of an object against the OpenAPI v3 schema the
 * API server serves for its kind: the checks the server's server-side apply
 * makes before admission (undeclared fields, field types, integer ranges,
 * base64 and quantity strings, duplicate keys of keyed lists and sets).
 *
 * It answers only "certainly passes": anything it does not fully understand
 * (a null, a field of free-form content, a `oneOf` other than int-or-string and
 * quantity, a format it does not check, a keyed-list entry without its key)
 * counts as not passing, and the caller asks the server instead, whose answer
 * is the one that counts. So the check can be stricter than the server, never
 * more lenient.
 */

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
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
}

/** Named schemas of one OpenAPI document (`components.schemas`), for `$ref`s. */
export type Schemas = ReadonlyMap<string, Schema>;

const REF_PREFIX = '#/components/schemas/';
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
/** Deeper than any built-in kind nests; deeper counts as unsure. */
const MAX_DEPTH = 64;
const INT32 = 2 ** 31;
// The quantity grammar of k8s.io/apimachinery (api/resource): a signed decimal and a suffix.
const QUANTITY_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)([KMGTPE]i|[mkMGTPE]|[eE][+-]?\d+)?$/;
const BASE64 = /^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Keys of a schema the check keeps; the rest (descriptions, enums, patch hints) is dropped. */
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
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-embedded-resource',
]);

/**
 * A schema of an OpenAPI document with only what the check reads: most of a
 * served document is descriptions, which are not worth keeping in memory.
 * Scalar defaults are kept (a keyed list's missing key takes its default).
 */
export function compactSchema(raw: unknown): Schema {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (k === 'default') {
      if (v === null || typeof v !== 'object') out[k] = v;
    } else if (!KEPT.has(k)) continue;
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
  return check(value, schema, schemas, 0);
}

function resolve(schema: Schema, schemas: Schemas, depth: number): Schema | undefined {
  if (depth > MAX_DEPTH) return undefined;
  if (schema.$ref !== undefined) {
    if (!schema.$ref.startsWith(REF_PREFIX)) return undefined;
    const named = schemas.get(schema.$ref.slice(REF_PREFIX.length));
    return named && resolve(named, schemas, depth + 1);
  }
  if (schema.allOf !== undefined) {
    // The documents wrap a reference as `allOf: [{$ref}]` beside a default: one part only.
    if (schema.allOf.length !== 1) return undefined;
    const { allOf: _all, default: _default, ...rest } = schema;
    const inner = resolve(schema.allOf[0] as Schema, schemas, depth + 1);
    return inner && Object.keys(rest).length === 0 ? inner : undefined;
  }
  return schema;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isQuantity(schema: Schema, schemas: Schemas): boolean {
  return schemas.get(QUANTITY) === schema;
}

function check(value: unknown, raw: Schema, schemas: Schemas, depth: number): boolean {
  const schema = resolve(raw, schemas, depth);
  if (!schema || value === null || value === undefined) return false;
  if (schema['x-kubernetes-preserve-unknown-fields'] || schema['x-kubernetes-embedded-resource'])
    return false;
  if (schema['x-kubernetes-int-or-string'] || schema.format === 'int-or-string')
    return (
      typeof value === 'string' || (Number.isInteger(value) && Math.abs(value as number) < INT32)
    );
  if (isQuantity(schema, schemas))
    return typeof value === 'string'
      ? value.length <= 64 && QUANTITY_TEXT.test(value)
      : Number.isSafeInteger(value);
  if (schema.oneOf !== undefined || schema.anyOf !== undefined) return false;
  switch (schema.type) {
    case 'string':
      return typeof value === 'string' && stringFormat(value, schema.format);
    case 'integer':
      if (!Number.isSafeInteger(value)) return false;
      return schema.format === 'int32' ? Math.abs(value as number) < INT32 : true;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'object':
      return isRecord(value) && checkObject(value, schema, schemas, depth);
    case 'array':
      return Array.isArray(value) && checkArray(value, schema, schemas, depth);
    default:
      return false;
  }
}

function stringFormat(value: string, format: string | undefined): boolean {
  switch (format) {
    case undefined:
      return true;
    case 'byte':
      return BASE64.test(value);
    case 'date-time':
      return DATE_TIME.test(value) && !Number.isNaN(Date.parse(value));
    default:
      return false;
  }
}

function checkObject(
  value: Record<string, unknown>,
  schema: Schema,
  schemas: Schemas,
  depth: number,
): boolean {
  const { properties, additionalProperties } = schema;
  if (properties !== undefined) {
    // Fields are declared one by one: an undeclared one is refused by the server.
    if (additionalProperties !== undefined) return false;
    return Object.entries(value).every(([k, v]) => {
      const field = Object.hasOwn(properties, k) ? properties[k] : undefined;
      return field !== undefined && check(v, field, schemas, depth + 1);
    });
  }
  if (isRecord(additionalProperties))
    return Object.values(value).every((v) => check(v, additionalProperties, schemas, depth + 1));
  // Free-form content: the server decides.
  return false;
}

function checkArray(value: unknown[], schema: Schema, schemas: Schemas, depth: number): boolean {
  const items = schema.items;
  if (!items || !value.every((v) => check(v, items, schemas, depth + 1))) return false;
  switch (schema['x-kubernetes-list-type']) {
    case 'set':
      return value.every((v) => typeof v !== 'object') && new Set(value).size === value.length;
    case 'map': {
      const keys = schema['x-kubernetes-list-map-keys'] ?? [];
      const itemSchema = resolve(items, schemas, depth + 1);
      if (keys.length === 0 || !itemSchema?.properties) return false;
      const seen = new Set<string>();
      for (const entry of value as Record<string, unknown>[]) {
        const tuple: unknown[] = [];
        for (const key of keys) {
          const field = itemSchema.properties[key];
          const fieldSchema = field && resolve(field, schemas, depth + 1);
          const v = entry[key] ?? fieldSchema?.default;
          if (v === undefined || typeof v === 'object') return false;
          tuple.push(v);
        }
        const id = JSON.stringify(tuple);
        if (seen.has(id)) return false;
        seen.add(id);
      }
      return true;
    }
    default:
      return true;
  }
}
