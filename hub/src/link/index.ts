export { LinkServer, grpcCodeFor, type LinkServerOptions } from './server.ts';
export { SessionRegistry, type Session } from './sessions.ts';
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
