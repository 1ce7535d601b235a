/**
 * The API server's checks of an object's metadata (k8s.io/apimachinery
 * ValidateObjectMeta and each kind's name function), made client-side for
 * objects that cannot be dry-run: those in a Namespace that does not exist
 * yet, which the server refuses for the missing Namespace before it gets to
 * these checks. Each rule here is one the server certainly applies, so a
 * refusal is never stricter than the server.
 */
import { DNS_SUBDOMAIN, isDnsLabel, isLabelKey, isLabelValue } from '@driftless/common';
import type { KubeObject } from '../model.ts';
import type { Refusal } from './schema-check.ts';

const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** Total size of an object's annotations, keys and values (apimachinery TotalAnnotationSizeLimitB). */
const MAX_ANNOTATIONS_BYTES = 256 * 1024;

/** A name rule: a test and the words for its refusal. */
interface NameRule {
  test: (name: string) => boolean;
  rule: string;
}

const SUBDOMAIN: NameRule = {
  test: (s) => DNS_SUBDOMAIN.test(s),
  rule: 'must be a DNS-1123 subdomain: at most 253 lower-case letters, digits, "-" and ".", starting and ending with a letter or digit',
};
const LABEL: NameRule = {
  test: isDnsLabel,
  rule: 'must be a DNS-1123 label: at most 63 lower-case letters, digits and "-", starting and ending with a letter or digit',
};
const LABEL_1035: NameRule = {
  test: (s) => s.length <= 63 && DNS_1035_LABEL.test(s),
  rule: 'must be a DNS-1035 label: at most 63 lower-case letters, digits and "-", starting with a letter and ending with a letter or digit',
};
const PATH_SEGMENT: NameRule = {
  test: (s) => s !== '.' && s !== '..' && !/[/%]/.test(s),
  rule: 'may not be "." or ".." nor contain "/" or "%"',
};
const atMost = (base: NameRule, max: number, why: string): NameRule => ({
  test: (s) => base.test(s) && s.length <= max,
  rule: `${base.rule}, and at most ${max} characters (${why})`,
});

/**
 * Name rules of kinds whose rule is not the subdomain one, keyed by `group/kind`
 * (the name function of each kind's validation in kube-apiserver).
 */
const NAME_RULES: Record<string, NameRule> = {
  '/Namespace': LABEL,
  '/Service': LABEL_1035,
  'rbac.authorization.k8s.io/Role': PATH_SEGMENT,
  'rbac.authorization.k8s.io/ClusterRole': PATH_SEGMENT,
  'rbac.authorization.k8s.io/RoleBinding': PATH_SEGMENT,
  'rbac.authorization.k8s.io/ClusterRoleBinding': PATH_SEGMENT,
  // The server writes the name into the pods' job-name label, whose values have at most 63.
  'batch/Job': atMost(SUBDOMAIN, 63, 'it becomes the value of the job-name label'),
  // Its Jobs are named after it with an 11-character suffix.
  'batch/CronJob': atMost(SUBDOMAIN, 52, 'its Jobs are named after it with a suffix'),
};

/**
 * Groups whose kinds all take DNS-1123 subdomain names unless {@link NAME_RULES} says otherwise.
 * A list of its own, not `BUILT_IN_GROUPS` (model.ts) minus some: a group added there must not
 * get a stricter name check here before its kinds' rules were gone through.
 */
const SUBDOMAIN_GROUPS = new Set([
  '',
  'apps',
  'batch',
  'autoscaling',
  'policy',
  'networking.k8s.io',
  'rbac.authorization.k8s.io',
  'storage.k8s.io',
  'scheduling.k8s.io',
  'coordination.k8s.io',
  'discovery.k8s.io',
  'admissionregistration.k8s.io',
]);

/**
 * The rule the server applies to names of `group/kind`: the kind's own, the
 * subdomain rule for built-in groups and custom resources (`custom`), and for
 * any other kind only what every name must be (a path segment).
 */
export function nameRuleOf(group: string, kind: string, custom: boolean): NameRule {
  return (
    NAME_RULES[`${group}/${kind}`] ??
    (custom || SUBDOMAIN_GROUPS.has(group) ? SUBDOMAIN : PATH_SEGMENT)
  );
}

/**
 * Why the server certainly refuses `obj`'s metadata, or undefined: its name
 * (by {@link nameRuleOf}), `generateName` (as a prefix), label keys and
 * values, annotation keys and their total size, finalizer names.
 * `custom`: a custom resource (subdomain names).
 */
export function metadataRefusal(
  obj: KubeObject,
  group: string,
  custom: boolean,
): Refusal | undefined {
  const meta: unknown = obj.metadata;
  if (!isRecord(meta)) return undefined;
  const rule = nameRuleOf(group, obj.kind, custom);
  const name = meta['name'];
  if (typeof name === 'string' && name !== '' && !rule.test(name))
    return { path: 'metadata.name', rule: `${JSON.stringify(name)} ${rule.rule}` };
  const generateName = meta['generateName'];
  // A prefix: the server takes a trailing "-" (it appends random characters).
  if (
    typeof generateName === 'string' &&
    generateName !== '' &&
    generateName !== '.' &&
    generateName !== '..' &&
    !rule.test(generateName.replace(/-$/, 'a'))
  )
    return {
      path: 'metadata.generateName',
      rule: `${JSON.stringify(generateName)} ${rule.rule} (as a prefix)`,
    };
  return (
    labelsRefusal(meta['labels'], 'metadata.labels') ??
    annotationsRefusal(meta) ??
    finalizersRefusal(meta)
  );
}

/** Why the server refuses a map of labels at `path`, or undefined. */
export function labelsRefusal(labels: unknown, path: string): Refusal | undefined {
  if (!isRecord(labels)) return undefined;
  for (const [key, value] of Object.entries(labels)) {
    if (!isLabelKey(key)) return { path, rule: `key ${JSON.stringify(key)} ${QUALIFIED_RULE}` };
    if (typeof value === 'string' && !isLabelValue(value))
      return {
        path: `${path}.${key}`,
        rule: `${JSON.stringify(value)} must be a label value: empty, or at most 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit`,
      };
  }
  return undefined;
}

const QUALIFIED_RULE =
  'must be a qualified name: an optional DNS-1123 subdomain prefix and "/", then at most 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit';

function annotationsRefusal(meta: Record<string, unknown>): Refusal | undefined {
  const annotations = meta['annotations'];
  if (!isRecord(annotations)) return undefined;
  let bytes = 0;
  for (const [key, value] of Object.entries(annotations)) {
    // The server checks the key lower-cased.
    if (!isLabelKey(key.toLowerCase()))
      return { path: 'metadata.annotations', rule: `key ${JSON.stringify(key)} ${QUALIFIED_RULE}` };
    bytes += Buffer.byteLength(key) + (typeof value === 'string' ? Buffer.byteLength(value) : 0);
  }
  return bytes > MAX_ANNOTATIONS_BYTES
    ? {
        path: 'metadata.annotations',
        rule: `${bytes} bytes: may hold at most ${MAX_ANNOTATIONS_BYTES} bytes of keys and values in all`,
      }
    : undefined;
}

function finalizersRefusal(meta: Record<string, unknown>): Refusal | undefined {
  const finalizers = meta['finalizers'];
  if (!Array.isArray(finalizers)) return undefined;
  for (const [i, f] of finalizers.entries())
    if (typeof f === 'string' && !isLabelKey(f))
      return { path: `metadata.finalizers[${i}]`, rule: `${JSON.stringify(f)} ${QUALIFIED_RULE}` };
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
