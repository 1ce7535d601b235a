/** The destinations notifications go to: one provider per kind. */
import type { OutboundGuard } from '../../outbound/index.ts';
import type { DestinationKind } from '../../store/index.ts';
import { alertmanagerProvider } from './alertmanager.ts';
import type { Provider } from './provider.ts';
import { slackProvider } from './slack.ts';
import { teamsProvider } from './teams.ts';
import { webhookProvider } from './webhook.ts';

export { alertOf, ALERT_TTL_MS } from './alertmanager.ts';
export { DeliveryError, DestinationRefusedError, truncate } from './http.ts';
export type { OpenDestination, Provider } from './provider.ts';
export { SLACK_LIMITS, slackMessage } from './slack.ts';
export { ADAPTIVE_CARD_VERSION, teamsMessage } from './teams.ts';
export { SIGNATURE_HEADER, signWebhook, TIMESTAMP_HEADER } from './webhook.ts';

/**
 * A provider per destination kind, each sending through `guard` (which addresses may be
 * reached); `now` stamps webhook signatures and alert end times.
 */
export function providers(
  guard: OutboundGuard,
  now: () => number,
): Record<DestinationKind, Provider> {
  return {
    slack: slackProvider(guard),
    teams: teamsProvider(guard),
    webhook: webhookProvider(guard, now),
    alertmanager: alertmanagerProvider(guard, now),
  };
}
