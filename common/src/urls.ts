/** URLs fit for messages and logs. */

/**
 * `url` as messages and logs may show it: scheme, host and path only, without a trailing
 * slash. User info, query and fragment are removed, since any of them may carry a token
 * (`https://bot:tok@host/x.git?t=1` → `https://host/x.git`). Text that is not a URL with a host (or a `file:` URL) gives
 * `<invalid URL>`, so no part of it that could be a secret is shown.
 */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    // `user:secret` parses as a URL of scheme `user:`; without a host it is not one we show.
    if (!u.host && u.protocol !== 'file:') return '<invalid URL>';
    return `${u.protocol}//${u.host}${u.pathname}`.replace(/\/+$/, '');
  } catch {
    return '<invalid URL>';
  }
}
