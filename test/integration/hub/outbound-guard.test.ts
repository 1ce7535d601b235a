/**
 * The hub sends notifications and commit statuses only to public addresses unless the operator
 * allows more (`--allow-private-destinations`, docs/notifications.md "Where destinations may
 * point"), with a real `driftless-hub` and a real receiver on loopback:
 * - without the flag, a destination or Git host pointing at loopback (as an address in any
 *   spelling, or a name resolving to it) is refused when it is saved, with one error naming it
 *   and the reason, and nothing reaches the receiver;
 * - with the flag it is saved and delivered;
 * - a destination saved while it was allowed and sent to after the hub restarted without the
 *   flag (an upgrade, or a name that now resolves elsewhere) is refused at send time, and
 *   nothing reaches the receiver.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  hubApi,
  LOOPBACK_DESTINATIONS,
  startHub,
  startReceivers,
  type Hub,
  type Receivers,
} from '@driftless/test';

const HMAC_KEY = 'k'.repeat(32);
type ErrorBody = { error: { status: number; message: string } };
type TestAnswer = { sent: boolean; error: string; answer: string };

describe(
  'outgoing requests only to allowed addresses, with a real hub',
  { timeout: 120_000 },
  () => {
    let r: Receivers;
    let hub: Hub | undefined;
    before(async () => {
      r = await startReceivers({ webhookHmacKey: HMAC_KEY });
    });
    after(async () => {
      await hub?.stop();
      await r?.stop();
    });

    /** A receiver URL with its host replaced (the port stays the receiver's). */
    const via = (host: string, channel: string) => {
      const u = new URL(r.webhookUrl(channel));
      return `http://${host}:${u.port}${u.pathname}`;
    };

    it('refuses loopback destinations and Git hosts by default, in every spelling, naming them and the reason', async () => {
      hub = await startHub();
      const api = hubApi(hub);
      const cases: [Record<string, unknown>, RegExp][] = [
        [
          { name: 'literal', kind: 'webhook', secret: { url: r.webhookUrl('literal') } },
          /^destination literal: refused: 127\.0\.0\.1 is a loopback address; the hub sends only to public addresses unless --allow-private-destinations allows it$/,
        ],
        [
          { name: 'hex', kind: 'teams', secret: { webhookUrl: via('0x7f.1', 'hex') } },
          /^destination hex: refused: 127\.0\.0\.1 is a loopback address/,
        ],
        [
          { name: 'mapped', kind: 'alertmanager', config: { url: via('[::ffff:127.0.0.1]', 'x') } },
          /^destination mapped: refused: ::ffff:7f00:1 is a loopback address, in IPv6 form/,
        ],
        [
          { name: 'named', kind: 'slack', secret: { webhookUrl: via('localhost', 'named') } },
          /^destination named: refused: host localhost resolves to (127\.0\.0\.1|::1), a loopback address/,
        ],
        [
          { name: 'metadata', kind: 'webhook', secret: { url: 'http://169.254.169.254/latest' } },
          /^destination metadata: refused: 169\.254\.169\.254 is a link-local address/,
        ],
        [
          {
            name: 'creds',
            kind: 'webhook',
            secret: { url: 'https://hook-user:s3cret-pass@hooks.example.com/x' },
          },
          /^destination creds: the URL holds a user name or password; give it without them \(the hub sends no credentials from a URL\)$/,
        ],
      ];
      for (const [body, message] of cases) {
        const res = await api.request<ErrorBody>(
          'POST',
          '/api/v1/notifications/destinations',
          body,
        );
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.match(res.body.error.message, message);
      }
      const host = await api.request<ErrorBody>('PUT', '/api/v1/commit-status/hosts/internal', {
        kind: 'gitea',
        match: 'git.internal.test',
        apiUrl: `http://127.0.0.1:${new URL(r.url).port}/api/v1`,
        token: 'a-gitea-token',
      });
      assert.equal(host.status, 400);
      assert.match(
        host.body.error.message,
        /^commit-status host internal: apiUrl: refused: 127\.0\.0\.1 is a loopback address/,
      );
      const listed = await api.get<{ items: unknown[] }>('/api/v1/notifications/destinations');
      assert.deepEqual(listed.items, [], 'nothing was saved');
      assert.deepEqual(r.requests, [], 'nothing reached the receiver');
      await hub.stop();
      hub = undefined;
    });

    it('delivers with the flag; refuses at send time once the hub runs without it, nothing reaching the receiver', async () => {
      hub = await startHub({ allowPrivateDestinations: LOOPBACK_DESTINATIONS });
      let api = hubApi(hub);
      await api.post('/api/v1/notifications/destinations', {
        name: 'ops',
        kind: 'webhook',
        secret: { url: r.webhookUrl('ops'), hmacKey: HMAC_KEY },
      });
      await api.post('/api/v1/notifications/destinations', {
        name: 'named',
        kind: 'webhook',
        secret: { url: via('localhost', 'named'), hmacKey: HMAC_KEY },
      });
      for (const name of ['ops', 'named']) {
        const sent = await api.post<TestAnswer>(`/api/v1/notifications/destinations/${name}/test`);
        assert.deepEqual(sent, { sent: true, error: '', answer: '' });
      }
      assert.equal(r.valid('webhook', 'ops').length, 1);
      assert.equal(r.valid('webhook', 'named').length, 1);

      // The same hub restarted without the flag: what was saved while allowed is refused now.
      await hub.kill();
      hub = await startHub({ dataDir: hub.dataDir, adminToken: hub.adminToken });
      api = hubApi(hub);
      const before = r.requests.length;
      const literal = await api.post<TestAnswer>('/api/v1/notifications/destinations/ops/test');
      assert.deepEqual(literal, {
        sent: false,
        error:
          'webhook destination ops: refused: 127.0.0.1 is a loopback address; the hub sends only to public addresses unless --allow-private-destinations allows it',
        answer: '',
      });
      const named = await api.post<TestAnswer>('/api/v1/notifications/destinations/named/test');
      assert.equal(named.sent, false);
      assert.match(
        named.error,
        /^webhook destination named: refused: host localhost resolves to (127\.0\.0\.1|::1), a loopback address/,
      );
      assert.equal(r.requests.length, before, 'nothing reached the receiver');
    });
  },
);
