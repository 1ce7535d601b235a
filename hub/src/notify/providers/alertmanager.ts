import type { NotificationEvent } from '../model.ts';
import type { OutboundGuard } from '../../outbound/index.ts';
import { postJson, truncate } from './http.ts';
import type { Provider } from './provider.ts';

/** How long a firing alert stays active without being re-sent (Alertmanager's `endsAt`), ms. */
export const ALERT_TTL_MS = 7 * 24 * 3_600_000;

/** Alertmanager label values (and annotation text) kept to a readable size. */
const VALUE_MAX = 1024;

/**
 * The Alertmanager v2 alert of an event. Labels identify the alert
 * (`alertname`, `cluster`, `app`, `severity`, `source: driftless`, and the
 * cluster's labels as `cluster_<key>`), so the event that ends it (e.g.
 * health.recovered) posts the same labels with `endsAt` now, which resolves it.
 * An event without alert state is sent as an alert that ends at once.
 */
export function alertOf(e: NotificationEvent, nowMs: number): Record<string, unknown> {
  const labels: Record<string, string> = {
    alertname: e.alert?.name ?? `Driftless_${e.kind.replace(/\W/g, '_')}`,
    source: 'driftless',
  };
  if (e.cluster) labels['cluster'] = e.cluster;
  if (e.app) labels['app'] = e.app;
  // The alert's severity, not the resolving event's, so opening and closing carry the same labels.
  labels['severity'] = e.alert?.severity ?? e.severity;
  for (const [k, v] of Object.entries(e.labels))
    labels[`cluster_${k.replace(/[^A-Za-z0-9_]/g, '_')}`] = truncate(v, VALUE_MAX);
  const firing = e.alert?.firing ?? false;
  const annotations: Record<string, string> = {
    summary: truncate(e.title, VALUE_MAX),
    kind: e.kind,
  };
  if (e.message) annotations['description'] = truncate(e.message, 8 * VALUE_MAX);
  if (e.revision) annotations['revision'] = e.revision;
  if (e.links.commit) annotations['commit_url'] = e.links.commit;
  if (e.links.trace) annotations['trace_url'] = e.links.trace;
  if (e.links.dashboard) annotations['dashboard_url'] = e.links.dashboard;
  return {
    labels,
    annotations,
    startsAt: new Date(e.atMs).toISOString(),
    endsAt: new Date(firing ? nowMs + ALERT_TTL_MS : nowMs).toISOString(),
    ...(e.links.dashboard ? { generatorURL: e.links.dashboard } : {}),
  };
}

/**
 * Alertmanager: POST `<url>/api/v2/alerts` (config `url`) through `guard`, with
 * an optional bearer token (secret `token`), so its routing, grouping and
 * silences apply.
 */
export function alertmanagerProvider(guard: OutboundGuard, now: () => number): Provider {
  return {
    async send(e, d, signal) {
      const base = (d.config['url'] ?? '').replace(/\/+$/, '');
      const headers: Record<string, string> = {};
      if (d.secret['token']) headers['authorization'] = `Bearer ${d.secret['token']}`;
      await postJson(
        guard,
        `Alertmanager destination ${d.name}`,
        `${base}/api/v2/alerts`,
        JSON.stringify([alertOf(e, now())]),
        headers,
        signal,
      );
    },
  };
}
