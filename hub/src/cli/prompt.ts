/** A yes/no question to the person at the terminal. */
import { createInterface } from 'node:readline/promises';
import type { CliIo } from './command.ts';

/** Whether a person can answer: stdin and stdout are terminals, unless `io` says otherwise. */
export function isInteractive(io: CliIo): boolean {
  return io.interactive ?? Boolean(process.stdin.isTTY && process.stdout.isTTY);
}

/** Asks `question` and resolves true only for an answer of y or yes. */
export async function confirm(io: CliIo, question: string): Promise<boolean> {
  const rl = createInterface({
    input: io.stdin ?? process.stdin,
    output: process.stdout,
    terminal: true,
  });
  try {
    const answer = await rl.question(`${question} [y/N] `, io.signal ? { signal: io.signal } : {});
    return /^(y|yes)$/i.test(answer.trim());
  } catch {
    return false;
  } finally {
    rl.close();
  }
}
