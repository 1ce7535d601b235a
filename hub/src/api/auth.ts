import { type FailureLimiter, parseToken, secretMatches } from '../enroll/index.ts';
import { PermissionDeniedError, UnauthenticatedError } from '../errors.ts';
import type { Role, Store } from '../store/index.ts';
import type { Principal } from './router.ts';

/** Roles in order: each may do everything the ones before it may. */
export const ROLES: readonly Role[] = ['viewer', 'operator', 'approver', 'admin'];

/** Whether `role` includes `needed`. */
export function allows(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** The audit log's name for a principal: `alice (at_12ab...)`. */
export function actorOf(p: Principal): string {
  return `${p.name} (${p.id})`;
}

/**
 * Authenticates `Authorization: Bearer <token>` and checks the role. Failures
 * count against the peer's rate limit, so API tokens cannot be guessed either.
 */
export async function authenticate(options: {
  header: string | undefined;
  store: Store;
  limiter: FailureLimiter;
  peer: string;
  needed: Role;
  what: string;
}): Promise<Principal> {
  const { header, store, limiter, peer, needed, what } = options;
  limiter.check(peer, what);
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!m) {
    throw new UnauthenticatedError(`${what}: missing "Authorization: Bearer <API token>" header`);
  }
  const parsed = parseToken('api', m[1]!);
  const token = parsed ? await store.getApiToken(parsed.id) : undefined;
  if (!parsed || !secretMatches(parsed.secret, token?.secretHash) || !token) {
    limiter.fail(peer);
    throw new UnauthenticatedError(`${what}: API token is not valid`);
  }
  if (token.revokedMs !== 0) {
    limiter.fail(peer);
    throw new UnauthenticatedError(`${what}: API token ${token.id} was revoked`);
  }
  const principal = { id: token.id, name: token.name, role: token.role };
  if (!allows(principal.role, needed))
    throw new PermissionDeniedError(
      `${what}: role ${principal.role} of API token ${token.id} may not do this; it needs ${needed}`,
    );
  return principal;
}
