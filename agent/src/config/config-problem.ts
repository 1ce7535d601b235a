/** Problems found in a config file, and the error that carries them. */
import { TerminalError } from '@driftless/common';

/** One thing wrong in a config file, located for the person who has to fix it. */
export interface ConfigProblem {
  /** The file as named by the caller, e.g. `clusters/dev/driftless.yaml`. */
  file: string;
  /** 1-based line of the offending node. */
  line: number;
  /** 1-based column of the offending node. */
  column: number;
  /** Field path such as `spec.apps[1].sync`; '' for a YAML syntax error. */
  path: string;
  /** What is wrong and, where it helps, what would be right. */
  message: string;
}

/** `file:line:col: path: message`, the format editors and CI annotate from. */
export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/**
 * A config file is invalid. Terminal: the same file can never succeed, so the
 * agent reports it and waits for a new commit instead of retrying.
 */
export class ConfigError extends TerminalError {
  override name = 'ConfigError';
  /** The file that was read. */
  readonly file: string;
  /** Every problem found, in file order; never empty. */
  readonly problems: readonly ConfigProblem[];

  constructor(file: string, problems: readonly ConfigProblem[], options: { cause?: unknown } = {}) {
    const lines = problems.map(formatProblem);
    super(
      lines.length === 1
        ? (lines[0] ?? '')
        : `${file}: ${lines.length} problems:\n  ${lines.join('\n  ')}`,
      options,
    );
    this.file = file;
    this.problems = problems;
  }
}
