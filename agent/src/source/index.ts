/**
 * The Git source of the agent: one branch of one repository kept checked out
 * on local disk, fetched only when its head moves, with the last good checkout
 * kept for when Git is unreachable. See git-source.ts for the work directory
 * layout and why no timers live here.
 */
export {
  GitSource,
  resolveInCheckout,
  type Checkout,
  type GitAuth,
  type GitSourceOptions,
  type SyncPhases,
  type SyncResult,
} from './git-source.ts';
export {
  GitAuthError,
  GitNotFoundError,
  GitProtocolError,
  GitUnavailableError,
  PathNotFoundError,
  PathOutsideCheckoutError,
  toGitSourceError,
  type GitLocation,
  type GitSourceError,
} from './errors.ts';
export {
  DEFAULT_MAX_FETCH_BYTES,
  GitResponseTooLargeError,
  limitResponses,
} from './response-limit.ts';
export {
  CommitSignatureError,
  CommitVerifier,
  keysFromFile,
  keysFromSecret,
  parseAllowedKeys,
  splitSignedCommit,
  verifyCommit,
  type AllowedKeys,
  type CommitVerifierOptions,
  type Signer,
} from './verify.ts';
