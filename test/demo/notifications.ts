// The demo's notification receiver: a local signed-webhook receiver (test/harness/receivers.ts),
// a destination and a rule on the hub for every event, and one printed line per notification.
import { hubApi, startReceivers, type Hub, type Receivers } from '@driftless/test';

/** Key the demo's webhook destination signs with (the receiver checks every signature). */
const DEMO_HMAC_KEY = 'driftless-demo-signing-key';

/**
 * Starts the receiver, points a `demo-webhook` destination and a rule for every event at it,
 * and prints each notification it gets with `log`. Returns the receiver (stop it at the end).
 */
export async function printNotifications(
  hub: Hub,
  log: (line: string) => void,
): Promise<Receivers> {
  const receivers = await startReceivers({
    webhookHmacKey: DEMO_HMAC_KEY,
    onRequest: (r) => {
      const e = r.body as { kind?: string; title?: string; links?: { dashboard?: string } };
      const check = r.problems.length ? ` (REFUSED: ${r.problems.join('; ')})` : ' (signature ok)';
      log(`notification: [${e.kind ?? '?'}] ${e.title ?? ''}${check}`);
    },
  });
  const api = hubApi(hub);
  await api.post('/api/v1/notifications/destinations', {
    name: 'demo-webhook',
    kind: 'webhook',
    secret: { url: receivers.webhookUrl('demo'), hmacKey: DEMO_HMAC_KEY },
  });
  await api.post('/api/v1/notifications/rules', {
    id: 'demo-everything',
    destination: 'demo-webhook',
    rateLimit: { max: 0, windowSeconds: 60 },
  });
  log(
    `notifications: every event goes to a local webhook receiver at ${receivers.url} and is printed here`,
  );
  await api.post('/api/v1/notifications/destinations/demo-webhook/test');
  return receivers;
}
