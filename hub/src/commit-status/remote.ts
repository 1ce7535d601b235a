/**
 * Where a repository lives: the host and project path of a Git remote URL (https or ssh), and
 * which configured host serves it.
 */

/** A Git remote URL taken apart. */
export interface RepoLocation {
  /** Lower-case host name, without port. */
  hostname: string;
  /** The port of an http(s) URL ('' for the default, and for ssh: its port is not the web's). */
  port: string;
  /** The project path without leading slash and `.git`: `owner/repo`, `group/sub/project`. */
  path: string;
}

/**
 * Parses `https://host[:port]/owner/repo(.git)`, `ssh://[user@]host[:port]/owner/repo(.git)`
 * and the scp-like `user@host:owner/repo(.git)`. Returns undefined for anything else, or a
 * path with fewer than two segments (no owner).
 */
export function parseRepoUrl(url: string): RepoLocation | undefined {
  const text = url.trim();
  const scp = /^(?:[^@/\s]+@)?([^:/\s]+):(?!\/)(.+)$/.exec(text);
  if (scp && !/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return located(scp[1] ?? '', '', scp[2] ?? '');
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return undefined;
  }
  const scheme = u.protocol.replace(/:$/, '').toLowerCase();
  if (scheme === 'http' || scheme === 'https') return located(u.hostname, u.port, u.pathname);
  if (scheme === 'ssh' || scheme === 'git+ssh') return located(u.hostname, '', u.pathname);
  return undefined;
}

function located(hostname: string, port: string, rawPath: string): RepoLocation | undefined {
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return undefined;
  }
  path = path
    .replace(/^\/+/, '')
    .replace(/\/+$/, '')
    .replace(/\.git$/, '');
  const segments = path.split('/');
  if (!hostname || segments.length < 2 || segments.some((s) => s === '' || s === '..'))
    return undefined;
  return { hostname: hostname.toLowerCase().replace(/^\[|\]$/g, ''), port, path };
}

/** A configured host as {@link matchHost} compares it. */
export interface HostMatcher {
  name: string;
  /** `host[:port][/path-prefix]`, e.g. `github.com`, `git.example.com/gitlab`. */
  match: string;
}

/** A repository matched to a configured host: the host, and the project path on it. */
export interface HostMatch<H extends HostMatcher> {
  host: H;
  /** The project path below the host's path prefix (what the host's API names). */
  repoPath: string;
}

/**
 * The host whose `match` covers the repository (the longest match wins), with the project
 * path the API wants. A match with a port covers only http(s) URLs with that port; one
 * without covers the host name on any port and over ssh.
 */
export function matchHost<H extends HostMatcher>(
  repoUrl: string,
  hosts: readonly H[],
): HostMatch<H> | undefined {
  const loc = parseRepoUrl(repoUrl);
  if (!loc) return undefined;
  let best: HostMatch<H> | undefined;
  let bestLength = -1;
  for (const host of hosts) {
    const m = parseMatch(host.match);
    if (!m || m.hostname !== loc.hostname) continue;
    if (m.port && m.port !== loc.port) continue;
    const prefix = m.prefix ? `${m.prefix}/` : '';
    if (!loc.path.startsWith(prefix)) continue;
    const repoPath = loc.path.slice(prefix.length);
    if (!repoPath.includes('/')) continue;
    if (host.match.length > bestLength) {
      best = { host, repoPath };
      bestLength = host.match.length;
    }
  }
  return best;
}

/** `host[:port][/prefix]` taken apart, or undefined when it is not one. */
export function parseMatch(
  match: string,
): { hostname: string; port: string; prefix: string } | undefined {
  const m = /^([a-z0-9.-]+|\[[0-9a-f:]+\])(?::(\d{1,5}))?((?:\/[\w.~-]+)*)\/?$/i.exec(match.trim());
  if (!m) return undefined;
  return {
    hostname: (m[1] ?? '').toLowerCase().replace(/^\[|\]$/g, ''),
    port: m[2] ?? '',
    prefix: (m[3] ?? '').replace(/^\//, ''),
  };
}
