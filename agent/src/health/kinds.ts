import { groupOf, refOf, refString, type HealthRule, type KubeObject } from '../model.ts';
import { healthByRule } from './expressions.ts';
import type { Health, HealthStatus } from './types.ts';

/** Condition messages can be long (stack traces, webhook output); keep health readable. */
const MAX_DETAIL = 160;

/** One entry of `status.conditions`. */
interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

/**
 * A status check for one kind: returns the status and why, without the
 * object's name, and what it waits on when that does not gate a wave.
 */
type Check = (view: View) => Verdict;
type Verdict = [HealthStatus, string] | [HealthStatus, string, string];

/** The parts of an object that every check reads, loosely typed as the cluster may send anything. */
interface View {
  spec: Record<string, unknown>;
  status: Record<string, unknown>;
  generation: number | undefined;
  condition: (type: string) => Condition | undefined;
  annotations: Record<string, string>;
}

/**
 * The health of one live object by its kind: Deployment, StatefulSet,
 * DaemonSet, ReplicaSet, Job, Pod, PersistentVolumeClaim, Service,
 * CustomResourceDefinition, and for any other kind its `Ready` condition
 * (kstatus conventions: `Stalled`, `Reconciling`, `observedGeneration`).
 * Kinds without status semantics (ConfigMap, Namespace, ...) are Healthy
 * once they exist; `undefined` (not in the cluster) is Missing. An app's
 * own CEL `rules` come first for the kinds they name. Never throws: a status
 * that cannot be read is Unknown.
 */
export function healthOf(obj: KubeObject | undefined, rules: readonly HealthRule[] = []): Health {
  if (obj === undefined) return { status: 'Missing', message: 'not found in the cluster' };
  const name = describe(obj);
  try {
    const byRule = rules.length > 0 ? healthByRule(obj, rules) : undefined;
    if (byRule) return { ...byRule, message: `${name}: ${byRule.message}` };
    const [status, why, waitsOn] = check(obj);
    return { status, message: `${name}: ${why}`, ...(waitsOn ? { waitsOn } : {}) };
  } catch (err) {
    return { status: 'Unknown', message: `${name}: cannot read its status: ${String(err)}` };
  }
}

function check(obj: KubeObject): Verdict {
  if (obj.metadata.deletionTimestamp) return ['Progressing', 'being deleted'];
  const view = viewOf(obj);
  const byKind = CHECKS[`${groupOf(obj.apiVersion)}/${obj.kind}`] ?? conditionsCheck;
  return byKind(view);
}

const CHECKS: Record<string, Check> = {
  'apps/Deployment': deployment,
  'apps/StatefulSet': statefulSet,
  'apps/DaemonSet': daemonSet,
  'apps/ReplicaSet': replicaSet,
  'batch/Job': job,
  '/Pod': pod,
  '/PersistentVolumeClaim': persistentVolumeClaim,
  '/Service': service,
  'apiextensions.k8s.io/CustomResourceDefinition': customResourceDefinition,
};

/** Like `kubectl rollout status deployment`, plus the progress deadline and pause. */
function deployment(v: View): [HealthStatus, string] {
  if (v.spec['paused'] === true) return ['Progressing', 'rollout paused'];
  const stale = staleGeneration(v);
  if (stale) return ['Progressing', stale];
  const progressing = v.condition('Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return ['Degraded', `rollout exceeded its progress deadline${detail(progressing)}`];
  }
  const wanted = num(v.spec['replicas']) ?? 1;
  const updated = num(v.status['updatedReplicas']) ?? 0;
  const total = num(v.status['replicas']) ?? 0;
  const available = num(v.status['availableReplicas']) ?? 0;
  if (updated < wanted) return ['Progressing', `${updated} of ${wanted} replicas updated`];
  if (total > updated) {
    return ['Progressing', `${total - updated} old replicas pending termination`];
  }
  if (available < updated) return ['Progressing', `${available} of ${wanted} replicas available`];
  return ['Healthy', `${available} of ${wanted} replicas available`];
}

/** Like `kubectl rollout status statefulset`: readiness, then partition, then revision. */
function statefulSet(v: View): [HealthStatus, string] {
  const stale = staleGeneration(v);
  if (stale) return ['Progressing', stale];
  const wanted = num(v.spec['replicas']) ?? 1;
  const ready = num(v.status['readyReplicas']) ?? 0;
  const updated = num(v.status['updatedReplicas']) ?? 0;
  if (ready < wanted) return ['Progressing', `${ready} of ${wanted} replicas ready`];
  const strategy = record(v.spec['updateStrategy']);
  if (strategy['type'] === 'OnDelete') {
    // Pods change only when someone deletes them: nothing to wait for.
    return ['Healthy', `${ready} of ${wanted} replicas ready (OnDelete updates)`];
  }
  const partition = num(record(strategy['rollingUpdate'])['partition']) ?? 0;
  if (partition > 0) {
    const toUpdate = Math.max(wanted - partition, 0);
    if (updated < toUpdate) {
      return ['Progressing', `${updated} of ${toUpdate} replicas updated (partition ${partition})`];
    }
    return ['Healthy', `partitioned rollout complete: ${updated} updated (partition ${partition})`];
  }
  const current = v.status['currentRevision'];
  const next = v.status['updateRevision'];
  if (typeof next === 'string' && current !== next) {
    return ['Progressing', `${updated} of ${wanted} replicas at revision ${next}`];
  }
  return ['Healthy', `${ready} of ${wanted} replicas ready`];
}

/** Like `kubectl rollout status daemonset`. */
function daemonSet(v: View): [HealthStatus, string] {
  const stale = staleGeneration(v);
  if (stale) return ['Progressing', stale];
  const desired = num(v.status['desiredNumberScheduled']) ?? 0;
  const updated = num(v.status['updatedNumberScheduled']) ?? 0;
  const available = num(v.status['numberAvailable']) ?? 0;
  const onDelete = record(v.spec['updateStrategy'])['type'] === 'OnDelete';
  if (!onDelete && updated < desired) {
    return ['Progressing', `${updated} of ${desired} pods updated`];
  }
  if (available < desired) return ['Progressing', `${available} of ${desired} pods available`];
  return ['Healthy', `${available} of ${desired} pods available`];
}

function replicaSet(v: View): [HealthStatus, string] {
  const stale = staleGeneration(v);
  if (stale) return ['Progressing', stale];
  const failure = v.condition('ReplicaFailure');
  if (failure?.status === 'True') return ['Degraded', `cannot create pods${detail(failure)}`];
  const wanted = num(v.spec['replicas']) ?? 1;
  const available = num(v.status['availableReplicas']) ?? 0;
  if (available < wanted) return ['Progressing', `${available} of ${wanted} replicas available`];
  return ['Healthy', `${available} of ${wanted} replicas available`];
}

function job(v: View): [HealthStatus, string] {
  const succeeded = num(v.status['succeeded']) ?? 0;
  const complete = v.condition('Complete');
  if (complete?.status === 'True') return ['Healthy', `complete (${succeeded} succeeded)`];
  for (const type of ['Failed', 'FailureTarget']) {
    const failed = v.condition(type);
    if (failed?.status === 'True') return ['Degraded', `failed${detail(failed)}`];
  }
  if (v.spec['suspend'] === true) return ['Progressing', 'suspended'];
  const completions = num(v.spec['completions']) ?? 1;
  const active = num(v.status['active']) ?? 0;
  return ['Progressing', `running: ${active} active, ${succeeded} of ${completions} succeeded`];
}

/** Container states that will not clear up without a change. */
const STUCK =
  /^(CrashLoopBackOff|ImagePullBackOff|ErrImagePull|InvalidImageName|CreateContainerConfigError|CreateContainerError)$/;

function pod(v: View): [HealthStatus, string] {
  const phase = v.status['phase'];
  if (phase === 'Succeeded') return ['Healthy', 'succeeded'];
  if (phase === 'Failed') {
    return [
      'Degraded',
      `failed${detail({ reason: str(v.status['reason']), message: str(v.status['message']) })}`,
    ];
  }
  for (const c of [
    ...list(v.status['initContainerStatuses']),
    ...list(v.status['containerStatuses']),
  ]) {
    const waiting = record(record(c['state'])['waiting']);
    const reason = str(waiting['reason']);
    if (STUCK.test(reason)) {
      return [
        'Degraded',
        `container ${str(c['name'])} is ${reason}${detail({ reason: '', message: str(waiting['message']) })}`,
      ];
    }
  }
  if (phase === 'Running') {
    const ready = v.condition('Ready');
    return ready?.status === 'True'
      ? ['Healthy', 'running and ready']
      : ['Progressing', 'running, not ready'];
  }
  if (phase === 'Pending' || phase === undefined) return ['Progressing', 'pending'];
  return ['Unknown', `phase ${str(phase)}`];
}

/** Set by the scheduler on a claim once a pod using it was placed on a node. */
const SELECTED_NODE = 'volume.kubernetes.io/selected-node';

/**
 * A Pending claim that no scheduled pod uses yet waits for its first
 * consumer (`WaitForFirstConsumer`) or a provisioner: it does not gate later
 * waves, where its consumer usually is. Once a pod was placed, binding is
 * under way and it does gate.
 */
function persistentVolumeClaim(v: View): Verdict {
  const phase = v.status['phase'];
  switch (phase) {
    case 'Bound':
      return ['Healthy', `bound to ${str(v.spec['volumeName']) || 'a volume'}`];
    case 'Lost':
      return ['Degraded', 'lost its volume'];
    case 'Pending':
    case undefined: {
      const node = v.annotations[SELECTED_NODE];
      if (node) return ['Progressing', `pending: binding a volume on node ${node}`];
      return [
        'Progressing',
        'pending: waiting for its first consumer or a volume',
        'a pod that uses it, or a volume',
      ];
    }
    default:
      return ['Unknown', `phase ${str(phase)}`];
  }
}

/** A LoadBalancer without an address waits on the cluster's load balancer: it gates no wave. */
function service(v: View): Verdict {
  const type = str(v.spec['type']) || 'ClusterIP';
  if (type !== 'LoadBalancer') return ['Healthy', type];
  const ingress = list(record(v.status['loadBalancer'])['ingress']);
  if (ingress.length === 0) {
    return ['Progressing', 'waiting for a load balancer address', 'a load balancer address'];
  }
  const addresses = ingress.map((i) => str(i['ip']) || str(i['hostname'])).filter(Boolean);
  return ['Healthy', `load balancer at ${addresses.join(', ') || 'an address'}`];
}

function customResourceDefinition(v: View): [HealthStatus, string] {
  const names = v.condition('NamesAccepted');
  if (names?.status === 'False') return ['Degraded', `names not accepted${detail(names)}`];
  const established = v.condition('Established');
  if (established?.status === 'True') return ['Healthy', 'established'];
  return ['Progressing', 'waiting to be established'];
}

/** Reasons of a False `Ready` condition that mean "not yet" rather than "failed". */
const NOT_YET =
  /progress|reconcil|pending|wait|creat|updat|initiali[sz]|provision|install|upgrad|dependencynotready/i;
/** ...unless they also say it failed (`ReconciliationFailed`). */
const FAILED = /fail|error|invalid|denied|backoff|stalled|exceeded/i;

/** kstatus conventions for any other kind: observedGeneration, Stalled, Ready, Reconciling. */
function conditionsCheck(v: View): [HealthStatus, string] {
  const stale = num(v.status['observedGeneration']) === undefined ? undefined : staleGeneration(v);
  if (stale) return ['Progressing', stale];
  const stalled = v.condition('Stalled');
  if (stalled?.status === 'True') return ['Degraded', `stalled${detail(stalled)}`];
  const ready = v.condition('Ready');
  if (ready) {
    switch (ready.status) {
      case 'True':
        return ['Healthy', `ready${detail(ready)}`];
      case 'False': {
        const notYet = NOT_YET.test(ready.reason) && !FAILED.test(ready.reason);
        return [notYet ? 'Progressing' : 'Degraded', `not ready${detail(ready)}`];
      }
      case 'Unknown':
        return ['Progressing', `readiness unknown${detail(ready)}`];
      default:
        return ['Unknown', `Ready condition has status ${JSON.stringify(ready.status)}`];
    }
  }
  const reconciling = v.condition('Reconciling');
  if (reconciling?.status === 'True') return ['Progressing', `reconciling${detail(reconciling)}`];
  return ['Healthy', 'exists'];
}

/** Says so when the controller has not yet seen the latest spec; its status is then stale. */
function staleGeneration(v: View): string | undefined {
  const observed = num(v.status['observedGeneration']);
  if (observed === undefined) return 'waiting for the controller to report status';
  if (v.generation !== undefined && observed < v.generation) {
    return `waiting for the controller to observe generation ${v.generation} (at ${observed})`;
  }
  return undefined;
}

function viewOf(obj: KubeObject): View {
  const status = record(obj['status']);
  const conditions = list(status['conditions']).map((c) => ({
    type: str(c['type']),
    status: str(c['status']),
    reason: str(c['reason']),
    message: str(c['message']),
  }));
  return {
    spec: record(obj['spec']),
    status,
    generation: num(obj.metadata['generation']),
    condition: (type) => conditions.find((c) => c.type === type),
    annotations: (record(obj.metadata.annotations) as Record<string, string>) ?? {},
  };
}

/** `: Reason: message`, shortened, or '' when the condition says nothing. */
function detail(c: { reason: string; message: string }): string {
  const text = [c.reason, c.message].filter(Boolean).join(': ');
  if (!text) return '';
  return `: ${text.length > MAX_DETAIL ? `${text.slice(0, MAX_DETAIL)}…` : text}`;
}

function describe(obj: KubeObject): string {
  return refString(refOf(obj));
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function list(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.map(record) : [];
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
