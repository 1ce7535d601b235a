import { type FailureLimiter, parseToken, secretMatches } from '../enroll/index.ts';
import { PermissionDeniedError, UnauthenticatedError } from '../errors.ts';
import type { Role, Store } from '../store/index.ts';
import type { Principal } from './types.ts';

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

/** What {@link authenticate} needs to know about one request. */
export interface AuthRequest {
  /** The `Authorization` header as sent. */
  header: string | undefined;
  store: Store;
  limiter: FailureLimiter;
  /** The client address (the proxy's client when the proxy is trusted). */
  peer: string;
  needed: Role;
  /** The operation, for messages. */
  what: string;
}

/** The valid, unrevoked API token the header names, or why there is none. */
async function tokenOf(header: string | undefined, store: Store, what: string) {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!m)
    return new UnauthenticatedError(`${what}: missing "Authorization: Bearer <API token>" header`);
  const parsed = parseToken('api', m[1]!);
  const token = parsed ? await store.getApiToken(parsed.id) : undefined;
  if (!parsed || !token || !secretMatches(parsed.secret, token.secretHash))
    return new UnauthenticatedError(`${what}: API token is not valid`);
  if (token.revokedMs !== 0)
    return new UnauthenticatedError(`${what}: API token ${token.id} was revoked`);
  return token;
}

/**
 * Authenticates `Authorization: Bearer <token>` and checks the role. The token is checked
 * first: a valid token is never refused because others failed from the same address (a
 * shared NAT or proxy). Only failures count against the address's limit, and an address
 * over its limit is answered 429 instead of 401, so tokens cannot be guessed at line rate.
 */
export async function authenticate(r: AuthRequest): Promise<Principal> {
  const token = await tokenOf(r.header, r.store, r.what);
  if (token instanceof UnauthenticatedError) {
    r.limiter.check(r.peer, r.what);
    r.limiter.fail(r.peer);
    throw token;
  }
  const principal = { id: token.id, name: token.name, role: token.role };
  if (!allows(principal.role, r.needed))
    throw new PermissionDeniedError(
      `${r.what}: role ${principal.role} of API token ${token.id} may not do this; it needs ${r.needed}`,
    );
  return principal;
}
