/**
 * Counts the API requests each tool sends to a harness cluster, reliably and without trusting
 * the tools' User-Agent: every tool gets its own identity (a static bearer token of user
 * `<name>` in group system:masters), and kube-apiserver writes an audit event for each request
 * of those users, once, at the stage RequestReceived. Nothing else (the benchmark's own client,
 * the controllers of the cluster) is audited.
 *
 * Use: `const audit = createAudit(['flux', 'driftless'])`, start the cluster with
 * `apiServerArgs: audit.apiServerArgs`, then `audit.kubeconfig(cluster, 'flux')` for the tool and
 * `audit.count('flux', fromMs, toMs)` for what it sent in a window of wall-clock time.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parse, stringify } from 'yaml';

/** Requests of one user in a window, by audit verb (get, list, watch, create, patch, ...). */
export interface RequestCount {
  total: number;
  byVerb: Record<string, number>;
}

/** The audit set-up of one benchmark run. */
export interface Audit {
  /** kube-apiserver flags: the token file, the audit policy and the audit log. */
  readonly apiServerArgs: readonly string[];
  /** Writes a kubeconfig for `user` against `cluster` (its server and CA) and returns its path. */
  kubeconfig(cluster: { kubeconfigPath: string; name: string }, user: string): string;
  /**
   * Requests `user` sent between the wall-clock times `fromMs` and `toMs` (Date.now() values),
   * read from the audit log of the cluster started last with {@link Audit.apiServerArgs}.
   */
  count(user: string, fromMs: number, toMs: number): RequestCount;
  /** Empties the audit log, e.g. before the next cluster (each cluster's apiserver reopens it). */
  reset(): void;
  /** Removes the folder with the token file, the policy and the log. */
  remove(): void;
}

/** Creates tokens for `users`, the audit policy that records only them, and an empty log. */
export function createAudit(users: readonly string[]): Audit {
  const dir = mkdtempSync(join(tmpdir(), 'driftless-bench-audit-'));
  const tokens = new Map(users.map((u) => [u, randomBytes(24).toString('hex')]));
  const tokenFile = join(dir, 'tokens.csv');
  writeFileSync(
    tokenFile,
    [...tokens].map(([user, token]) => `${token},${user},${user},"system:masters"`).join('\n') +
      '\n',
    { mode: 0o600 },
  );
  const policyFile = join(dir, 'policy.yaml');
  writeFileSync(
    policyFile,
    stringify({
      apiVersion: 'audit.k8s.io/v1',
      kind: 'Policy',
      omitStages: ['ResponseStarted', 'ResponseComplete', 'Panic'],
      rules: [{ level: 'Metadata', users: [...users] }, { level: 'None' }],
    }),
  );
  const logFile = join(dir, 'audit.log');
  writeFileSync(logFile, '');
  return {
    apiServerArgs: [
      `--token-auth-file=${tokenFile}`,
      `--audit-policy-file=${policyFile}`,
      `--audit-log-path=${logFile}`,
      '--audit-log-maxsize=2000',
      '--audit-log-format=json',
    ],
    kubeconfig(cluster, user) {
      const token = tokens.get(user);
      if (token === undefined) throw new Error(`audit: no token for user ${user}`);
      const admin = parse(readFileSync(cluster.kubeconfigPath, 'utf8')) as {
        clusters: { cluster: Record<string, string> }[];
      };
      const file = join(dir, `${cluster.name}-${user}.kubeconfig`);
      writeFileSync(
        file,
        stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: cluster.name, cluster: admin.clusters[0]!.cluster }],
          users: [{ name: user, user: { token } }],
          contexts: [{ name: cluster.name, context: { cluster: cluster.name, user } }],
          'current-context': cluster.name,
        }),
        { mode: 0o600 },
      );
      return file;
    },
    count(user, fromMs, toMs) {
      const byVerb: Record<string, number> = {};
      let total = 0;
      for (const line of readFileSync(logFile, 'utf8').split('\n')) {
        if (!line.includes(`"username":"${user}"`)) continue;
        let event: {
          user?: { username?: string };
          verb?: string;
          requestReceivedTimestamp?: string;
        };
        try {
          event = JSON.parse(line) as typeof event;
        } catch {
          continue; // a line being written right now
        }
        if (event.user?.username !== user) continue;
        const at = Date.parse(event.requestReceivedTimestamp ?? '');
        if (!(at >= fromMs && at < toMs)) continue;
        const verb = event.verb ?? '?';
        byVerb[verb] = (byVerb[verb] ?? 0) + 1;
        total++;
      }
      return { total, byVerb };
    },
    reset() {
      writeFileSync(logFile, '');
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
