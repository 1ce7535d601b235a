/** The Git webhook receiver: pushes on GitHub, GitLab or Gitea become RefreshHints to agents. */
export {
  webhookRoutes,
  WEBHOOK_DEFAULTS,
  hintAgents,
  WEBHOOK_PATH,
  DEFAULT_WEBHOOK_MAX_BODY_BYTES,
  type WebhookOptions,
  type WebhookAnswer,
} from './receiver.ts';
export { repoKey, followsPush, classifyDelivery, parseBody, type PushEvent } from './payload.ts';
export { identifyDelivery, verifyDelivery, sameSecret, type WebhookProvider } from './verify.ts';
export {
  WebhookDisabledError,
  WebhookPayloadError,
  WebhookSignatureError,
  WebhookTooLargeError,
} from './errors.ts';
export { DeliveryLog, DELIVERY_LOG_DEFAULTS, type DeliveryLogOptions } from './replay.ts';
