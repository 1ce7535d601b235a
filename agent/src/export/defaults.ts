/**
 * Values the API server fills in when a manifest leaves them out, for the
 * common built-in kinds. managedFields alone cannot drop all of them: on a
 * plain create or update (not server-side apply) the request is defaulted
 * while it is decoded, before field ownership is computed, so the creator is
 * recorded as owning `progressDeadlineSeconds`, `dnsPolicy` and the like.
 * Export removes a value listed here when no server-side apply manager owns
 * it, and for objects without managedFields at all.
 */
import { groupOf, type KubeObject } from '../model.ts';
import type { PathSegment } from './fields-v1.ts';

/** Whether a value (and its parent, for defaults that depend on a sibling) is the default. */
type IsDefault = (value: unknown, parent: Record<string, unknown>) => boolean;

/** A rule: a dotted path where `*` is every item of a list, and what its default is. */
interface DefaultRule {
  path: string;
  isDefault: IsDefault;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const same =
  (expected: unknown): IsDefault =>
  (value) =>
    JSON.stringify(sortKeys(value)) === JSON.stringify(sortKeys(expected));

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isRecord(value)) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys(value[k])]),
  );
}

const always: IsDefault = () => true;

/** Kubernetes pulls `:latest` and untagged images always, others if not present. */
const defaultPullPolicy: IsDefault = (value, container) => {
  const image = typeof container['image'] === 'string' ? container['image'] : '';
  const name = image.split('@')[0] ?? '';
  const lastSegment = name.slice(name.lastIndexOf('/') + 1);
  const tag = lastSegment.includes(':') ? lastSegment.slice(lastSegment.indexOf(':') + 1) : '';
  const expected =
    !image.includes('@') && (tag === '' || tag === 'latest') ? 'Always' : 'IfNotPresent';
  return value === expected;
};

/** Tolerations the DefaultTolerationSeconds admission plugin adds to every Pod. */
const isDefaultToleration = (t: unknown): boolean =>
  isRecord(t) &&
  t['operator'] === 'Exists' &&
  t['effect'] === 'NoExecute' &&
  t['tolerationSeconds'] === 300 &&
  (t['key'] === 'node.kubernetes.io/not-ready' || t['key'] === 'node.kubernetes.io/unreachable');

/** Defaults of a container, below `prefix` (a path to a list of containers). */
function containerRules(prefix: string): DefaultRule[] {
  return [
    { path: `${prefix}.*.terminationMessagePath`, isDefault: same('/dev/termination-log') },
    { path: `${prefix}.*.terminationMessagePolicy`, isDefault: same('File') },
    { path: `${prefix}.*.imagePullPolicy`, isDefault: defaultPullPolicy },
    { path: `${prefix}.*.resources`, isDefault: same({}) },
    { path: `${prefix}.*.ports.*.protocol`, isDefault: same('TCP') },
  ];
}

/** Defaults of a Pod spec at `prefix`, as defaulting and the built-in admission plugins set them. */
function podSpecRules(prefix: string): DefaultRule[] {
  return [
    { path: `${prefix}.restartPolicy`, isDefault: same('Always') },
    { path: `${prefix}.dnsPolicy`, isDefault: same('ClusterFirst') },
    { path: `${prefix}.schedulerName`, isDefault: same('default-scheduler') },
    { path: `${prefix}.securityContext`, isDefault: same({}) },
    { path: `${prefix}.terminationGracePeriodSeconds`, isDefault: same(30) },
    { path: `${prefix}.enableServiceLinks`, isDefault: same(true) },
    { path: `${prefix}.preemptionPolicy`, isDefault: same('PreemptLowerPriority') },
    { path: `${prefix}.priority`, isDefault: same(0) },
    { path: `${prefix}.serviceAccount`, isDefault: always }, // deprecated alias of serviceAccountName
    { path: `${prefix}.serviceAccountName`, isDefault: same('default') },
    {
      path: `${prefix}.tolerations`,
      isDefault: (v) => Array.isArray(v) && v.every(isDefaultToleration),
    },
    ...containerRules(`${prefix}.containers`),
    ...containerRules(`${prefix}.initContainers`),
  ];
}

/** Defaults of a PersistentVolumeClaim spec at `prefix`. */
function claimSpecRules(prefix: string): DefaultRule[] {
  return [{ path: `${prefix}.volumeMode`, isDefault: same('Filesystem') }];
}

/** Null `creationTimestamp` that older clients and servers wrote into embedded templates. */
const nullTimestamp: IsDefault = (v) => v === null;

/** The rules per `group/kind`. */
const RULES: Record<string, DefaultRule[]> = {
  '/Pod': [
    ...podSpecRules('spec'),
    { path: 'spec.nodeName', isDefault: always }, // the scheduler's binding, not user intent
  ],
  '/ReplicationController': [
    ...podSpecRules('spec.template.spec'),
    { path: 'spec.template.metadata.creationTimestamp', isDefault: nullTimestamp },
  ],
  '/Service': [
    { path: 'spec.type', isDefault: same('ClusterIP') },
    { path: 'spec.sessionAffinity', isDefault: same('None') },
    { path: 'spec.internalTrafficPolicy', isDefault: same('Cluster') },
    { path: 'spec.ipFamilyPolicy', isDefault: same('SingleStack') },
    { path: 'spec.ipFamilies', isDefault: (v) => Array.isArray(v) && v.length === 1 },
    // Allocated from the cluster's range: meaningless elsewhere, except headless.
    { path: 'spec.clusterIP', isDefault: (v) => v !== 'None' },
    { path: 'spec.clusterIPs', isDefault: (v) => !(Array.isArray(v) && v[0] === 'None') },
    { path: 'spec.ports.*.protocol', isDefault: same('TCP') },
    { path: 'spec.ports.*.targetPort', isDefault: (v, port) => v === port['port'] },
  ],
  '/PersistentVolumeClaim': [
    ...claimSpecRules('spec'),
    { path: 'spec.volumeName', isDefault: always }, // set when the claim is bound
  ],
  'apps/Deployment': [
    { path: 'spec.progressDeadlineSeconds', isDefault: same(600) },
    { path: 'spec.revisionHistoryLimit', isDefault: same(10) },
    {
      path: 'spec.strategy',
      isDefault: same({
        type: 'RollingUpdate',
        rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' },
      }),
    },
    ...podSpecRules('spec.template.spec'),
    { path: 'spec.template.metadata.creationTimestamp', isDefault: nullTimestamp },
  ],
  'apps/ReplicaSet': [
    ...podSpecRules('spec.template.spec'),
    { path: 'spec.template.metadata.creationTimestamp', isDefault: nullTimestamp },
  ],
  'apps/StatefulSet': [
    { path: 'spec.podManagementPolicy', isDefault: same('OrderedReady') },
    { path: 'spec.revisionHistoryLimit', isDefault: same(10) },
    {
      path: 'spec.updateStrategy',
      isDefault: same({ type: 'RollingUpdate', rollingUpdate: { partition: 0 } }),
    },
    {
      path: 'spec.persistentVolumeClaimRetentionPolicy',
      isDefault: same({ whenDeleted: 'Retain', whenScaled: 'Retain' }),
    },
    ...claimSpecRules('spec.volumeClaimTemplates.*.spec'),
    { path: 'spec.volumeClaimTemplates.*.apiVersion', isDefault: same('v1') },
    { path: 'spec.volumeClaimTemplates.*.kind', isDefault: same('PersistentVolumeClaim') },
    { path: 'spec.volumeClaimTemplates.*.status', isDefault: always },
    ...podSpecRules('spec.template.spec'),
    { path: 'spec.template.metadata.creationTimestamp', isDefault: nullTimestamp },
  ],
  'apps/DaemonSet': [
    // Set by the server on every write of the template, recorded as the writer's.
    { path: 'metadata.annotations.deprecated.daemonset.template.generation', isDefault: always },
    { path: 'spec.revisionHistoryLimit', isDefault: same(10) },
    {
      path: 'spec.updateStrategy',
      isDefault: same({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }),
    },
    ...podSpecRules('spec.template.spec'),
    { path: 'spec.template.metadata.creationTimestamp', isDefault: nullTimestamp },
  ],
  'batch/Job': [
    { path: 'spec.backoffLimit', isDefault: same(6) },
    { path: 'spec.completions', isDefault: same(1) },
    { path: 'spec.parallelism', isDefault: same(1) },
    { path: 'spec.completionMode', isDefault: same('NonIndexed') },
    { path: 'spec.suspend', isDefault: same(false) },
    { path: 'spec.manualSelector', isDefault: same(false) },
    { path: 'spec.podReplacementPolicy', isDefault: same('TerminatingOrFailed') },
    // The selector and its labels are generated from the Job's uid at create.
    { path: 'spec.selector', isDefault: (v) => hasControllerUid(v, 'matchLabels') },
    ...[
      'batch.kubernetes.io/controller-uid',
      'controller-uid',
      'batch.kubernetes.io/job-name',
      'job-name',
    ].map((label): DefaultRule => ({
      path: `spec.template.metadata.labels.${label}`,
      isDefault: always,
    })),
    ...podSpecRules('spec.template.spec'),
    { path: 'spec.template.metadata.creationTimestamp', isDefault: nullTimestamp },
  ],
  'batch/CronJob': [
    { path: 'spec.concurrencyPolicy', isDefault: same('Allow') },
    { path: 'spec.failedJobsHistoryLimit', isDefault: same(1) },
    { path: 'spec.successfulJobsHistoryLimit', isDefault: same(3) },
    { path: 'spec.suspend', isDefault: same(false) },
    { path: 'spec.jobTemplate.spec.backoffLimit', isDefault: same(6) },
    { path: 'spec.jobTemplate.spec.completionMode', isDefault: same('NonIndexed') },
    { path: 'spec.jobTemplate.spec.suspend', isDefault: same(false) },
    { path: 'spec.jobTemplate.spec.podReplacementPolicy', isDefault: same('TerminatingOrFailed') },
    ...podSpecRules('spec.jobTemplate.spec.template.spec'),
    { path: 'spec.jobTemplate.metadata.creationTimestamp', isDefault: nullTimestamp },
    { path: 'spec.jobTemplate.spec.template.metadata.creationTimestamp', isDefault: nullTimestamp },
  ],
};

function hasControllerUid(selector: unknown, field: string): boolean {
  const labels = isRecord(selector) ? selector[field] : undefined;
  return (
    isRecord(labels) &&
    ('batch.kubernetes.io/controller-uid' in labels || 'controller-uid' in labels)
  );
}

/**
 * The dotted rule path as segments; a label or annotation key (which has
 * dots of its own) is written whole after `labels.` or `annotations.`.
 */
function ruleSegments(path: string): string[] {
  const m = /^(.*)\.(labels|annotations)\.(.+)$/.exec(path);
  if (!m) return path.split('.');
  return [...(m[1] ?? '').split('.'), m[2] ?? '', m[3] ?? ''];
}

/**
 * Removes from `obj` (in place) every value listed as a server default for
 * its kind, unless `keep(path)` says a manager declared it on purpose.
 * Returns the paths removed, for tests and debug output.
 */
export function stripKnownDefaults(
  obj: KubeObject,
  keep: (path: readonly PathSegment[]) => boolean = () => false,
): string[] {
  const rules = RULES[`${groupOf(obj.apiVersion)}/${obj.kind}`] ?? [];
  const removed: string[] = [];
  for (const rule of rules) {
    visit(obj, ruleSegments(rule.path), [], (parent, key, path) => {
      if (rule.isDefault(parent[key], parent) && !keep(path)) {
        delete parent[key];
        removed.push(path.join('.'));
      }
    });
  }
  return removed;
}

/** Calls `found` for every existing field matching `pattern` (`*` = each list item). */
function visit(
  node: unknown,
  pattern: readonly string[],
  path: PathSegment[],
  found: (parent: Record<string, unknown>, key: string, path: PathSegment[]) => void,
): void {
  const [head, ...rest] = pattern;
  if (head === undefined) return;
  if (head === '*') {
    if (Array.isArray(node))
      node.forEach((item: unknown, i) => visit(item, rest, [...path, i], found));
    return;
  }
  if (!isRecord(node) || !Object.hasOwn(node, head)) return;
  if (rest.length === 0) found(node, head, [...path, head]);
  else visit(node[head], rest, [...path, head], found);
}
