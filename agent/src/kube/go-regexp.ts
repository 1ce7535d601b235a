/**
 * Matching a CustomResourceDefinition's `pattern` the way the API server does: Go's RE2 syntax
 * and semantics (`.` takes no newline, `\s` is Perl's, `$` ends the text), in time linear in
 * the value, through re2js, a port of RE2. A JavaScript `RegExp` is neither: it backtracks (a
 * pattern such as `^(a+)+$` takes hours on 40 characters, and the CRD comes from the
 * repository), and its `.`, `\s` and `\S` take other characters than Go's.
 */
import { RE2JS, RE2JSException } from 're2js';

/** A compiled pattern. */
export interface GoPattern {
  /** Whether `value` contains a match (Go's `regexp.MatchString`). */
  test(value: string): boolean;
  /**
   * Instructions of the compiled program. Linear is not cheap: a match may visit each of them
   * once per character, so `size` times the value's length bounds its work.
   */
  readonly size: number;
}

/**
 * Compiles `pattern` in Go's syntax, or returns undefined when RE2 refuses it (the API server
 * would have refused the CRD too, so the pattern is not judged here).
 */
export function compileGoPattern(pattern: string): GoPattern | undefined {
  try {
    const re = RE2JS.compile(pattern);
    return { test: (value) => re.test(value), size: re.programSize() };
  } catch (err) {
    if (err instanceof RE2JSException) return undefined;
    throw err;
  }
}
