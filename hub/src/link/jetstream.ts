import {
  AckPolicy,
  DeliverPolicy,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
} from 'nats';

/** Name of the JetStream stream that keeps agent reports. */
export const NATS_REPORT_STREAM = 'DRIFTLESS_REPORTS';
/** The durable consumer all hub replicas share. */
export const NATS_HUB_CONSUMER = 'driftless-hub';

/** Creates the report stream and the hubs' durable consumer when missing. */
export async function ensureReportStream(jsm: JetStreamManager): Promise<void> {
  try {
    await jsm.streams.info(NATS_REPORT_STREAM);
  } catch (err) {
    if ((err as { code?: string }).code !== '404') throw err;
    await jsm.streams.add({
      name: NATS_REPORT_STREAM,
      subjects: ['driftless.agent.*.up'],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      // Bounded per cluster; the hub's store, not the stream, says what was delivered.
      max_msgs_per_subject: 100_000,
      duplicate_window: 120_000_000_000,
    });
  }
  try {
    await jsm.consumers.info(NATS_REPORT_STREAM, NATS_HUB_CONSUMER);
  } catch (err) {
    if ((err as { code?: string }).code !== '404') throw err;
    await jsm.consumers.add(NATS_REPORT_STREAM, {
      durable_name: NATS_HUB_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      // One at a time: the store takes a cluster's reports only in seq order.
      max_ack_pending: 1,
      ack_wait: 30_000_000_000,
    });
  }
}

/** The cluster of `driftless.agent.<token>.<kind>` (`_` in a token stands for `.`). */
export function clusterOfSubject(subject: string): string {
  return (subject.split('.')[2] ?? '').replaceAll('_', '.');
}
