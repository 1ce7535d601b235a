/**
 * The one way tests wait: poll an observable condition until it holds, with a deadline that
 * fails naming what was awaited. A test never sleeps to let something happen; it waits here
 * for the thing itself (or for a later event that would have come after it).
 */

/** How {@link waitFor} polls. */
export interface WaitOptions {
  /** Fail after this long, in milliseconds. */
  timeoutMs?: number;
  /** Look again after this long, in milliseconds. */
  everyMs?: number;
}

/** Defaults of {@link WaitOptions}. */
export const WAIT_DEFAULTS: Required<WaitOptions> = { timeoutMs: 60_000, everyMs: 100 };

/**
 * Calls `check` until it returns something other than `undefined` (or `false`), and resolves
 * with that value. A throw from `check` counts as "not yet" and is named in the timeout error.
 * Rejects after `timeoutMs` with `timed out after … waiting for <what>`.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitOptions = {},
): Promise<T> {
  const { timeoutMs, everyMs } = { ...WAIT_DEFAULTS, ...options };
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`,
        { cause: last },
      );
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
