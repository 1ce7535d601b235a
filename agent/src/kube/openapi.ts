import { BUILT_IN_GROUPS, groupOf, type KubeObject } from '../model.ts';
import type { KubeClient } from './client.ts';
import {
  compactSchema,
  judge,
  type Refusal,
  type Schema,
  type Schemas,
  type Verdict,
} from './schema-check.ts';
import { metadataRefusal } from './schema-check-meta.ts';
import { builtInRefusal } from './schema-check-kinds.ts';

/**
 * Built-in API groups whose served OpenAPI document is the schema the server checks: their
 * schemas are compiled in and their objects decoded into typed structures. Left to the
 * server: CustomResourceDefinitions (free-form schemas), APIService and flow-control objects,
 * custom resources (conversion webhooks, free-form fields) and aggregated APIs.
 */
const CHECKED_GROUPS = new Set(
  [...BUILT_IN_GROUPS].filter(
    (g) =>
      !['apiextensions.k8s.io', 'apiregistration.k8s.io', 'flowcontrol.apiserver.k8s.io'].includes(
        g,
      ),
  ),
);

/** Least time between two reads of the OpenAPI index (`/openapi/v3`), as discovery. */
const INDEX_REFRESH_MS = 2_000;
/** Objects larger than this are left to the server (its request size limit). */
const MAX_OBJECT_BYTES = 512 * 1024;

/** One group version's document, compacted: named schemas and kind → schema. */
interface Document {
  schemas: Schemas;
  kinds: Map<string, Schema>;
}

/** Per connection: the index (group version → document URL with its hash) and the documents. */
interface Cache {
  index?: { fetchedAt: number; apiWrites: number; paths: Map<string, string> };
  indexLoad?: Promise<Map<string, string>>;
  documents: Map<string, Promise<Document>>;
}

const caches = new WeakMap<object, Cache>();

/**
 * Whether `obj` certainly passes the schema checks the API server makes
 * before admission (see kube/schema-check.ts), judged against the OpenAPI v3
 * document the server serves for its group version. False when it may not,
 * when its kind is not built in, or when the document cannot be read: then
 * only the server's dry-run can tell. Never throws.
 */
export async function conformsToServedSchema(
  client: KubeClient,
  obj: KubeObject,
): Promise<boolean> {
  return (await judgeServedSchema(client, obj)).verdict === 'passes';
}

const UNSURE: Verdict = { verdict: 'unsure' };
const refused = (refusal: Refusal): Verdict => ({ verdict: 'refused', refusal });

/**
 * The client-side verdict on a built-in object that cannot be dry-run: refused
 * when the server's validation certainly refuses it (its metadata, the rules
 * of its kind in kube/schema-check-kinds.ts, or the OpenAPI v3 document the
 * server serves for its group version: undeclared fields, types, enums, the
 * required fields validation enforces); passes when the served schema's checks
 * certainly pass it; else unsure (a kind not built in, a document that cannot
 * be read, anything the check does not fully understand). Passing the schema
 * is not all validation: rules of kinds not listed there, admission and
 * webhooks still judge the object at apply. Never throws.
 */
export async function judgeServedSchema(client: KubeClient, obj: KubeObject): Promise<Verdict> {
  try {
    const group = groupOf(obj.apiVersion);
    const rule = metadataRefusal(obj, group, false) ?? builtInRefusal(obj, group);
    if (rule) return refused(rule);
    if (!CHECKED_GROUPS.has(group)) return UNSURE;
    const doc = await documentFor(client, obj.apiVersion);
    const schema = doc?.kinds.get(obj.kind);
    if (!doc || !schema) return UNSURE;
    if (JSON.stringify(obj).length > MAX_OBJECT_BYTES) return UNSURE;
    // Set by the server only: an apply that carries them is refused.
    if ('managedFields' in obj.metadata) return UNSURE;
    return judge(obj, schema, doc.schemas);
  } catch {
    return UNSURE;
  }
}

/**
 * The client-side verdict on a custom resource against `crd`, the
 * CustomResourceDefinition that defines its kind (from the render, or read
 * from the cluster): its metadata, and the structural schema of its version
 * as the server enforces it (types, required, enum, pattern, lengths,
 * bounds; status is left out, as the server resets it on create). Rules the
 * check does not evaluate (CEL `x-kubernetes-validations`, formats beyond
 * date, date-time, byte, uuid and ipv4), admission and webhooks still judge
 * the object at apply. Unsure when the CRD has no schema for the version.
 * Never throws.
 */
export function judgeCustomResource(obj: KubeObject, crd: KubeObject): Verdict {
  try {
    return judgeAgainstCrd(obj, crd);
  } catch {
    return UNSURE;
  }
}

function judgeAgainstCrd(obj: KubeObject, crd: KubeObject): Verdict {
  const group = groupOf(obj.apiVersion);
  const rule = metadataRefusal(obj, group, true);
  if (rule) return refused(rule);
  const schema = crdSchemaOf(crd, obj.apiVersion.slice(obj.apiVersion.indexOf('/') + 1));
  if (!schema) return UNSURE;
  const { apiVersion: _v, kind: _k, metadata: _m, status: _s, ...content } = obj;
  const properties = { ...schema.properties };
  for (const k of ['apiVersion', 'kind', 'metadata', 'status']) delete properties[k];
  const root: Schema = {
    ...schema,
    type: 'object',
    properties,
    required: schema.required?.filter((k) => k !== 'metadata' && k !== 'status'),
  };
  return judge(content, root, new Map(), { dialect: 'custom' });
}

/** The compacted `openAPIV3Schema` of `version` of a CRD, if it has one. */
function crdSchemaOf(crd: KubeObject, version: string): Schema | undefined {
  const spec = crd['spec'] as
    { versions?: { name?: string; schema?: { openAPIV3Schema?: unknown } }[] } | undefined;
  const raw = spec?.versions?.find((v) => v.name === version)?.schema?.openAPIV3Schema;
  return raw === undefined ? undefined : compactSchema(raw);
}

/**
 * The CustomResourceDefinition of a served custom kind (`plural.group`), read
 * from the cluster; undefined when it is not there or cannot be read (the
 * identity may not read CRDs). Never throws.
 */
export async function servedCrd(
  client: KubeClient,
  group: string,
  plural: string,
  signal?: AbortSignal,
): Promise<KubeObject | undefined> {
  try {
    return await client.get(
      {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        namespace: '',
        name: `${plural}.${group}`,
      },
      signal,
    );
  } catch {
    return undefined;
  }
}

async function documentFor(client: KubeClient, apiVersion: string): Promise<Document | undefined> {
  let cache = caches.get(client.scope);
  if (!cache) {
    cache = { documents: new Map() };
    caches.set(client.scope, cache);
  }
  const paths = await indexOf(client, cache);
  const url = paths.get(apiVersion.includes('/') ? `apis/${apiVersion}` : `api/${apiVersion}`);
  if (!url) return undefined;
  let doc = cache.documents.get(url);
  if (!doc) {
    doc = loadDocument(client, url, apiVersion);
    cache.documents.set(url, doc);
    // A failed read is asked again next time, not remembered.
    doc.catch(() => cache.documents.delete(url));
  }
  return doc;
}

/** The index, read again when older than the refresh interval or after a CRD or APIService write. */
async function indexOf(client: KubeClient, cache: Cache): Promise<Map<string, string>> {
  const held = cache.index;
  if (held && Date.now() - held.fetchedAt < INDEX_REFRESH_MS && held.apiWrites === client.apiWrites)
    return held.paths;
  if (cache.indexLoad) return cache.indexLoad;
  const apiWrites = client.apiWrites;
  const load = (async () => {
    const index = await client.request<{ paths?: Record<string, { serverRelativeURL?: string }> }>(
      'GET',
      '/openapi/v3',
    );
    const paths = new Map<string, string>();
    for (const [gv, entry] of Object.entries(index.paths ?? {}))
      if (entry.serverRelativeURL) paths.set(gv, entry.serverRelativeURL);
    cache.index = { fetchedAt: Date.now(), apiWrites, paths };
    // Documents of an older hash are not served any more.
    const current = new Set(paths.values());
    for (const url of cache.documents.keys()) if (!current.has(url)) cache.documents.delete(url);
    return paths;
  })().finally(() => {
    cache.indexLoad = undefined;
  });
  cache.indexLoad = load;
  return load;
}

async function loadDocument(
  client: KubeClient,
  url: string,
  apiVersion: string,
): Promise<Document> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const raw = await client.request<{ components?: { schemas?: Record<string, unknown> } }>(
    'GET',
    url,
  );
  const schemas = new Map<string, Schema>();
  const kinds = new Map<string, Schema>();
  for (const [name, s] of Object.entries(raw.components?.schemas ?? {})) {
    const schema = compactSchema(s);
    schemas.set(name, schema);
    const gvks = (
      s as {
        'x-kubernetes-group-version-kind'?: { group?: string; version?: string; kind?: string }[];
      }
    )['x-kubernetes-group-version-kind'];
    // A kind's own schema names exactly one group version kind (shared ones, such as
    // DeleteOptions, name many).
    const gvk = gvks?.length === 1 ? gvks[0] : undefined;
    if (gvk?.kind && (gvk.group ?? '') === group && gvk.version === version)
      // By reference, so the check knows the schema's name (see VALIDATED_REQUIRED).
      kinds.set(gvk.kind, { $ref: `#/components/schemas/${name}` });
  }
  return { schemas, kinds };
}
