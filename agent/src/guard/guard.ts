import {
  groupOf,
  Marks,
  refKey,
  refOf,
  refString,
  type AppSpec,
  type KubeObject,
  type ObjectRef,
  type RenderedObject,
} from '../model.ts';
import { GuardError } from './errors.ts';
import {
  isDns1035Label,
  isDnsLabel,
  isDnsSubdomain,
  isLabelValue,
  isQualifiedName,
  nameProblem,
} from './names.ts';
import { kindsDefinedBy, type Scope, type ScopeResolver } from './scope.ts';
import { crdTakeovers, laneOf, laneProblem, onlyNewOrOwn, type ObjectReader } from './tenancy.ts';
import { ownerProblem, type OwnershipView } from './ownership.ts';

/** Options of {@link guard}. */
export interface GuardOptions {
  /** Who owns what among the cluster's apps; without it no cross-app check is made. */
  ownership?: OwnershipView;
}

/**
 * Metadata the API server owns. Manifests copied from `kubectl get -o yaml`
 * carry them; sent in an apply they fail it (`managedFields`) or turn it
 * into a stale precondition (`resourceVersion`), so they are dropped.
 */
const SERVER_FIELDS = [
  'resourceVersion',
  'uid',
  'selfLink',
  'creationTimestamp',
  'generation',
  'managedFields',
];

/**
 * Checks an app's rendered objects before anything touches the cluster and
 * returns them ready to apply: copies (the input is not changed) with the
 * namespace defaulted for namespaced kinds and removed from cluster-scoped
 * ones, server-owned metadata dropped, and the ownership labels set
 * ({@link Marks.managedBy} and {@link Marks.app}) that prune relies on.
 *
 * Refused, all at once in one {@link GuardError}: missing or invalid
 * apiVersion, kind, name, namespace or labels; kinds the cluster does not
 * serve and no CRD of this render defines; duplicates; objects in
 * namespaces the app may not use (and Namespace objects for them);
 * cluster-scoped objects of kinds the app may not create (see laneOf),
 * including CRDs that exist and are not the app's when it may create only
 * new or own ones (one GET through `cluster` per such CRD, see
 * crdTakeovers); objects another app of the cluster owns (with
 * `options.ownership`); and plaintext Secrets unless the app opts in.
 * Errors of the cluster itself (discovery failing, a CRD read failing for
 * now) are thrown.
 */
export async function guard(
  rendered: RenderedObject[],
  app: AppSpec,
  cluster: ScopeResolver & ObjectReader,
  options: GuardOptions = {},
): Promise<KubeObject[]> {
  const problems: string[] = [];
  const scopeOf = await lookUpScopes(rendered, cluster);
  const lane = laneOf(app);
  const seen = new Map<string, string>();
  const out: KubeObject[] = [];
  const crdsToLookUp: { ref: ObjectRef; who: string }[] = [];

  for (const [index, { object: original, source }] of rendered.entries()) {
    const shape = shapeProblems(original);
    if (shape.length > 0) {
      const who = describe(original, index);
      problems.push(...shape.map((p) => `${who} in ${source}: ${p}`));
      continue;
    }
    const object = structuredClone(original);
    const { apiVersion, kind, metadata } = object;
    const answer = scopeOf(apiVersion, kind);
    if (answer === undefined) {
      problems.push(
        `unknown kind ${kind} (${apiVersion}) for ${metadata.name} in ${source}: no such API on the cluster and no CRD in this app`,
      );
      continue;
    }
    if ('problem' in answer) {
      problems.push(`${kind} ${metadata.name} in ${source}: ${answer.problem}`);
      continue;
    }
    const { scope } = answer;

    // Namespace: defaulted, or dropped where Kubernetes would ignore it anyway.
    if (scope === 'Namespaced') {
      const namespace = metadata.namespace || app.namespace;
      if (!namespace) {
        problems.push(
          `${kind} ${metadata.name} in ${source}: no namespace; set metadata.namespace or the app's namespace`,
        );
        continue;
      }
      metadata.namespace = namespace;
    } else {
      delete metadata.namespace;
    }
    const ref = refOf(object);
    const who = `${refString(ref)} in ${source}`;

    const outside = laneProblem(app, lane, ref);
    if (outside) problems.push(`${who}: ${outside}`);
    const owner = options.ownership?.ownerOf(app.name, ref);
    if (owner) problems.push(`${who}: ${ownerProblem(app.name, ref, owner)}`);
    else if (onlyNewOrOwn(lane, ref) && !seen.has(refKey(ref))) crdsToLookUp.push({ ref, who });
    if (apiVersion === 'v1' && kind === 'Secret' && !app.allowPlaintextSecrets) {
      problems.push(
        `plaintext Secret ${ref.namespace}/${ref.name} in ${source}: secrets come from an external store; set allowPlaintextSecrets: true on the app to allow`,
      );
    }
    const key = refKey(ref);
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push(`duplicate ${who}: also in ${first}`);
      continue;
    }
    seen.set(key, source);

    for (const field of SERVER_FIELDS) delete metadata[field];
    // Overwritten even when set in Git (charts set managed-by: Helm): prune
    // deletes only objects carrying these exact marks.
    metadata.labels = {
      ...metadata.labels,
      [Marks.managedBy]: Marks.managedByValue,
      [Marks.app]: app.name,
    };
    out.push(object);
  }

  const holds = (ref: ObjectRef) => options.ownership?.holds(app.name, ref) ?? false;
  problems.push(...(await crdTakeovers(app, lane, crdsToLookUp, cluster, holds)));
  if (problems.length > 0) throw new GuardError(app.name, problems);
  return out;
}

/**
 * Resolves the scope of every distinct kind once, concurrently: from a CRD
 * in the render if one defines it, else from the cluster. Returns a lookup
 * that gives the scope, undefined for an unknown kind, or a problem saying
 * why a CRD of this render does not serve the requested version.
 */
async function lookUpScopes(rendered: RenderedObject[], scopes: ScopeResolver) {
  const defined = kindsDefinedBy(rendered);
  const answers = new Map<string, ScopeAnswer | undefined>();
  const pending: Promise<void>[] = [];
  for (const { object } of rendered) {
    const { apiVersion, kind } = object;
    if (typeof apiVersion !== 'string' || typeof kind !== 'string') continue;
    const key = `${apiVersion}/${kind}`;
    if (answers.has(key)) continue;
    const crd = defined.get(`${groupOf(apiVersion)}/${kind}`);
    if (crd) {
      const version = apiVersion.slice(apiVersion.indexOf('/') + 1);
      answers.set(
        key,
        crd.versions.length === 0 || crd.versions.includes(version)
          ? { scope: crd.scope }
          : {
              problem: `CRD ${crd.crd} of this app has no version ${version} (it has ${crd.versions.join(', ')})`,
            },
      );
      continue;
    }
    answers.set(key, undefined);
    pending.push(
      scopes.scopeOf(apiVersion, kind).then((scope) => void answers.set(key, scope && { scope })),
    );
  }
  await Promise.all(pending);
  return (apiVersion: string, kind: string) => answers.get(`${apiVersion}/${kind}`);
}

/** A kind's scope, or why this render's CRD does not serve the version asked for. */
type ScopeAnswer = { scope: Scope } | { problem: string };

/** What is wrong with the object's identity and metadata, before its kind is looked up. */
function shapeProblems(object: KubeObject): string[] {
  const problems: string[] = [];
  const { apiVersion, kind } = object as { apiVersion: unknown; kind: unknown };
  const metadata = object.metadata as unknown;
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    problems.push('apiVersion is missing');
  } else if (!isApiVersion(apiVersion)) {
    problems.push(`apiVersion "${apiVersion}" is not group/version or version`);
  }
  if (typeof kind !== 'string' || kind === '') problems.push('kind is missing');
  else if (!/^[A-Za-z][A-Za-z0-9]*$/.test(kind)) problems.push(`kind "${kind}" is not a kind name`);
  if (!isRecord(metadata)) {
    problems.push('metadata is missing');
    return problems;
  }
  const { name, namespace, generateName } = metadata;
  if (name !== undefined && name !== null && typeof name !== 'string') {
    // The usual cause: a name YAML reads as a boolean or number (`y`, `no`, `on`, `1.10`).
    problems.push(
      `metadata.name must be a string, not ${JSON.stringify(name)} (quote the name in YAML)`,
    );
  } else if (typeof name !== 'string' || name === '') {
    problems.push(
      generateName === undefined
        ? 'metadata.name is missing'
        : 'metadata.generateName is not supported: an object needs a fixed name to be tracked',
    );
  } else if (typeof apiVersion === 'string' && typeof kind === 'string') {
    const bad = nameProblem(groupOf(apiVersion), kind, name);
    if (bad) problems.push(bad);
  }
  if (
    namespace !== undefined &&
    namespace !== '' &&
    (typeof namespace !== 'string' || !isDnsLabel(namespace))
  ) {
    problems.push(
      typeof namespace === 'string'
        ? `namespace ${JSON.stringify(namespace)} is not a DNS-1123 label`
        : `metadata.namespace must be a string, not ${JSON.stringify(namespace)} (quote it in YAML)`,
    );
  }
  problems.push(...mapProblems(metadata['labels'], 'label', true));
  problems.push(...mapProblems(metadata['annotations'], 'annotation', false));
  return problems;
}

function mapProblems(value: unknown, what: string, checkValues: boolean): string[] {
  if (value === undefined || value === null) return [];
  if (!isRecord(value)) return [`${what}s must be a mapping of strings`];
  const problems: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (!isQualifiedName(key)) problems.push(`${what} key "${key}" is not a valid key`);
    if (typeof v !== 'string') {
      // The usual cause: `enabled: true` or `version: 1.10` unquoted in YAML.
      problems.push(`${what} ${key} must be a string (quote the value in YAML)`);
    } else if (checkValues && !isLabelValue(v)) {
      problems.push(`${what} ${key} value "${v}" is not a valid label value`);
    }
  }
  return problems;
}

function isApiVersion(apiVersion: string): boolean {
  const slash = apiVersion.indexOf('/');
  if (slash < 0) return isDns1035Label(apiVersion);
  return isDnsSubdomain(apiVersion.slice(0, slash)) && isDns1035Label(apiVersion.slice(slash + 1));
}

/** Names an object that may lack a kind or name, for messages. */
function describe(object: KubeObject, index: number): string {
  const kind = typeof object.kind === 'string' && object.kind ? object.kind : 'object';
  const metadata = object.metadata as unknown;
  const raw = isRecord(metadata) ? metadata['name'] : undefined;
  // A name YAML read as a boolean or number is shown as written, so the object can be found.
  const name =
    typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean'
      ? String(raw)
      : '';
  return name ? `${kind} ${name}` : `${kind} #${index + 1} (no name)`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
