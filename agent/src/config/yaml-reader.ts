/**
 * Typed access to the nodes of a parsed YAML document that records every
 * problem with its position instead of throwing, so a config file's readers
 * report all mistakes at once.
 */
import posixPath from 'node:path/posix';
import type { LineCounter } from 'yaml';
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Document,
  type Node,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import { DNS_SUBDOMAIN, parseDuration } from '@driftless/common';
import type { ConfigProblem } from './config-problem.ts';

/** RFC 1123 label length, the rule for Kubernetes namespaces and our app names. */
const DNS_LABEL_MAX = 63;

/** Fields of one mapping, by key, as found (unknown ones already reported). */
export type Fields = Map<string, Node>;

/** Reads one parsed document, collecting {@link ConfigProblem}s. */
export class Reader {
  readonly problems: ConfigProblem[] = [];
  readonly file: string;
  readonly #lines: LineCounter;
  readonly doc: Document.Parsed;
  /** Orders problems by position, since checks across apps run after the per-app ones. */
  readonly #offsets: number[] = [];

  constructor(file: string, lines: LineCounter, doc: Document.Parsed) {
    this.file = file;
    this.#lines = lines;
    this.doc = doc;
  }

  sortedProblems(): ConfigProblem[] {
    return this.problems
      .map((p, i) => ({ p, o: this.#offsets[i] ?? 0, i }))
      .sort((a, b) => a.o - b.o || a.i - b.i)
      .map((x) => x.p);
  }

  reportAt(offset: number, path: string, message: string): void {
    const { line, col } = this.#lines.linePos(offset);
    this.problems.push({ file: this.file, line, column: col, path, message });
    this.#offsets.push(offset);
  }

  report(node: Node | null | undefined, path: string, message: string): void {
    this.reportAt(node?.range?.[0] ?? 0, path, message);
  }

  /** Follows an alias to the node it names, so anchors work like plain values. */
  resolve(node: unknown): Node | undefined {
    if (isAlias(node)) return node.resolve(this.doc) ?? undefined;
    return (node ?? undefined) as Node | undefined;
  }

  map(node: unknown, path: string, expected: string): YAMLMap<unknown, unknown> | undefined {
    const n = this.resolve(node);
    if (isMap(n)) return n;
    this.report(n, path, `${expected}, got ${describe(n)}`);
    return undefined;
  }

  seq(node: Node, path: string): YAMLSeq<unknown> | undefined {
    const n = this.resolve(node);
    if (isSeq(n)) return n;
    this.report(n, path, `must be a list, got ${describe(n)}`);
    return undefined;
  }

  /**
   * The fields of `map`. Unknown keys are reported with a suggestion (a typo
   * would otherwise silently fall back to a default); null values count as unset.
   */
  fields(map: YAMLMap<unknown, unknown>, path: string, allowed: readonly string[]): Fields {
    const out: Fields = new Map();
    for (const pair of map.items) {
      const key = this.resolve(pair.key);
      const where = (k: string) => (path ? `${path}.${k}` : k);
      if (!isScalar(key) || typeof key.value !== 'string') {
        this.report(key, path, `keys must be strings, got ${describe(key)}`);
        continue;
      }
      const name = key.value;
      if (!allowed.includes(name)) {
        this.report(
          key,
          where(name),
          `unknown field${suggest(name, allowed) || `; allowed: ${allowed.join(', ')}`}`,
        );
        continue;
      }
      const value = this.resolve(pair.value);
      if (value === undefined || (isScalar(value) && value.value === null)) continue;
      out.set(name, value);
    }
    return out;
  }

  required(f: Fields, parent: Node, path: string, name: string): Node | undefined {
    const n = f.get(name);
    if (n === undefined) this.report(parent, path ? `${path}.${name}` : name, 'required');
    return n;
  }

  constant(f: Fields, path: string, name: string, want: string): void {
    const n = f.get(name);
    const where = path ? `${path}.${name}` : name;
    if (n === undefined) return this.report(this.doc.contents, where, `required: "${want}"`);
    if (!isScalar(n) || n.value !== want)
      this.report(n, where, `must be "${want}", got ${describe(n)}`);
  }

  string(node: Node | undefined, path: string): string | undefined {
    if (node === undefined) return undefined;
    if (isScalar(node) && typeof node.value === 'string') return node.value;
    this.report(node, path, `must be a string, got ${describe(node)}`);
    return undefined;
  }

  /** Booleans are strict YAML 1.2 `true`/`false`; `yes` is a string and rejected. */
  bool(node: Node | undefined, path: string): boolean | undefined {
    if (node === undefined) return undefined;
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    this.report(node, path, `must be true or false, got ${describe(node)}`);
    return undefined;
  }

  oneOf<T extends string>(
    node: Node | undefined,
    path: string,
    values: readonly T[],
  ): T | undefined {
    const s = this.string(node, path);
    if (s === undefined) return undefined;
    if ((values as readonly string[]).includes(s)) return s as T;
    this.report(node, path, `must be one of ${values.join(', ')}, got ${JSON.stringify(s)}`);
    return undefined;
  }

  /** A DNS-1123 subdomain, the rule for most object names (ServiceAccounts among them). */
  dnsSubdomain(node: Node | undefined, path: string): string | undefined {
    const s = this.string(node, path);
    if (s === undefined) return undefined;
    if (DNS_SUBDOMAIN.test(s)) return s;
    this.report(node, path, `${JSON.stringify(s)} is not a valid object name`);
    return undefined;
  }

  dnsLabel(node: Node | undefined, path: string, max = DNS_LABEL_MAX): string | undefined {
    const s = this.string(node, path);
    if (s === undefined) return undefined;
    // Label syntax (a subdomain without dots); `max` may exceed 63 for Secret names.
    if (!s.includes('.') && DNS_SUBDOMAIN.test(s) && s.length <= max) return s;
    this.report(
      node,
      path,
      `${JSON.stringify(s)} is not a valid name: use at most ${max} lowercase letters, digits and '-', starting and ending with a letter or digit`,
    );
    return undefined;
  }

  /**
   * A path inside the repository, relative to `base` (a repository-relative
   * folder; default the root). Returned normalized, as written when `base` is
   * the root. Absolute paths and escapes above the root are refused: the agent
   * must never read outside its checkout.
   */
  repoPath(node: Node | undefined, path: string, base?: string): string | undefined {
    const s = this.string(node, path);
    if (s === undefined) return undefined;
    const bad = (why: string) => {
      this.report(node, path, `${JSON.stringify(s)} ${why}`);
      return undefined;
    };
    if (s.trim() === '') return bad('is empty');
    if (s.includes('\\')) return bad("must use '/' as separator");
    if (s.startsWith('/') || /^[a-zA-Z]:/.test(s))
      return bad('must be relative to the repository root');
    if (base === undefined) {
      if (s.split('/').includes('..')) return bad("must not contain '..'");
      return posixPath.normalize(s).replace(/\/$/, '');
    }
    const inRepo = posixPath.normalize(posixPath.join(base, s));
    if (inRepo === '..' || inRepo.startsWith('../'))
      return bad(`leaves the repository (relative to ${base})`);
    return s;
  }

  list<T>(
    node: Node | undefined,
    path: string,
    item: (n: Node | undefined, path: string) => T | undefined,
  ): T[] | undefined {
    if (node === undefined) return undefined;
    const seq = this.seq(node, path);
    if (!seq) return undefined;
    const out: T[] = [];
    seq.items.forEach((it, i) => {
      const v = item(this.resolve(it), `${path}[${i}]`);
      if (v !== undefined) out.push(v);
    });
    return out;
  }

  /** A duration with a unit; bare numbers are refused since `300` could mean seconds or ms. */
  duration(node: Node | undefined, path: string): number | undefined {
    if (node === undefined) return undefined;
    const s = isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
    let ms: number | undefined;
    try {
      ms = s !== undefined && !/^\s*\d+\s*$/.test(s) ? parseDuration(s) : undefined;
    } catch {
      ms = undefined;
    }
    if (ms !== undefined && ms > 0) return ms;
    this.report(
      node,
      path,
      `must be a positive duration such as 90s, 5m or 1h, got ${describe(node)}`,
    );
    return undefined;
  }
}

/** How a value reads in a message: scalars as JSON, collections by kind. */
function describe(node: unknown): string {
  if (node === undefined || node === null) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return node.value === null ? 'null' : JSON.stringify(node.value);
  return 'an unexpected node';
}

/** ` (did you mean "x"?)` for the closest candidate within a small edit distance, else ''. */
export function suggest(word: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = c.toLowerCase() === word.toLowerCase() ? 0 : editDistance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(word.length / 4))
    ? ` (did you mean "${best}"?)`
    : '';
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, sub));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
