/**
 * Notifications: events derived from the hub's changes, routed by rules to
 * Slack, Teams, generic webhooks and Alertmanager (docs/notifications.md).
 */
export { Notifier, NOTIFIER_DEFAULTS, type NotifierOptions } from './notifier.ts';
export { DISPATCHER_DEFAULTS, type DispatcherSettings } from './dispatcher.ts';
export {
  DESTINATION_KINDS,
  openDestination,
  checkDestinationUrls,
  sealDestination,
  secretSummary,
  type DestinationInput,
} from './destinations.ts';
export {
  NOTIFICATION_KINDS,
  SEVERITIES,
  type LinkSettings,
  type NotificationEvent,
  type NotificationKind,
} from './model.ts';
export { labelsMatch, ruleMatches } from './rules.ts';
export * from './providers/index.ts';
