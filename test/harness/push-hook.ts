/**
 * The `post-receive` hook that {@link installPushHook} (product.ts) puts in a served
 * repository: for every branch a `git push` moved, it delivers a GitHub-style signed push to
 * the hub's webhook receiver, as a Git hosting service would.
 *
 * Usage (by git): push-hook.ts WEBHOOK_URL REPO_URL SECRET_FILE, with `old new ref` lines on stdin.
 */
import { readFileSync } from 'node:fs';
import { signedPush } from './product.ts';

const [webhookUrl, repoUrl, secretFile] = process.argv.slice(2);
if (!webhookUrl || !repoUrl || !secretFile) {
  process.stderr.write('usage: push-hook.ts WEBHOOK_URL REPO_URL SECRET_FILE\n');
  process.exit(2);
}
const secret = readFileSync(secretFile, 'utf8').trim();
const input = readFileSync(0, 'utf8');
for (const line of input.split('\n')) {
  const [, after, ref] = line.trim().split(/\s+/);
  // Branch deletions (all-zero new sha) and tags move nothing an agent follows.
  if (!after || !ref?.startsWith('refs/heads/') || /^0+$/.test(after)) continue;
  const { body, signature } = signedPush(repoUrl, ref.slice('refs/heads/'.length), after, secret);
  try {
    const res = await fetch(webhookUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-hub-signature-256': `sha256=${signature}`,
      },
      body,
    });
    // git shows hook output to the pusher ("remote: ..."), like a hosting service's delivery log.
    process.stdout.write(`driftless webhook: ${res.status} ${await res.text()}\n`);
  } catch (error) {
    // The push itself has succeeded; agents still find the commit at their next poll.
    process.stdout.write(`driftless webhook: not delivered: ${String(error)}\n`);
  }
}
