/**
 * The agent link: the hub's end of the agents' outbound streams over gRPC and NATS (hello,
 * reports, heartbeats, approvals, certificate renewal), and hub-to-hub fan-out.
 */
export { grpcCodeFor } from './grpc-errors.ts';
export { LinkServer, type LinkServerOptions } from './server.ts';
export { SessionRegistry, type Session } from './sessions.ts';
export { IngestBatcher, INGEST_BATCH_DEFAULTS, type IngestBatchOptions } from './ingest-batch.ts';
export {
  NatsLink,
  NATS_HUB_CONSUMER,
  NATS_REPORT_STREAM,
  NATS_LINK_DEFAULTS,
  HUB_FANOUT_SUBJECTS,
  isNatsSession,
  type NatsLinkOptions,
  type RelayedPush,
} from './nats-link.ts';
export { approvalMessage, deliverApprovals } from './approvals.ts';
export {
  readiness,
  READINESS_DEFAULTS,
  type ReadinessDeps,
  type ReadinessResult,
} from './readiness.ts';
export { TreeRequests, type TreeAsk, type TreeRequestsOptions } from './tree-requests.ts';
