/**
 * What a destination answered, kept apart from error text: the delivery log and the
 * commit-status post log show it to admins only (a destination may be an address only the hub
 * reaches; what it serves must not reach viewers through an error message).
 */
import { errorMessage } from '@driftless/common';

/** Longest answer kept, characters. */
export const ANSWER_MAX = 200;

/** An error that carries what the destination answered (never part of its message). */
export interface Answered {
  /** The first line of the answer, printable, at most {@link ANSWER_MAX} characters; '' for none. */
  readonly answer: string;
}

/** The answer an error (or one of its causes) carries; '' when none. */
export function answerOf(err: unknown): string {
  for (let e = err, i = 0; typeof e === 'object' && e !== null && i < 8; i++) {
    const a = (e as Partial<Answered>).answer;
    if (typeof a === 'string') return a;
    e = (e as { cause?: unknown }).cause;
  }
  return '';
}

/** The first line of `text`, printable ASCII only, cut to {@link ANSWER_MAX} characters. */
export function answerLine(text: string): string {
  return text
    .split('\n')[0]!
    .replace(/[^\x20-\x7e]/g, '')
    .trim()
    .slice(0, ANSWER_MAX);
}

/**
 * The first `max` bytes of `res`'s body as text; the rest is not read (a destination's answer
 * may be endless). '' when the body cannot be read.
 */
export async function readHead(res: Response, max = 4096): Promise<string> {
  if (!res.body) return '';
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.byteLength;
    }
  } catch {
    // What came before the error is still worth showing.
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(parts).subarray(0, max).toString('utf8');
}

/**
 * What a request that got no answer failed with, split for who may see it: `label`, the
 * failure's code (`ECONNREFUSED`, `UND_ERR_CONNECT_TIMEOUT`) or `TimeoutError`/`AbortError`,
 * for the error everyone reads; `cause`, just what classifies it; `answer`, the detail (the
 * address connected to, a certificate's names), for admins. `scrub` removes secrets from it.
 */
export function unanswered(
  err: unknown,
  scrub: (text: string) => string = (t) => t,
): { label: string; cause: { code?: unknown; name?: unknown }; answer: string } {
  const inner = (err as { cause?: unknown } | undefined)?.cause ?? err;
  const code = (inner as { code?: unknown } | undefined)?.code;
  const name = (inner as { name?: unknown } | undefined)?.name;
  const label =
    typeof code === 'string' ? code : name === 'TimeoutError' || name === 'AbortError' ? name : '';
  return { label, cause: { code, name }, answer: answerLine(scrub(errorMessage(inner))) };
}
