// Helpers for the hub's integration tests: the real `driftless-hub` process, HTTP calls,
// and an agent made of a grpc-js client with its own key and CSR.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, webcrypto } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import {
  AgentMessage,
  AgentServiceClient,
  type AgentMessageBody,
  type EnrollResponse,
  type HubMessage,
} from '@driftless/proto';
import { sharedSecretsKeyFile } from '@driftless/test';

import { startedLines } from '../link/helpers.ts';

x509.cryptoProvider.set(webcrypto as never);

const HUB_BIN = resolve(import.meta.dirname, '../../../hub/bin/driftless-hub.ts');

/** A running hub process. */
export interface HubProcess {
  grpc: string;
  http: string;
  dataDir: string;
  /** Set on the first start of a data directory / database only. */
  bootstrapToken: string | undefined;
  caPem: string;
  proc: ChildProcess;
  /** Everything the hub wrote on stderr (its logs). */
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts `driftless-hub` on free loopback ports and waits for its "listening" line. */
export async function startHubProcess(options: {
  dataDir?: string;
  store?: 'sqlite' | 'postgres';
  databaseUrl?: string;
  args?: string[];
}): Promise<HubProcess> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'driftless-hub-it-'));
  const args = [
    HUB_BIN,
    '--data-dir',
    dataDir,
    '--grpc-address',
    '127.0.0.1:0',
    '--http-address',
    '127.0.0.1:0',
    '--store',
    options.store ?? 'sqlite',
    ...(options.databaseUrl
      ? ['--database-url', options.databaseUrl, '--secrets-key-file', sharedSecretsKeyFile()]
      : []),
    ...(options.args ?? []),
  ];
  const proc = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'info', OTEL_TRACES_EXPORTER: 'none' },
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.once('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM')
      console.error(`driftless-hub exited with ${code ?? signal}; its stderr:\n${stderr}`);
  });
  const lines = createInterface({ input: proc.stdout });
  const exited = new Promise<never>((_, reject) =>
    proc.once('exit', (code) => reject(new Error(`driftless-hub exited with ${code}: ${stderr}`))),
  );
  exited.catch(() => undefined);
  let bootstrapToken: string | undefined;
  const listening = new Promise<{ grpc: string; http: string }>((resolveListen) => {
    lines.on('line', (line) => {
      const ev = JSON.parse(line) as { event: string; grpc: string; http: string; token: string };
      if (ev.event === 'bootstrap-admin-token') bootstrapToken = ev.token;
      if (ev.event === 'listening') resolveListen(ev);
    });
  });
  const addr = await Promise.race([listening, exited]);
  await Promise.race([
    startedLines(
      () => stderr,
      () => bootstrapToken,
    ),
    exited,
  ]);
  return {
    grpc: addr.grpc,
    http: addr.http,
    dataDir,
    get bootstrapToken() {
      return bootstrapToken;
    },
    caPem: readFileSync(join(dataDir, 'ca.crt'), 'utf8'),
    proc,
    stderr: () => stderr,
    stop: async () => {
      if (proc.exitCode !== null) return;
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await done;
    },
  };
}

/** An HTTP API call: status and parsed JSON body. */
export async function api(
  hub: { http: string },
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, checked by assertions
): Promise<{ status: number; body: any }> {
  const res = await fetch(hub.http + path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (e.g. /metrics)
  }
  return { status: res.status, body: parsed };
}

/** An agent's key pair and CSR; the key never leaves the test (as in a cluster). */
export interface AgentKey {
  keyPem: string;
  csrPem: string;
}

/** Makes a key and CSR the way an agent does (EC P-256 by default). */
export async function makeAgentKey(kind: 'ec' | 'rsa1024' = 'ec'): Promise<AgentKey> {
  const alg =
    kind === 'ec'
      ? { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
      : {
          name: 'RSASSA-PKCS1-v1_5',
          modulusLength: 1024,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: 'SHA-256',
        };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=agent',
    keys: keys as never,
    signingAlgorithm: alg,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })
    .export({ format: 'pem', type: 'pkcs8' })
    .toString();
  return { keyPem, csrPem: csr.toString('pem') };
}

/** A self-signed CA and a client certificate from it, for "another CA" tests. */
export async function foreignClientCert(
  cluster: string,
): Promise<{ keyPem: string; certPem: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const caKeys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=Evil CA',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
    keys: caKeys as never,
    signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  const agent = await makeAgentKey();
  const csr = new x509.Pkcs10CertificateRequest(agent.csrPem);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '0a',
    subject: `CN=${cluster}`,
    issuer: ca.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
    signingKey: caKeys.privateKey as never,
    publicKey: csr.publicKey,
    signingAlgorithm: alg,
    extensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])],
  });
  return { keyPem: agent.keyPem, certPem: cert.toString('pem') };
}

/** The gRPC client of an agent: without a certificate (to enroll) or with one (to connect). */
export function agentClient(
  hub: { grpc: string; caPem: string },
  identity?: { keyPem: string; certPem: string },
): AgentServiceClient {
  const creds = identity
    ? grpc.credentials.createSsl(
        Buffer.from(hub.caPem),
        Buffer.from(identity.keyPem),
        Buffer.from(identity.certPem),
      )
    : grpc.credentials.createSsl(Buffer.from(hub.caPem));
  return new AgentServiceClient(hub.grpc, creds);
}

/** Calls Enroll; resolves to the response or rejects with the gRPC ServiceError. */
export function enroll(
  hub: { grpc: string; caPem: string },
  req: { token: string; clusterName: string; csrPem: string; labels?: Record<string, string> },
): Promise<EnrollResponse> {
  const client = agentClient(hub);
  return new Promise<EnrollResponse>((resolvePromise, reject) =>
    client.enroll(
      {
        token: req.token,
        clusterName: req.clusterName,
        csrPem: req.csrPem,
        agentVersion: '0.1.0-test',
        labels: req.labels ?? {},
      },
      (err, res) => {
        client.close();
        if (err) reject(err);
        else resolvePromise(res);
      },
    ),
  ).finally(() => client.close());
}

/** An open Connect stream with a queue of received hub messages. */
export interface AgentStream {
  send(seq: bigint, body: AgentMessageBody, traceparent?: string): void;
  /** The next hub message, or a rejection after `timeoutMs`. */
  next(timeoutMs?: number): Promise<HubMessage>;
  /** Resolves with the final status (code and details) when the stream ends. */
  status: Promise<{ code: number; details: string }>;
  close(): void;
}

/** Opens Connect with a client certificate. */
export function connect(
  hub: { grpc: string; caPem: string },
  identity: { keyPem: string; certPem: string },
): AgentStream {
  const client = agentClient(hub, identity);
  const call = client.connect();
  const queue: HubMessage[] = [];
  const waiters: ((m: HubMessage) => void)[] = [];
  call.on('data', (m: HubMessage) => {
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  const status = new Promise<{ code: number; details: string }>((resolveStatus) => {
    let done = false;
    const finish = (s: { code: number; details: string }) => {
      if (done) return;
      done = true;
      client.close();
      resolveStatus(s);
    };
    call.on('error', (e: grpc.ServiceError) => finish({ code: e.code, details: e.details }));
    call.on('status', (s: grpc.StatusObject) => {
      // 'status' precedes 'error' for failures; let 'error' carry them.
      if (s.code === grpc.status.OK) finish({ code: s.code, details: s.details });
    });
  });
  return {
    send: (seq, body, traceparent = '') =>
      void call.write(
        AgentMessage.create({
          seq,
          body,
          trace: { traceparent, tracestate: '' },
          sentAtUnixMs: BigInt(Date.now()),
        }),
      ),
    next: (timeoutMs = 5000) => {
      const m = queue.shift();
      if (m) return Promise.resolve(m);
      return new Promise<HubMessage>((resolveNext, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no hub message within ${timeoutMs}ms`)),
          timeoutMs,
        );
        waiters.push((msg) => {
          clearTimeout(timer);
          resolveNext(msg);
        });
      });
    },
    status,
    close: () => {
      call.end();
      call.cancel();
    },
  };
}
