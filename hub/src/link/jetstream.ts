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

/**
 * Reports the stream hands out before the first of them is acked, over all replicas. More
 * than one lets a replica commit reports of many clusters in one transaction (its group
 * commit): with one, every report was its own transaction and its own round trip to
 * nats-server. A cluster's reports still reach the store in seq order: a replica ingests each
 * cluster's in stream order, and a report that reaches a replica before its predecessor (held
 * by another replica, or redelivered) is handed back to the stream for a later try.
 */
export const NATS_CONSUMER_MAX_ACK_PENDING = 2048;

/**
 * Creates the report stream and the hubs' durable consumer when missing, and brings an existing
 * consumer's window to {@link NATS_CONSUMER_MAX_ACK_PENDING} (hubs before it made it 1).
 */
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
  let consumer;
  try {
    consumer = await jsm.consumers.info(NATS_REPORT_STREAM, NATS_HUB_CONSUMER);
  } catch (err) {
    if ((err as { code?: string }).code !== '404') throw err;
    await jsm.consumers.add(NATS_REPORT_STREAM, {
      durable_name: NATS_HUB_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      max_ack_pending: NATS_CONSUMER_MAX_ACK_PENDING,
      ack_wait: 30_000_000_000,
    });
    return;
  }
  if (consumer.config.max_ack_pending !== NATS_CONSUMER_MAX_ACK_PENDING)
    await jsm.consumers.update(NATS_REPORT_STREAM, NATS_HUB_CONSUMER, {
      max_ack_pending: NATS_CONSUMER_MAX_ACK_PENDING,
    });
}

/** The cluster of `driftless.agent.<token>.<kind>` (`_` in a token stands for `.`). */
export function clusterOfSubject(subject: string): string {
  return (subject.split('.')[2] ?? '').replaceAll('_', '.');
}
