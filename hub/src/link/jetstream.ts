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

/**
 * Header of a stream message carrying several reports of one agent: their count. The payload
 * is then each report's protobuf `AgentMessage` after its length (4 bytes, big-endian), in seq
 * order (the agent's `encodeReportBatch`, agent/src/link/nats-transport.ts). A message without
 * it is one `AgentMessage`.
 */
export const NATS_REPORTS_HEADER = 'Driftless-Reports';
/**
 * Header of the hub's answer to a Hello (value `1`): this hub takes messages of several
 * reports ({@link NATS_REPORTS_HEADER}); an agent that does not see it sends one per message.
 */
export const NATS_REPORT_BATCHES_HEADER = 'Driftless-Report-Batches';
/** Most reports one stream message may carry. */
export const NATS_MAX_REPORTS_PER_MESSAGE = 1024;

/**
 * The reports of a stream message (see {@link NATS_REPORTS_HEADER}), each still encoded; a
 * message without the header is one report. Throws a RangeError when the payload does not
 * match its header.
 */
export function splitReports(data: Uint8Array, count: string | undefined): Uint8Array[] {
  if (count === undefined || count === '') return [data];
  const n = Number(count);
  if (!(Number.isInteger(n) && n >= 1 && n <= NATS_MAX_REPORTS_PER_MESSAGE))
    throw new RangeError(
      `${NATS_REPORTS_HEADER} must be 1 to ${NATS_MAX_REPORTS_PER_MESSAGE}, got ${count.slice(0, 20)}`,
    );
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < data.length) {
    if (at + 4 > data.length) throw new RangeError(`report ${out.length + 1}: truncated length`);
    const length = view.getUint32(at);
    if (at + 4 + length > data.length)
      throw new RangeError(`report ${out.length + 1}: ${length} bytes past the payload's end`);
    out.push(data.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  if (out.length !== n)
    throw new RangeError(`${out.length} reports, ${NATS_REPORTS_HEADER} says ${n}`);
  return out;
}

/** The cluster of `driftless.agent.<token>.<kind>` (`_` in a token stands for `.`). */
export function clusterOfSubject(subject: string): string {
  return (subject.split('.')[2] ?? '').replaceAll('_', '.');
}
