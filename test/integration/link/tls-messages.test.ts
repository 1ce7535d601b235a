/**
 * A hub certificate the agent cannot trust is said in the agent's terms: not signed by the CA
 * it was given (--hub-ca-file, or the CA stored with its identity), or not valid for the name
 * it checks (--hub-server-name). Real TLS over HTTP/2 (the handshake fails before any gRPC),
 * the agent's own gRPC transport.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { EnrollRequest } from '@driftless/proto';
import { createClusterPki, type ClusterPki } from '../../harness/pki.ts';
import { GrpcTransport, type StreamEnd } from '../../../agent/src/link/transport.ts';
import { GrpcCode } from '../../../agent/src/link/errors.ts';

describe('hub TLS failures, as the agent says them', { timeout: 60_000 }, () => {
  let dir: string;
  let hubPki: ClusterPki;
  let otherPki: ClusterPki;
  let server: Http2SecureServer;
  let port: number;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-tls-messages-'));
    [hubPki, otherPki] = await Promise.all([
      createClusterPki(path.join(dir, 'hub')),
      createClusterPki(path.join(dir, 'other')),
    ]);
    // Its certificate is for 127.0.0.1 and localhost (and in-cluster names), not 127.0.0.2.
    server = createSecureServer({
      cert: await readFile(hubPki.files.servingCert),
      key: await readFile(hubPki.files.servingKey),
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });

  after(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  const enrollFailure = async (transport: GrpcTransport, caPem: string) => {
    const err = await transport.enroll(EnrollRequest.create({ clusterName: 'edge' }), caPem).then(
      () => assert.fail('enrolled'),
      (e: unknown) => e as { code: number; details: string },
    );
    return err;
  };

  it('a hub certificate not signed by --hub-ca-file: names the hub and the file (retryable)', async () => {
    const caFile = path.join(dir, 'other', 'ca.crt');
    const t = new GrpcTransport({ address: `localhost:${port}`, caFile });
    const err = await enrollFailure(t, otherPki.caCert);
    assert.equal(err.code, GrpcCode.UNAVAILABLE);
    assert.equal(
      err.details,
      `the hub at localhost:${port} presents a certificate not signed by --hub-ca-file ${caFile}`,
    );
  });

  it('the same on the Connect stream: names the CA stored with the identity', async () => {
    const t = new GrpcTransport({
      address: `localhost:${port}`,
      identityWhere: 'driftless/driftless-agent-identity',
    });
    const end = await new Promise<StreamEnd>((resolve) => {
      t.connect(
        { caPem: otherPki.caCert, certPem: otherPki.adminCert, keyPem: otherPki.adminKey },
        { onMessage: () => undefined, onDrain: () => undefined, onEnd: resolve },
      );
    });
    assert.equal(end.code, GrpcCode.UNAVAILABLE);
    assert.equal(
      end.details,
      `the hub at localhost:${port} presents a certificate not signed by the hub CA stored with the agent's identity (Secret driftless/driftless-agent-identity)`,
    );
  });

  it('a --hub-server-name the certificate is not for: names it and the names the certificate has', async () => {
    const t = new GrpcTransport({ address: `127.0.0.1:${port}`, serverName: 'hub.example' });
    const err = await enrollFailure(t, hubPki.caCert);
    assert.equal(err.code, GrpcCode.UNAVAILABLE);
    assert.match(
      err.details,
      new RegExp(
        `^the hub at 127\\.0\\.0\\.1:${port} presents a certificate not valid for hub\\.example \\(--hub-server-name\\) \\(it is for IP:127\\.0\\.0\\.1, DNS:localhost, .*\\): set --hub-server-name to one of its names$`,
      ),
    );
  });

  it('an address whose host the certificate is not for: names that host', async () => {
    const other = createSecureServer({
      cert: await readFile(hubPki.files.servingCert),
      key: await readFile(hubPki.files.servingKey),
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.2', resolve));
    const otherPort = (other.address() as { port: number }).port;
    try {
      const t = new GrpcTransport({ address: `127.0.0.2:${otherPort}` });
      const err = await enrollFailure(t, hubPki.caCert);
      assert.match(
        err.details,
        new RegExp(
          `^the hub at 127\\.0\\.0\\.2:${otherPort} presents a certificate not valid for 127\\.0\\.0\\.2 \\(it is for 127\\.0\\.0\\.1, 10\\.0\\.0\\.1\\): set --hub-server-name to one of its names$`,
        ),
      );
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });
});
