/**
 * A validating admission webhook the real kube-apiserver calls, to make the
 * server itself answer a write with 503, 409 or 500 (the apiserver passes the
 * webhook's status code on to the client), or to hold a write while a test
 * looks at the agent mid-sync. It is a real server path: the agent's request
 * goes through the apiserver's admission chain as in production.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { KubeClient } from '@driftless/agent';

/** What the webhook does with the next matching real (not dry-run) request. */
export type Verdict = { code: number; message: string } | 'hold';

interface AdmissionRequest {
  uid: string;
  operation: string;
  namespace?: string;
  name?: string;
  dryRun?: boolean;
}

/** A running webhook and its registration. */
export interface FailingWebhook {
  /** Answers the next `times` real writes of `operation` on `target` (`ns` or `ns/name`) with `verdict`. */
  plan(
    operation: 'CREATE' | 'UPDATE' | 'DELETE',
    target: string,
    verdict: Verdict,
    times?: number,
  ): void;
  /** Lets every held request through. */
  release(): void;
  /** Real (not dry-run) requests seen, as `OPERATION namespace/name`. */
  readonly seen: string[];
  /** How many requests are held now. */
  readonly held: number;
  stop(): Promise<void>;
}

/** Starts the webhook and registers it for ConfigMaps in `namespaces`. */
export async function startFailingWebhook(
  client: KubeClient,
  namespaces: string[],
): Promise<FailingWebhook> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-webhook-'));
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    path.join(dir, 'key.pem'),
    '-out',
    path.join(dir, 'cert.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  const cert = await readFile(path.join(dir, 'cert.pem'));
  const key = await readFile(path.join(dir, 'key.pem'));
  const plans: { operation: string; target: string; verdict: Verdict; times: number }[] = [];
  const holds: (() => void)[] = [];
  const seen: string[] = [];

  const server = https.createServer({ cert, key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        request: AdmissionRequest;
      };
      const r = review.request;
      const answer = (response: Record<string, unknown>) => {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            response: { uid: r.uid, ...response },
          }),
        );
      };
      if (r.dryRun) return answer({ allowed: true }); // plans (dry-runs) pass: only writes fail
      seen.push(`${r.operation} ${r.namespace ?? ''}/${r.name ?? ''}`);
      const ns = r.namespace ?? '';
      const p = plans.find(
        (x) =>
          x.times > 0 &&
          x.operation === r.operation &&
          (x.target === ns || x.target === `${ns}/${r.name ?? ''}`),
      );
      if (!p) return answer({ allowed: true });
      p.times--;
      if (p.verdict === 'hold') return void holds.push(() => answer({ allowed: true }));
      answer({ allowed: false, status: { code: p.verdict.code, message: p.verdict.message } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const name = `driftless-test-${port}`;
  await client.apply(
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name },
      webhooks: [
        {
          name: 'fail.driftless.test',
          clientConfig: {
            url: `https://127.0.0.1:${port}/validate`,
            caBundle: cert.toString('base64'),
          },
          rules: [
            {
              operations: ['CREATE', 'UPDATE', 'DELETE'],
              apiGroups: [''],
              apiVersions: ['v1'],
              resources: ['configmaps'],
            },
          ],
          namespaceSelector: {
            matchExpressions: [
              { key: 'kubernetes.io/metadata.name', operator: 'In', values: namespaces },
            ],
          },
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          failurePolicy: 'Fail',
          timeoutSeconds: 30,
        },
      ],
    },
    { fieldManager: 'test' },
  );
  return {
    plan(operation, target, verdict, times = 1) {
      plans.push({ operation, target, verdict, times });
    },
    release() {
      for (const h of holds.splice(0)) h();
    },
    seen,
    get held() {
      return holds.length;
    },
    async stop() {
      for (const h of holds.splice(0)) h();
      await client
        .delete({
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'ValidatingWebhookConfiguration',
          namespace: '',
          name,
        })
        .catch(() => undefined);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
