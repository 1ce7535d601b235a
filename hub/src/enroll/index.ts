/**
 * Cluster enrollment and identity: enrollment tokens, the hub's certificate authority, NATS
 * credentials, and the checks on names and labels an agent presents.
 */
export {
  CertificateAuthority,
  CaError,
  checkClusterName,
  checkCsr,
  clusterUri,
  CLUSTER_NAME,
  type CaOptions,
  type IssuedCertificate,
} from './ca.ts';
export {
  Enroller,
  checkLabels,
  MAX_LABELS,
  type EnrollInput,
  type EnrollOutput,
  type EnrollerOptions,
} from './enroll.ts';
export { FailureLimiter, peerAddress, type FailureLimiterOptions } from './ratelimit.ts';
export {
  mintToken,
  parseToken,
  hashSecret,
  secretMatches,
  type MintedToken,
  type TokenKind,
} from './tokens.ts';
export {
  NatsAuthority,
  NatsAuthError,
  NATS_ACCOUNT_NAME,
  agentPermissions,
  clusterToken,
  natsSubjects,
  type NatsUserCredentials,
} from './nats-auth.ts';
