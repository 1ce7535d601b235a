import type { Hello } from '@driftless/proto';
import { InvalidArgumentError } from '../errors.ts';
import type { Store } from '../store/index.ts';

/** Longest repository URL or branch name a Hello may carry; real ones are far shorter. */
const MAX_FOLLOWS_LENGTH = 2048;

/** Most apps a Hello may list (a cluster's driftless.yaml); a bigger fleet is split in clusters. */
export const MAX_HELLO_APPS = 1000;

/** Longest app name a Hello may list. */
const MAX_APP_NAME_LENGTH = 253;

/** Refuses a Hello listing too many apps, or app names too long or with control characters. */
export function checkHelloApps(hello: { apps: string[] }, what: string): void {
  if (hello.apps.length > MAX_HELLO_APPS)
    throw new InvalidArgumentError(
      `${what}: ${hello.apps.length} apps, more than the ${MAX_HELLO_APPS} a cluster may have`,
    );
  for (const app of hello.apps)
    if (app.length === 0 || app.length > MAX_APP_NAME_LENGTH || /[\u0000-\u001f\u007f]/.test(app))
      throw new InvalidArgumentError(
        `${what}: app name "${app.slice(0, 60)}" is empty, longer than ${MAX_APP_NAME_LENGTH} characters or holds control characters`,
      );
}

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

/**
 * Records a Hello (version, labels, apps, what it follows) and the agent's ack of hub
 * messages; resolves with the highest agent seq stored for the cluster, what the Hello's ack
 * names.
 */
export async function recordHello(
  store: Store,
  cluster: string,
  hello: Hello,
  nowMs: number,
): Promise<number> {
  const { lastAgentSeq } = await store.recordHello(
    cluster,
    {
      agentVersion: hello.agentVersion,
      labels: hello.labels,
      apps: hello.apps,
      repoUrl: hello.repoUrl,
      branch: hello.branch,
      ackedHubSeq: Number(hello.lastAckedHubSeq),
    },
    nowMs,
  );
  return lastAgentSeq;
}
