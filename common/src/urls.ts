/**
 * A URL fit for messages, logs and storage: user info, query and fragment removed, since any of
 * them may carry a token (`https://user:token@host/x?private_token=…` → `https://host/x`).
 * An scp-like Git address (`git@host:org/repo.git`) keeps `host:org/repo.git`. Text that is no
 * URL shows no part of itself, since it could be a secret: `<invalid URL>`.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    // Opaque URLs (`mailto:x`, `host:path`) have no authority to keep.
    return u.host ? `${u.protocol}//${u.host}${u.pathname}` : `${u.protocol}${u.pathname}`;
  } catch {
    const scp = /^(?:[^@/\s]+@)?([A-Za-z0-9.-]+):([^?#\s]+)/.exec(url);
    return scp ? `${scp[1]}:${scp[2]}` : '<invalid URL>';
  }
}
