import { errorMessage } from '@driftless/common';
import type { Store } from '../store/index.ts';

/** What `/readyz` answers: ready, or not with the reason (never a secret). */
export type ReadinessResult = { ready: true } | { ready: false; reason: string };

/** What readiness checks. */
export interface ReadinessDeps {
  store: Pick<Store, 'ping'>;
  /** The NATS link, when the hub has one. */
  nats?: { unavailable(): string | undefined } | undefined;
  /** A ping slower than this counts as down. Default 2 s. */
  timeoutMs?: number;
}

/** Defaults of {@link ReadinessDeps}. */
export const READINESS_DEFAULTS = { timeoutMs: 2000 } as const;

/**
 * Whether the hub can serve now: its store answers a ping in time and, with a NATS link,
 * nats-server is connected. The hub stays up while either is down (writes it cannot do
 * answer 503) and turns ready again by itself when they are back.
 */
export function readiness(deps: ReadinessDeps): () => Promise<ReadinessResult> {
  const timeoutMs = deps.timeoutMs ?? READINESS_DEFAULTS.timeoutMs;
  return async () => {
    const nats = deps.nats?.unavailable();
    if (nats) return { ready: false, reason: `nats: ${nats}` };
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        deps.store.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
      return { ready: true };
    } catch (err) {
      return { ready: false, reason: `store: ${errorMessage(err)}` };
    } finally {
      clearTimeout(timer);
    }
  };
}
