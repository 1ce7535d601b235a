/**
 * Listen addresses given by flags: a taken or unusable one is refused with one line naming the
 * flag (`--http-address 127.0.0.1:7080: address already in use`), before the hub creates or
 * opens anything.
 */
import { createServer } from 'node:net';
import { TerminalError } from '@driftless/common';

/** A listen address (named by its flag) the hub cannot bind. */
export class ListenAddressError extends TerminalError {
  override name = 'ListenAddressError';
}

/** What people are told for the socket errors a bind commonly meets. */
const REASONS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'not an address of this machine',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  ENOTFOUND: 'unknown host',
};

/** `host` and `port` of `host:port` (`[::1]:80` too); undefined when it is not that shape. */
function hostPort(address: string): { host: string; port: number } | undefined {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i < 0 || address.slice(i + 1) === '' || !Number.isInteger(port)) return undefined;
  return { host: address.slice(0, i).replace(/^\[|\]$/g, '') || '0.0.0.0', port };
}

/**
 * `err`, met listening on `address` for `flag`, as a {@link ListenAddressError} naming both. The
 * reason is read from the socket error's code, or from its text when a library wrapped it
 * (gRPC reports `listen EADDRINUSE ...` inside its own message).
 */
export function listenError(flag: string, address: string, err: unknown): ListenAddressError {
  const code = (err as { code?: unknown }).code;
  const text = err instanceof Error ? err.message : String(err);
  const known =
    typeof code === 'string' && REASONS[code] !== undefined
      ? code
      : Object.keys(REASONS).find((c) => text.includes(c));
  // A known code says it all: no cause, which errorMessage would append as a second reason.
  if (known) return new ListenAddressError(`${flag} ${address}: ${REASONS[known]}`);
  return new ListenAddressError(`${flag} ${address}: ${text}`, { cause: err });
}

/**
 * Binds `address` for a moment to learn whether the hub can listen there; throws a
 * {@link ListenAddressError} naming `flag` when not. Port 0 (any free port) and addresses that
 * are not `host:port` are left to the server that listens on them.
 */
export async function checkListenAddress(flag: string, address: string): Promise<void> {
  const hp = hostPort(address);
  if (!hp || hp.port === 0) return;
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(listenError(flag, address, err)));
    server.listen({ host: hp.host, port: hp.port, exclusive: true }, () =>
      server.close(() => resolve()),
    );
  });
}

/**
 * Checks every listen address with {@link checkListenAddress}, first refusing two flags that
 * name the same port on overlapping hosts: the second server would fail only after the first
 * had started.
 */
export async function checkListenAddresses(
  addresses: readonly { flag: string; address: string }[],
): Promise<void> {
  const wildcard = (host: string) => host === '0.0.0.0' || host === '::';
  addresses.forEach((a, i) => {
    const hp = hostPort(a.address);
    if (!hp || hp.port === 0) return;
    for (const b of addresses.slice(0, i)) {
      const other = hostPort(b.address);
      if (
        other?.port === hp.port &&
        (other.host === hp.host || wildcard(other.host) || wildcard(hp.host))
      )
        throw new ListenAddressError(
          `${a.flag} ${a.address}: the same port as ${b.flag} ${b.address}`,
        );
    }
  });
  for (const a of addresses) await checkListenAddress(a.flag, a.address);
}
