import { errorMessage, type Logger } from '@driftless/common';
import { refString, type ObjectRef } from '../model.ts';
import type { KubeClient } from '../kube/index.ts';
import type {
  AppStatusReport,
  ConfigStatusReport,
  DriftReport,
  Reporter,
  SyncReport,
} from './report.ts';

/** Options of {@link EventReporter}. */
export interface EventReporterOptions {
  client: KubeClient;
  /** This cluster's name, the Events' reporting instance. */
  cluster: string;
  /** Namespace of Events about apps (the agent's state namespace). */
  namespace: string;
  logger: Logger;
}

/** Kubernetes caps an Event's note at 1 kB. */
const MAX_NOTE = 1024;

/**
 * Records syncs and drift as Kubernetes Events (events.k8s.io/v1), so
 * `kubectl events` shows them beside the objects they concern: sync results
 * on the app's inventory ConfigMap, drift on the drifted object itself.
 * Writes run in the background; a failure is logged and never blocks the
 * agent. App statuses are not recorded (they change often and say little
 * that the syncs do not).
 */
export class EventReporter implements Reporter {
  readonly #o: EventReporterOptions;

  constructor(options: EventReporterOptions) {
    this.#o = options;
  }

  appStatus(_report: AppStatusReport): void {}

  syncResult(r: SyncReport): void {
    // A carried app was not synced: nothing happened in the cluster to record (as no sync
    // operation, no Event); its status and the hub's history say it reached the revision.
    if (r.carriedFrom) return;
    // A sync that applied but left the app degraded or missing objects is not one to pass over
    // in `kubectl events --types=Warning`.
    const unhealthy =
      r.outcome === 'succeeded' && (r.health === 'Degraded' || r.health === 'Missing');
    const failed = r.outcome === 'failed' || r.outcome === 'approval-stale' || unhealthy;
    const changed = r.objects.filter((o) => o.action !== 'unchanged').length;
    // What the sync left undone though nothing failed (objects not pruned), as the status says.
    const notes = r.notes?.length ? `; ${r.notes.join('; ')}` : '';
    const note =
      r.outcome === 'succeeded'
        ? `synced ${r.revision.slice(0, 7)}: ${changed} object(s) changed, health ${r.health}${notes}; trace ${r.traceId}`
        : `${r.outcome} at ${r.revision.slice(0, 7)}${r.error ? `: ${r.error}` : ''}${notes}; trace ${r.traceId}`;
    this.#emit({
      regarding: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        namespace: this.#o.namespace,
        name: `driftless-app-${r.app}`,
      },
      action: 'Sync',
      reason: {
        succeeded: 'Synced',
        failed: 'SyncFailed',
        planned: 'Planned',
        'waiting-approval': 'WaitingApproval',
        'approval-stale': 'ApprovalStale',
        suspended: 'Suspended',
      }[r.outcome],
      type: failed ? 'Warning' : 'Normal',
      note: `app ${r.app} ${note}`,
    });
  }

  /** An invalid driftless.yaml is a Warning on the state namespace; its repair a Normal Event. */
  configStatus(r: ConfigStatusReport): void {
    const at = r.revision.slice(0, 7);
    this.#emit({
      // About the agent's state namespace, and in it: Events about cluster-scoped objects
      // must otherwise live in `default`, where no one looks for the agent's.
      regarding: {
        apiVersion: 'v1',
        kind: 'Namespace',
        namespace: this.#o.namespace,
        name: this.#o.namespace,
      },
      action: 'LoadConfig',
      reason: r.valid ? 'ConfigValid' : 'ConfigInvalid',
      type: r.valid ? 'Normal' : 'Warning',
      note: r.valid
        ? `${r.file} at ${at} is valid`
        : `${r.file} at ${at} is invalid; ${r.appliedRevision ? `apps stay at the config of ${r.appliedRevision.slice(0, 7)}` : 'no app is synced'}: ${r.error}`,
    });
  }

  drift(r: DriftReport): void {
    const fields = r.fields.map((f) => f.path).join(', ');
    const what = r.type === 'deleted' ? 'deleted' : `changed ${fields}`;
    const healed = r.healed && r.closedBy === 'heal';
    const closed = r.healed && !healed ? `; closed (${r.closedBy || 'back in line'})` : '';
    this.#emit({
      regarding: r.ref,
      action: r.healed ? 'Heal' : 'Drift',
      reason: healed
        ? 'DriftHealed'
        : r.healed
          ? 'DriftClosed'
          : r.fight
            ? 'DriftFight'
            : 'Drifted',
      type: r.healed ? 'Normal' : 'Warning',
      note: `app ${r.app}: ${refString(r.ref)} ${what}${r.changedBy ? ` by ${r.changedBy}` : ''}${healed ? '; healed' : closed}${r.message ? `; ${r.message}` : ''}`,
    });
  }

  #emit(e: {
    regarding: ObjectRef;
    action: string;
    reason: string;
    type: 'Normal' | 'Warning';
    note: string;
  }): void {
    // Cluster-scoped objects have no namespace; their Events go to the state namespace.
    const namespace = e.regarding.namespace || this.#o.namespace;
    const body = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { generateName: 'driftless-', namespace },
      eventTime: new Date().toISOString().replace('Z', '000Z'),
      reportingController: 'driftless.dev/agent',
      reportingInstance: this.#o.cluster,
      action: e.action,
      reason: e.reason,
      type: e.type,
      note: e.note.length > MAX_NOTE ? `${e.note.slice(0, MAX_NOTE - 1)}…` : e.note,
      regarding: {
        apiVersion: e.regarding.apiVersion,
        kind: e.regarding.kind,
        name: e.regarding.name,
        ...(e.regarding.namespace ? { namespace: e.regarding.namespace } : {}),
      },
    };
    this.#o.client
      .request(
        'POST',
        `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/events`,
        { body },
      )
      .catch((err: unknown) =>
        this.#o.logger.warn(
          { err: errorMessage(err) },
          `could not record Event ${e.reason}: ${errorMessage(err)}`,
        ),
      );
  }
}
