import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  AllowList,
  AllowListError,
  ForbiddenDestinationError,
  nonPublicReason,
  OutboundGuard,
  type Resolver,
} from './index.ts';

describe('the address classifier', () => {
  const refused: [string, RegExp][] = [
    // IPv4 loopback in every form a URL host may spell it.
    ['127.0.0.1', /loopback/],
    ['127.1', /loopback/],
    ['127.255.255.254', /loopback/],
    ['2130706433', /loopback/],
    ['0x7f000001', /loopback/],
    ['0x7f.1', /loopback/],
    ['0177.0.0.1', /loopback/],
    ['017700000001', /loopback/],
    ['0x7F.0.0.0x1', /loopback/],
    // "This host": connecting to it reaches the hub's own loopback.
    ['0.0.0.0', /unspecified/],
    ['0', /unspecified/],
    ['0.1.2.3', /unspecified/],
    ['169.254.169.254', /link-local/],
    ['0xa9fea9fe', /link-local/],
    ['10.0.0.1', /private/],
    ['012.0.0.1', /private/],
    ['172.16.0.1', /private/],
    ['172.31.255.255', /private/],
    ['192.168.1.1', /private/],
    ['100.64.0.1', /carrier-grade NAT/],
    ['100.127.255.255', /carrier-grade NAT/],
    ['192.0.0.8', /reserved/],
    ['192.0.2.1', /reserved/],
    ['198.18.0.1', /reserved|benchmarking/],
    ['240.0.0.1', /reserved/],
    ['224.0.0.1', /multicast/],
    ['255.255.255.255', /broadcast/],
    // IPv6, and IPv4 hidden in IPv6.
    ['::1', /loopback/],
    ['[::1]', /loopback/],
    ['0:0:0:0:0:0:0:1', /loopback/],
    ['::', /unspecified/],
    ['::ffff:127.0.0.1', /loopback address.*, in IPv6 form/],
    ['[::ffff:7f00:1]', /loopback address.*, in IPv6 form/],
    ['::ffff:169.254.169.254', /link-local address.*, in IPv6 form/],
    ['::ffff:10.1.2.3', /private address.*, in IPv6 form/],
    ['64:ff9b::7f00:1', /loopback address.*, in IPv6 form/],
    ['2002:7f00:1::1', /loopback address.*, in IPv6 form/],
    ['::127.0.0.1', /not a global unicast/],
    ['fe80::1', /link-local/],
    ['fe80::1%eth0', /link-local/],
    ['fc00::1', /unique-local/],
    ['fd12:3456:789a::1', /unique-local/],
    ['fec0::1', /site-local/],
    ['ff02::1', /multicast/],
    ['2001:db8::1', /reserved/],
    ['localhost', /not an IP address/],
  ];
  for (const [address, why] of refused)
    it(`refuses ${address}`, () => assert.match(nonPublicReason(address) ?? 'public', why));

  const allowed = [
    '8.8.8.8',
    '1.1.1.1',
    '100.63.255.255',
    '100.128.0.1',
    '172.32.0.1',
    '169.253.255.255',
    '2606:4700:4700::1111',
    '[2a00:1450:4001:82b::200e]',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ];
  for (const address of allowed)
    it(`lets ${address} through`, () => assert.equal(nonPublicReason(address), undefined));
});

describe('the allow list', () => {
  const list = new AllowList([
    '10.20.0.0/16',
    '192.168.1.5',
    'fd00::/8',
    'Alertmanager.Monitoring.svc',
    '*.corp.example',
  ]);

  it('allows addresses in its ranges, IPv4 ranges in IPv6 form too', () => {
    assert.ok(list.allowsAddress('10.20.3.4'));
    assert.ok(list.allowsAddress('::ffff:10.20.3.4'));
    assert.ok(list.allowsAddress('192.168.1.5'));
    assert.ok(list.allowsAddress('fd00::5'));
    assert.ok(!list.allowsAddress('10.21.0.1'));
    assert.ok(!list.allowsAddress('192.168.1.6'));
    assert.ok(!list.allowsAddress('127.0.0.1'));
    assert.ok(!list.allowsAddress('fc00::1'));
  });

  it('allows host names exactly or by suffix, case and trailing dot aside', () => {
    assert.ok(list.allowsHost('alertmanager.monitoring.svc.'));
    assert.ok(list.allowsHost('gitlab.corp.example'));
    assert.ok(list.allowsHost('a.b.CORP.example'));
    assert.ok(!list.allowsHost('corp.example'));
    assert.ok(!list.allowsHost('evilcorp.example'));
    assert.ok(!list.allowsHost('alertmanager.monitoring'));
  });

  it('refuses an entry that is no range, address or name, naming it', () => {
    for (const bad of ['10.0.0.0/33', 'http://x', 'a b', '*'])
      assert.throws(
        () => new AllowList([bad]),
        (err: Error) => err instanceof AllowListError && err.message.includes(`"${bad}"`),
      );
  });
});

/** A resolver from a table; a name's answer may change between calls (DNS rebinding). */
function table(answers: Record<string, string[][]>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (name: string) => {
    // As a resolver does: a fully qualified name with its trailing dot is the same name.
    const hostname = name.toLowerCase().replace(/\.$/, '');
    calls.push(hostname);
    const seq = answers[hostname];
    if (!seq)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    const now = seq[Math.min(calls.filter((c) => c === hostname).length - 1, seq.length - 1)]!;
    return now.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { calls });
}

describe('the outbound guard', () => {
  let server: Server;
  let port = 0;
  const paths: string[] = [];
  before(async () => {
    server = createServer((req, res) => {
      paths.push(req.url ?? '');
      if (req.url === '/moved') {
        res.writeHead(302, { location: '/final' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const refusal =
    (what: RegExp, namesFlag = true) =>
    (err: Error) => {
      assert.ok(err instanceof ForbiddenDestinationError, String(err));
      assert.equal(err.errorClass, 'terminal');
      assert.match(err.message, what);
      if (namesFlag) assert.match(err.message, /--allow-private-destinations/);
      return true;
    };

  it('refuses IP literals that are not public, in any spelling, without resolving', async () => {
    const resolve = table({});
    const guard = new OutboundGuard({ resolve });
    for (const host of [
      '127.0.0.1',
      '0x7f.1',
      '2130706433',
      '[::ffff:127.0.0.1]',
      '[::1]',
      '169.254.169.254',
    ])
      await assert.rejects(
        guard.check('destination ops', `http://${host}:${port}/`),
        refusal(/^destination ops: refused: .* is (a loopback|a link-local)/),
      );
    await assert.rejects(
      guard.fetch('destination ops', `http://0x7f.1:${port}/`, { method: 'POST', headers: {} }),
      refusal(/^destination ops: refused: 127\.0\.0\.1 is a loopback address/),
    );
    assert.deepEqual(resolve.calls, []);
    assert.deepEqual(paths, []);
    await guard.close();
  });

  it('refuses a name resolving to a non-public address, also when only one of its addresses is', async () => {
    const guard = new OutboundGuard({
      resolve: table({
        localhost: [['127.0.0.1', '::1']],
        'mixed.example': [['8.8.8.8', '10.0.0.7']],
        'public.example': [['8.8.8.8']],
      }),
    });
    await assert.rejects(
      guard.check('destination ops', 'http://LOCALHOST./hook'),
      refusal(
        /^destination ops: refused: host localhost resolves to 127\.0\.0\.1, a loopback address/,
      ),
    );
    await assert.rejects(
      guard.check('destination ops', 'https://mixed.example/hook'),
      refusal(/host mixed\.example resolves to 10\.0\.0\.7, a private address/),
    );
    await guard.check('destination ops', 'https://public.example/hook');
    // A name that does not resolve yet passes the check; the send checks again.
    await guard.check('destination ops', 'https://not-yet.example/hook');
    await assert.rejects(
      guard.check('destination ops', 'ftp://public.example/x'),
      refusal(/^destination ops: use an http or https URL, not ftp:$/, false),
    );
    await guard.close();
  });

  it('checks the address it connects to: a name that turned into loopback after the check is refused (DNS rebinding)', async () => {
    const resolve = table({ 'rebind.example': [['93.184.216.34'], ['127.0.0.1']] });
    const guard = new OutboundGuard({ resolve });
    await guard.check('destination ops', `http://rebind.example:${port}/`);
    await assert.rejects(
      guard.fetch('destination ops', `http://rebind.example:${port}/hook`, {
        method: 'POST',
        headers: {},
        body: '{}',
      }),
      refusal(/^destination ops: refused: host rebind\.example resolves to 127\.0\.0\.1/),
    );
    assert.deepEqual(resolve.calls, ['rebind.example', 'rebind.example']);
    assert.deepEqual(paths, [], 'nothing reached the receiver');
    await guard.close();
  });

  it('refuses a URL holding credentials without naming them, at check and at send, allowed or not', async () => {
    const guard = new OutboundGuard({ allow: ['127.0.0.0/8'], resolve: table({}) });
    const url = `http://hook-user:s3cret-pass@127.0.0.1:${port}/creds`;
    const noCredentials = (err: Error) => {
      assert.ok(err instanceof ForbiddenDestinationError, String(err));
      assert.match(err.message, /^destination ops: the URL holds a user name or password/);
      assert.doesNotMatch(err.message, /s3cret|hook-user/);
      return true;
    };
    await assert.rejects(guard.check('destination ops', url), noCredentials);
    await assert.rejects(
      guard.fetch('destination ops', url, { method: 'POST', headers: {}, body: '{}' }),
      noCredentials,
    );
    await assert.rejects(
      guard.fetch('destination ops', `http://:s3cret-pass@127.0.0.1:${port}/creds`, {
        method: 'GET',
        headers: {},
      }),
      noCredentials,
    );
    assert.deepEqual(paths, [], 'nothing reached the receiver');
    await guard.close();
  });

  it('sends to what the allow list allows, by range or by name, and never follows a redirect', async () => {
    const byRange = new OutboundGuard({
      allow: ['127.0.0.0/8'],
      resolve: table({ 'receiver.test': [['127.0.0.1']] }),
    });
    const res = await byRange.fetch('destination ops', `http://receiver.test:${port}/hook`, {
      method: 'POST',
      headers: {},
      body: '{}',
    });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ok');
    const moved = await byRange.fetch('destination ops', `http://127.0.0.1:${port}/moved`, {
      method: 'POST',
      headers: {},
    });
    assert.equal(moved.status, 302);
    await moved.body?.cancel();
    await byRange.close();

    const byName = new OutboundGuard({
      allow: ['receiver.test'],
      resolve: table({ 'receiver.test': [['127.0.0.1']] }),
    });
    const named = await byName.fetch('destination ops', `http://receiver.test:${port}/named`, {
      method: 'GET',
      headers: {},
    });
    assert.equal(named.status, 200);
    await named.body?.cancel();
    // The name is trusted, not its address: the literal stays refused.
    await assert.rejects(
      byName.check('destination ops', `http://127.0.0.1:${port}/`),
      refusal(/loopback/),
    );
    await byName.close();
    assert.deepEqual(paths, ['/hook', '/moved', '/named']);
  });
});
