// Our notification providers against receivers that check each service's documented format
// (test/harness/receivers.ts) and against a real Alertmanager (Debian's package).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  startAlertmanager,
  startReceivers,
  waitFor,
  type AlertmanagerServer,
  type Receivers,
} from '@driftless/test';
import {
  DeliveryError,
  DestinationRefusedError,
  providers,
  type NotificationEvent,
  type OpenDestination,
} from '../../../hub/src/notify/index.ts';
import { answerOf, OutboundGuard } from '../../../hub/src/outbound/index.ts';

const HMAC_KEY = 'k'.repeat(32);
// The receivers listen on loopback, which the hub refuses unless the operator allows it.
const guard = new OutboundGuard({ allow: ['127.0.0.0/8'] });
const send = providers(guard, () => Date.now());

const event = (over: Partial<NotificationEvent> = {}): NotificationEvent => ({
  version: 1,
  key: 'sync:prod-eu/web#2:sync.failed',
  kind: 'sync.failed',
  severity: 'error',
  outcome: 'bad',
  atMs: Date.now(),
  title: 'Sync failed: prod-eu/web at 1a2b3c4',
  message: 'apply Deployment web/web: admission webhook denied the request',
  cluster: 'prod-eu',
  labels: { env: 'prod', region: 'eu' },
  app: 'web',
  revision: '1a2b3c4d5e6f'.padEnd(40, '0'),
  links: {
    commit: 'https://github.com/acme/fleet/commit/1a2b3c4',
    trace: 'http://jaeger:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736',
    dashboard: 'https://driftless.example.com/#/clusters/prod-eu/apps/web',
  },
  alert: { name: 'DriftlessSyncFailed', firing: true, severity: 'error' },
  ...over,
});

const dest = (
  kind: OpenDestination['kind'],
  secret: Record<string, string>,
  config: Record<string, string> = {},
): OpenDestination => ({ name: `test-${kind}`, kind, secret, config });

describe('notification providers against real receivers', () => {
  let r: Receivers;
  let am: AlertmanagerServer;
  before(async () => {
    [r, am] = await Promise.all([
      startReceivers({ webhookHmacKey: HMAC_KEY }),
      startAlertmanager(),
    ]);
  });
  after(async () => {
    await r?.stop();
    await am?.stop();
    await guard.close();
  });

  it('Slack incoming webhook: a valid Block Kit message, huge texts cut to the limits', async () => {
    const huge = event({
      title: 'T'.repeat(500),
      message: 'line <of> & error\n'.repeat(20_000),
      labels: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, 'v'.repeat(60)])),
    });
    await send.slack.send(huge, dest('slack', { webhookUrl: r.slackWebhookUrl('ops') }));
    await send.slack.send(event(), dest('slack', { webhookUrl: r.slackWebhookUrl('ops') }));
    const got = r.valid('slack-webhook', 'ops');
    assert.equal(got.length, 2, JSON.stringify(r.requests.map((x) => x.problems)));
    const body = got[1]!.body as {
      text: string;
      attachments: { color: string; blocks: unknown[] }[];
    };
    assert.match(body.text, /Sync failed: prod-eu\/web/);
    assert.equal(body.attachments[0]!.color, '#d40e0d');
    const json = JSON.stringify(body);
    for (const link of Object.values(event().links)) assert.ok(json.includes(link), link);
  });

  it('Slack bot: chat.postMessage with the token and channel; Slack errors are refused, not retried', async () => {
    const bot = dest(
      'slack',
      { token: 'xoxb-test-token' },
      { channel: 'C0123', apiUrl: r.slackApiUrl() },
    );
    await send.slack.send(event({ outcome: 'good', kind: 'sync.succeeded' }), bot);
    const [msg] = r.valid('slack-api', 'C0123');
    assert.equal(
      (msg!.body as { attachments: { color: string }[] }).attachments[0]!.color,
      '#2eb67d',
    );
    const wrong = dest(
      'slack',
      { token: 'xoxb-wrong' },
      { channel: 'C0123', apiUrl: r.slackApiUrl() },
    );
    await assert.rejects(send.slack.send(event(), wrong), (err: Error) => {
      assert.ok(err instanceof DestinationRefusedError);
      assert.equal(
        err.message,
        'Slack destination test-slack: chat.postMessage refused the message',
      );
      // Slack's error code is what it answered: kept apart, for admins.
      assert.equal(answerOf(err), 'invalid_blocks');
      assert.ok(!err.message.includes('xoxb'));
      return true;
    });
  });

  it('Teams workflow: an Adaptive Card in the message envelope', async () => {
    await send.teams.send(
      event({ message: 'x'.repeat(50_000) }),
      dest('teams', { webhookUrl: r.teamsUrl('ops') }),
    );
    const [msg] = r.valid('teams', 'ops');
    assert.ok(
      msg,
      JSON.stringify(r.requests.filter((x) => x.kind === 'teams').map((x) => x.problems)),
    );
    assert.match(JSON.stringify(msg.body), /prod-eu/);
  });

  it('generic webhook: the documented event, timestamped and signed; a refused request is terminal', async () => {
    const e = event();
    await send.webhook.send(e, dest('webhook', { url: r.webhookUrl('audit'), hmacKey: HMAC_KEY }));
    const [got] = r.valid('webhook', 'audit');
    assert.deepEqual(got!.body, JSON.parse(JSON.stringify(e)));
    await assert.rejects(
      send.webhook.send(
        e,
        dest('webhook', { url: r.webhookUrl('audit'), hmacKey: 'wrong'.repeat(4) }),
      ),
      (err: Error) => {
        assert.ok(err instanceof DeliveryError);
        assert.equal(err.errorClass, 'terminal');
        // The receiver's explanation is the answer, never part of the message.
        assert.equal(err.message, 'webhook destination test-webhook: HTTP 400');
        assert.match(answerOf(err), /signature/i);
        return true;
      },
    );
    r.fail('audit', 1, 503);
    await assert.rejects(
      send.webhook.send(e, dest('webhook', { url: r.webhookUrl('audit'), hmacKey: HMAC_KEY })),
      (err: Error) => err instanceof DeliveryError && err.errorClass === 'transient',
    );
  });

  it('Alertmanager: the alert shows in its API with our labels, and the recovery resolves it', async () => {
    const am1 = dest('alertmanager', {}, { url: am.url });
    await send.alertmanager.send(event(), am1);
    const active = await waitFor('the alert in Alertmanager', async () =>
      (await am.alerts()).find((a) => a.labels['alertname'] === 'DriftlessSyncFailed'),
    );
    assert.deepEqual(
      {
        cluster: active.labels['cluster'],
        app: active.labels['app'],
        severity: active.labels['severity'],
        env: active.labels['cluster_env'],
      },
      { cluster: 'prod-eu', app: 'web', severity: 'error', env: 'prod' },
    );
    assert.equal(active.status.state, 'active');
    assert.equal(active.generatorURL, event().links.dashboard);
    assert.match(active.annotations['description'] ?? '', /admission webhook denied/);
    const recovery = event({
      key: 'sync:prod-eu/web#3:sync.succeeded',
      kind: 'sync.succeeded',
      outcome: 'good',
      title: 'Sync recovered',
      message: '',
      alert: { name: 'DriftlessSyncFailed', firing: false, severity: 'error' },
    });
    await send.alertmanager.send(recovery, am1);
    await waitFor('the alert resolved', async () =>
      (await am.alerts({ active: true })).every(
        (a) => a.labels['alertname'] !== 'DriftlessSyncFailed',
      ),
    );
  });
});
