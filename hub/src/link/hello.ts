import type { Hello } from '@driftless/proto';
import { InvalidArgumentError } from '../errors.ts';
import type { Store } from '../store/index.ts';

/** Longest repository URL or branch name a Hello may carry; real ones are far shorter. */
const MAX_FOLLOWS_LENGTH = 2048;

/** Refuses a Hello whose repository URL or branch is too long or holds control characters. */
export function checkFollows(hello: { repoUrl: string; branch: string }, what: string): void {
  for (const [field, value] of [
    ['repo_url', hello.repoUrl],
    ['branch', hello.branch],
  ] as const) {
    if (value.length > MAX_FOLLOWS_LENGTH)
      throw new InvalidArgumentError(
        `${what}: ${field} is longer than ${MAX_FOLLOWS_LENGTH} characters`,
      );
    if (/[\u0000-\u001f\u007f]/.test(value))
      throw new InvalidArgumentError(`${what}: ${field} holds control characters`);
  }
}

/** Records a Hello (version, labels, apps, what it follows) and the agent's ack of hub messages. */
export async function recordHello(
  store: Store,
  cluster: string,
  hello: Hello,
  nowMs: number,
): Promise<void> {
  await store.recordHello(
    cluster,
    {
      agentVersion: hello.agentVersion,
      labels: hello.labels,
      apps: hello.apps,
      repoUrl: hello.repoUrl,
      branch: hello.branch,
    },
    nowMs,
  );
  await store.ackHubSeq(cluster, Number(hello.lastAckedHubSeq));
}
