// Pages are addressed by the URL fragment (`#/clusters/prod-eu`), so the hub serves one
// index.html and links survive a reload. Filters live in the fragment's query.
import { useEffect, useState } from 'preact/hooks';

/** A parsed fragment: path segments and query. */
export interface Location {
  path: string;
  segments: string[];
  query: URLSearchParams;
}

export function parseHash(hash: string): Location {
  const raw = hash.replace(/^#/, '') || '/';
  const q = raw.indexOf('?');
  const path = q >= 0 ? raw.slice(0, q) : raw;
  return {
    path,
    segments: path
      .split('/')
      .filter(Boolean)
      .map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          return s;
        }
      }),
    query: new URLSearchParams(q >= 0 ? raw.slice(q + 1) : ''),
  };
}

/** The current location; re-renders on navigation. */
export function useLocation(): Location {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return parseHash(hash);
}

/** A link target: `href('clusters', name)` is `#/clusters/<name>`. */
export const href = (...segments: string[]): string =>
  '#/' + segments.map((s) => encodeURIComponent(s)).join('/');

/** Replaces the fragment's query without adding a history entry per keystroke. */
export function setQuery(path: string, params: Record<string, string>): void {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const s = q.toString();
  history.replaceState(null, '', `#${path}${s ? `?${s}` : ''}`);
}
