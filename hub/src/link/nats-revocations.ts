import { connect, jwtAuthenticator, type NatsConnection } from 'nats';
import { errorMessage, type Logger } from '@driftless/common';
import type { NatsAuthority } from '../enroll/index.ts';
import type { Store } from '../store/index.ts';

/** What {@link NatsRevocations} needs. */
export interface NatsRevocationsOptions {
  /** NATS server URLs, comma-separated. */
  servers: string;
  auth: NatsAuthority;
  store: Store;
  log: Logger;
}

/**
 * Pushes the DRIFTLESS account JWT, with every revoked cluster's NATS user keys in its
 * revocation list, to nats-server (as a system-account user, on the account's CLAIMS.UPDATE
 * subject). The server's `full` resolver applies it at once: revoked agents are disconnected
 * and their credentials refused from then on. Pushed when the link starts (a nats-server
 * that lost its resolver directory learns them again), after it reconnects, and on every
 * revocation.
 */
export class NatsRevocations {
  readonly #o: NatsRevocationsOptions;
  #nc: Promise<NatsConnection> | undefined;
  /** Pushes run one at a time; a push asked for meanwhile runs after it with fresh data. */
  #pushing: Promise<void> = Promise.resolve();

  constructor(options: NatsRevocationsOptions) {
    this.#o = options;
  }

  /** Pushes the account JWT with the current revocations; failures are logged and thrown. */
  push(): Promise<void> {
    const run = this.#pushing.then(() => this.#push());
    this.#pushing = run.catch(() => undefined);
    return run;
  }

  async #push(): Promise<void> {
    const { auth, store, log } = this.#o;
    const revoked = await store.listRevokedNatsUsers();
    const jwt = await auth.accountJwt(revoked);
    const nc = await this.#connection();
    const reply = await nc.request(auth.accountUpdateSubject, new TextEncoder().encode(jwt), {
      timeout: 5000,
    });
    const answer = reply.json<{ error?: { description?: string }; data?: { message?: string } }>();
    if (answer.error)
      throw new Error(
        `nats-server refused the account update: ${answer.error.description ?? 'no reason given'} (does it run the configuration of driftless-hub nats-config, with the full resolver?)`,
      );
    log.info(
      { revokedNatsUsers: revoked.length },
      'NATS account updated: revoked clusters cannot connect',
    );
  }

  #connection(): Promise<NatsConnection> {
    this.#nc ??= (async () => {
      const creds = await this.#o.auth.systemCredentials();
      return connect({
        servers: this.#o.servers.split(',').map((s) => s.trim()),
        name: 'driftless-hub-system',
        authenticator: jwtAuthenticator(creds.jwt, creds.seed),
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1000,
      });
    })().catch((err: unknown) => {
      this.#nc = undefined;
      throw err;
    });
    return this.#nc;
  }

  /** Closes the system connection. */
  async close(): Promise<void> {
    const nc = await this.#nc?.catch(() => undefined);
    await nc
      ?.close()
      .catch((err: unknown) => this.#o.log.debug({ err: errorMessage(err) }, 'close'));
  }
}
