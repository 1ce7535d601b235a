import { TerminalError } from '@driftless/common';

/** How many problems the message lists; {@link GuardError.problems} holds them all. */
const MESSAGE_PROBLEMS = 20;

/**
 * The rendered objects of an app were refused before anything touched the
 * cluster. Every problem found is listed, not just the first, so one sync
 * attempt shows the author everything to fix. Terminal: the same commit
 * will be refused again.
 */
export class GuardError extends TerminalError {
  override name = 'GuardError';
  /** One line per problem, each naming the object and the file it came from. */
  readonly problems: string[];

  constructor(app: string, problems: string[]) {
    const shown = problems.slice(0, MESSAGE_PROBLEMS);
    const more = problems.length - shown.length;
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super(
      `guard refused app ${app} (${count}): ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`,
    );
    this.problems = problems;
  }
}
