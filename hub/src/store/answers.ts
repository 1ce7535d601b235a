/**
 * What a notification destination or a Git host answered, in its own columns (hub store
 * migration 11): the API shows it to admins only, and the error text everyone reads never
 * carries it. Rows written before this migration had the answer appended to the error; the
 * migration moves it out.
 */
import type { Queryable } from './db.ts';
import { fromJsonText, toJsonText, type Row } from './rows.ts';

/** Where older error texts carried the answer: after the HTTP status, or Slack's error code. */
const LEGACY_FORMS: readonly [RegExp, (m: RegExpExecArray) => [string, string]][] = [
  [/^(.*?: HTTP \d{3}): (.*)$/s, (m) => [m[1]!, m[2]!]],
  [
    /^(.*?): chat\.postMessage: (.*)$/s,
    (m) => [`${m[1]}: chat.postMessage refused the message`, m[2]!],
  ],
];

/** An error text of before migration 11 split into the error and the answer ('' for none). */
export function splitLegacyError(error: string): { error: string; answer: string } {
  for (const [form, parts] of LEGACY_FORMS) {
    const m = form.exec(error);
    if (m) {
      const [e, answer] = parts(m);
      return { error: e, answer: answer.trim() };
    }
  }
  return { error, answer: '' };
}

/** Old error texts that may carry an answer, for a LIKE filter. */
const MAY_CARRY = (column: string) =>
  `(${column} LIKE '%: HTTP %' OR ${column} LIKE '%chat.postMessage: %')`;

/** Moves the answers out of the error texts written before migration 11. */
async function upgradeRows(q: Queryable): Promise<void> {
  const deliveries = await q.all<Row>(
    `SELECT id, last_error, attempts_json FROM notify_deliveries
     WHERE ${MAY_CARRY('last_error')} OR ${MAY_CARRY('attempts_json')}`,
  );
  for (const r of deliveries) {
    const last = splitLegacyError(String(r['last_error']));
    const attempts = fromJsonText<{ error?: string; answer?: string }[]>(
      r['attempts_json'],
      [],
    ).map((a) => {
      const split = splitLegacyError(a.error ?? '');
      return { ...a, error: split.error, answer: split.answer };
    });
    await q.run(
      'UPDATE notify_deliveries SET last_error = ?, last_answer = ?, attempts_json = ? WHERE id = ?',
      [last.error, last.answer, toJsonText(attempts), r['id'] as number],
    );
  }
  const statuses = await q.all<Row>(
    `SELECT repo_url, sha, context, last_error FROM commit_statuses WHERE ${MAY_CARRY('last_error')}`,
  );
  for (const r of statuses) {
    const last = splitLegacyError(String(r['last_error']));
    await q.run(
      'UPDATE commit_statuses SET last_error = ?, last_answer = ? WHERE repo_url = ? AND sha = ? AND context = ?',
      [last.error, last.answer, String(r['repo_url']), String(r['sha']), String(r['context'])],
    );
  }
  const posts = await q.all<Row>(
    `SELECT id, error FROM commit_status_posts WHERE ${MAY_CARRY('error')}`,
  );
  for (const r of posts) {
    const split = splitLegacyError(String(r['error']));
    await q.run('UPDATE commit_status_posts SET error = ?, answer = ? WHERE id = ?', [
      split.error,
      split.answer,
      r['id'] as number,
    ]);
  }
}

/** Hub store migration 11: answers apart from errors, for notifications and commit statuses. */
export const ANSWERS_MIGRATION = {
  version: 11,
  name: 'what destinations and Git hosts answered, apart from the error text',
  sql: `
ALTER TABLE notify_deliveries ADD COLUMN last_answer TEXT NOT NULL DEFAULT '';
ALTER TABLE commit_statuses ADD COLUMN last_answer TEXT NOT NULL DEFAULT '';
ALTER TABLE commit_status_posts ADD COLUMN answer TEXT NOT NULL DEFAULT '';
`,
  data: upgradeRows,
};
