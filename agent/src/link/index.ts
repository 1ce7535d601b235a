/**
 * The agent's link to the hub (gRPC over mutual TLS, or NATS): enrollment and the
 * identity Secret, the outbox of sequenced reports, the reporter that feeds
 * it, and the reconnecting link that delivers it and acts on what the hub
 * sends down. See docs/link.md.
 */
export {
  EnrollError,
  GrpcCode,
  IdentityInvalidError,
  IdentityStoreError,
  LinkClosedError,
  NotEnrolledError,
  grpcCodeName,
} from './errors.ts';
export {
  IDENTITY_SECRET,
  MemoryIdentityStore,
  SecretIdentityStore,
  certificateInfo,
  generateKeyAndCsr,
  keyMatchesCertificate,
  renewAtMs,
  type CertificateInfo,
  type Identity,
  type IdentityStore,
  type KeyAndCsr,
} from './identity.ts';
export {
  DEFAULT_OUTBOX_MAX_MESSAGES,
  Outbox,
  type OutboxOptions,
  type OutboxSnapshot,
  type OutboxStats,
  type ReportBody,
} from './outbox.ts';
export {
  OUTBOX_JOURNAL_DEFAULTS,
  OutboxJournal,
  type OutboxJournalOptions,
} from './outbox-journal.ts';
export { toAppStatus, toDriftReport, toObjectRef, toSyncResult } from './convert.ts';
export { LinkReporter, syncTraceContext } from './reporter.ts';
export { askedLimits, toTreeResponse, treeAnswerer, treeErrorResponse } from './tree-convert.ts';
export {
  GRPC_TRANSPORT_DEFAULTS,
  GrpcTransport,
  type EnrollExtension,
  type GrpcTransportOptions,
  type LinkStream,
  type LinkTransport,
  type StreamEnd,
  type StreamHandlers,
} from './transport.ts';
export {
  NATS_TRANSPORT_DEFAULTS,
  NatsTransport,
  natsClusterToken,
  type NatsLinkEvent,
  type NatsTransportOptions,
} from './nats-transport.ts';
export { LINK_TRANSITIONS, LinkStateError } from './link-state.ts';
export {
  HUB_LINK_DEFAULTS,
  HubLink,
  type HubLinkOptions,
  type LinkHooks,
  type LinkState,
  type LinkStatus,
} from './hub-link.ts';
