import type { HubMessage } from '@driftless/proto';

/** One open Connect stream, as the rest of the hub may use it. */
export interface Session {
  readonly cluster: string;
  /**
   * The repository and branch the agent said it follows in its Hello (as sent,
   * credentials stripped); unset until the Hello. The Git webhook receiver
   * matches pushes against it.
   */
  follows?: { repoUrl: string; branch: string };
  /** Sends a message down the stream; false when the stream is gone. */
  send(message: HubMessage): boolean;
  /** Ends the stream with a gRPC status code and message. */
  close(code: number, details: string): void;
}

/**
 * The live agent streams of this hub process, at most one per cluster: a new
 * stream from the same cluster replaces (and closes) the older one, so a
 * half-dead connection never shadows a reconnect.
 */
export class SessionRegistry {
  readonly #byCluster = new Map<string, Session>();

  /** Registers `session`, returning the one it replaced. */
  register(session: Session): Session | undefined {
    const old = this.#byCluster.get(session.cluster);
    this.#byCluster.set(session.cluster, session);
    return old;
  }

  /** Forgets `session` if it is still the cluster's current one; true if it was. */
  unregister(session: Session): boolean {
    if (this.#byCluster.get(session.cluster) !== session) return false;
    this.#byCluster.delete(session.cluster);
    return true;
  }

  /** The cluster's open stream, if it is connected to this hub. */
  get(cluster: string): Session | undefined {
    return this.#byCluster.get(cluster);
  }

  /** Closes the cluster's stream, if any (e.g. on revocation). */
  close(cluster: string, code: number, details: string): boolean {
    const s = this.#byCluster.get(cluster);
    if (!s) return false;
    this.#byCluster.delete(cluster);
    s.close(code, details);
    return true;
  }

  /** Every open stream, e.g. to find the ones a Git push concerns. */
  list(): Session[] {
    return [...this.#byCluster.values()];
  }

  /** How many streams are open. */
  get size(): number {
    return this.#byCluster.size;
  }

  /** Closes every stream (shutdown). */
  closeAll(code: number, details: string): void {
    for (const cluster of [...this.#byCluster.keys()]) this.close(cluster, code, details);
  }
}
