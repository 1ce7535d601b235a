/**
 * A hostile chart source beyond the cases of chart-fetch.test.ts, against
 * real HTTP servers on loopback and the real `helm`: a published chart whose
 * values schema points at a file of the agent's machine, an index whose
 * entries are not what an index holds, a token service that answers junk, a
 * server that drips its answer, a body that inflates past the limit, and a
 * redirect to a file URL. Each fails with one message naming the chart; no
 * file is read and no TypeError reaches the app's status.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as nodeHttp from 'isomorphic-git/http/node';
import { after, before, describe, it } from 'node:test';
import {
  appSpec,
  chartCredentials,
  ChartNotFoundError,
  ChartUnreachableError,
  fetchChartArchive,
  render,
  RenderError,
} from '@driftless/agent';
import { findBinary, startChartRepo, type ChartRepo } from '@driftless/test';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const SECRET = `s3cr3t-${process.pid}-of-the-agent-machine`;

describe('a hostile chart source', () => {
  const servers: Server[] = [];
  let work: string;
  before(() => {
    work = mkdtempSync(path.join(tmpdir(), 'driftless-chart-hostile-'));
  });
  after(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
    rmSync(work, { recursive: true, force: true });
  });

  async function serve(handler: Handler): Promise<string> {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  const fetchFrom = (repository: string, options: { maxBytes?: number; timeoutMs?: number } = {}) =>
    fetchChartArchive(
      { repository, name: 'web', version: '1.0.0' },
      { maxBytes: options.maxBytes ?? 1024 * 1024, timeoutMs: options.timeoutMs ?? 10_000 },
    );
  /** A repository whose index.yaml is `index`. */
  const indexServer = (index: string) =>
    serve((req, res) => {
      if (req.url === '/charts/index.yaml') res.writeHead(200).end(index);
      else res.writeHead(404).end();
    });

  /**
   * Publishes chart `name` 1.0.0 to `repo`, whose values schema's `$ref` reads a file outside
   * (Helm would read it, and show its content when the values do not match it).
   */
  async function publishLeakyChart(repo: ChartRepo, name: string): Promise<void> {
    const secretFile = path.join(work, `${name}-secret.json`);
    writeFileSync(secretFile, JSON.stringify({ type: 'string', enum: [SECRET] }));
    const chart = path.join(work, 'src', name);
    mkdirSync(path.join(chart, 'templates'), { recursive: true });
    writeFileSync(
      path.join(chart, 'Chart.yaml'),
      `apiVersion: v2\nname: ${name}\nversion: 1.0.0\n`,
    );
    writeFileSync(path.join(chart, 'values.yaml'), 'greeting: hello\n');
    writeFileSync(
      path.join(chart, 'values.schema.json'),
      JSON.stringify({
        type: 'object',
        properties: { greeting: { $ref: `file://${secretFile}` } },
      }),
    );
    writeFileSync(
      path.join(chart, 'templates', 'cm.yaml'),
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n`,
    );
    await repo.publish(chart);
  }

  /** Asserts a render refused for a schema reference, without the secret in its message. */
  const refusedForRef = (where: RegExp) => (err: unknown) => {
    assert.ok(err instanceof RenderError, String(err));
    assert.match(err.message, where);
    assert.ok(!err.message.includes(SECRET), err.message);
    return true;
  };

  describe("a published chart whose values schema's $ref reads a file of the agent's machine", () => {
    let repo: ChartRepo;
    before(async () => {
      repo = await startChartRepo();
      await publishLeakyChart(repo, 'leaky');
    });
    after(() => repo?.stop());

    it('is refused when an app names it', async () => {
      const root = mkdtempSync(path.join(work, 'checkout-'));
      await assert.rejects(
        render({
          root,
          app: appSpec({
            name: 'web',
            namespace: 'web',
            path: '.',
            helm: {
              releaseName: 'web',
              valuesFiles: [],
              values: {},
              chart: { repository: repo.url, name: 'leaky', version: '1.0.0' },
            },
          }),
          helmBin: findBinary('helm'),
          charts: { cacheDir: mkdtempSync(path.join(work, 'cache-')) },
        }),
        refusedForRef(
          /leaky@1\.0\.0 \(leaky\/values\.schema\.json\): \$ref at \/properties\/greeting\/\$ref points outside the schema/,
        ),
      );
    });

    it('is refused when kustomize pulls it, before helm reads it', async () => {
      const root = mkdtempSync(path.join(work, 'checkout-'));
      mkdirSync(path.join(root, 'app'));
      writeFileSync(
        path.join(root, 'app', 'kustomization.yaml'),
        `helmCharts:\n  - name: leaky\n    repo: ${repo.url}\n    version: 1.0.0\n    releaseName: web\n`,
      );
      const renderApp = () =>
        render({
          root,
          app: appSpec({
            name: 'web',
            namespace: 'web',
            path: 'app',
            kustomize: { allowRemoteResources: false, allowRemoteCharts: true },
          }),
          helmBin: findBinary('helm'),
          kustomizeBin: findBinary('kustomize'),
        });
      // The first render pulls it; the next finds it in the checkout: both refuse it.
      for (let i = 0; i < 2; i++) {
        await assert.rejects(
          renderApp(),
          refusedForRef(
            /values\.schema\.json: \$ref at \/properties\/greeting\/\$ref points outside the schema/,
          ),
        );
      }
    });
  });

  it('a dependency whose name is a path writes nothing outside the chart copy or the cache', async () => {
    const requests: string[] = [];
    const repo = await serve((req, res) => {
      requests.push(req.url ?? '');
      res.writeHead(404).end();
    });
    for (const repository of ['file://../lib', `${repo}/charts`]) {
      const root = mkdtempSync(path.join(work, 'checkout-'));
      const escaped = path.join(work, `escaped-${requests.length}-${path.basename(root)}`);
      const files: Record<string, string> = {
        'app/Chart.yaml': `apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n  - name: ${JSON.stringify(`../../../../../../../../..${escaped}`)}\n    version: 0.1.0\n    repository: ${repository}\n`,
        'lib/Chart.yaml': 'apiVersion: v2\nname: lib\nversion: 0.1.0\n',
        'lib/templates/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lib\n',
      };
      for (const [rel, text] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
        writeFileSync(path.join(root, rel), text);
      }
      await assert.rejects(
        render({
          root,
          app: appSpec({
            name: 'web',
            namespace: 'web',
            path: 'app',
            helm: {
              releaseName: 'web',
              valuesFiles: [],
              values: {},
              allowRemoteDependencies: true,
            },
          }),
          helmBin: findBinary('helm'),
          charts: { cacheDir: mkdtempSync(path.join(work, 'cache-')) },
        }),
        (err: unknown) => {
          assert.ok(err instanceof RenderError, String(err));
          assert.match(
            err.message,
            /^render app: dependency name ".*" in app\/Chart\.yaml must be a chart name/,
          );
          return true;
        },
      );
      assert.ok(!existsSync(escaped), `${repository}: nothing written at ${escaped}`);
      assert.ok(!existsSync(`${escaped}-0.1.0.tgz`), `${repository}: no package written outside`);
    }
    assert.deepEqual(requests, [], 'nothing fetched for a name that is a path');
  });

  it('a chart of a private repository is not served from the cache to an app without its credentials', async () => {
    const privateRepo = await startChartRepo({ users: { reader: 'private-pass' } });
    try {
      const chart = path.join(work, 'src', 'private');
      mkdirSync(path.join(chart, 'templates'), { recursive: true });
      writeFileSync(
        path.join(chart, 'Chart.yaml'),
        'apiVersion: v2\nname: private\nversion: 1.0.0\n',
      );
      writeFileSync(
        path.join(chart, 'templates', 'cm.yaml'),
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: private-content\n',
      );
      await privateRepo.publish(chart);
      const credentialsDir = mkdtempSync(path.join(work, 'credentials-'));
      writeFileSync(path.join(credentialsDir, 'reader'), 'reader:private-pass\n');
      const cacheDir = mkdtempSync(path.join(work, 'cache-'));
      const root = mkdtempSync(path.join(work, 'checkout-'));
      const renderApp = (name: string, credentials?: { file: string }) =>
        render({
          root,
          app: appSpec({
            name,
            namespace: name,
            path: '.',
            helm: {
              releaseName: name,
              valuesFiles: [],
              values: {},
              chart: {
                repository: privateRepo.url,
                name: 'private',
                version: '1.0.0',
                ...(credentials ? { credentials } : {}),
              },
            },
          }),
          helmBin: findBinary('helm'),
          charts: { cacheDir, credentials: chartCredentials({ dir: credentialsDir }) },
        });
      const owner = await renderApp('owner', { file: 'reader' });
      assert.deepEqual(
        owner.map((o) => o.object.metadata.name),
        ['private-content'],
      );
      await assert.rejects(renderApp('other'), (err: unknown) => {
        assert.ok(err instanceof ChartNotFoundError, String(err));
        assert.match(err.message, /refused access \(HTTP 401\); the app sets no credentials$/);
        return true;
      });
    } finally {
      await privateRepo.stop();
    }
  });

  it('chart packages that inflate past the render limit together are refused, nested or side by side', async () => {
    // Each package alone is under the limit; what they inflate to together is not.
    const pack = (dir: string, files: Record<string, Buffer | string>, out: string) => {
      const src = mkdtempSync(path.join(work, 'pack-'));
      for (const [rel, data] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(src, dir, rel)), { recursive: true });
        writeFileSync(path.join(src, dir, rel), data);
      }
      execFileSync('tar', ['czf', out, '-C', src, dir]);
      return readFileSync(out);
    };
    const filler = Buffer.alloc(1536 * 1024);
    const sub = (name: string) =>
      pack(
        name,
        { 'Chart.yaml': `apiVersion: v2\nname: ${name}\nversion: 0.1.0\n`, 'filler.bin': filler },
        path.join(work, `${name}-0.1.0.tgz`),
      );
    const nested = pack(
      'outer',
      {
        'Chart.yaml': 'apiVersion: v2\nname: outer\nversion: 0.1.0\n',
        'charts/a-0.1.0.tgz': sub('a'),
        'charts/b-0.1.0.tgz': sub('b'),
      },
      path.join(work, 'outer-0.1.0.tgz'),
    );
    const layouts: Array<Record<string, Buffer>> = [
      { 'a-0.1.0.tgz': sub('a'), 'b-0.1.0.tgz': sub('b'), 'c-0.1.0.tgz': sub('c') },
      { 'outer-0.1.0.tgz': nested, 'c-0.1.0.tgz': sub('c') },
    ];
    for (const charts of layouts) {
      const root = mkdtempSync(path.join(work, 'checkout-'));
      mkdirSync(path.join(root, 'app', 'charts'), { recursive: true });
      writeFileSync(
        path.join(root, 'app', 'Chart.yaml'),
        'apiVersion: v2\nname: app\nversion: 0.1.0\n',
      );
      for (const [file, data] of Object.entries(charts))
        writeFileSync(path.join(root, 'app', 'charts', file), data);
      await assert.rejects(
        render({
          root,
          app: appSpec({ name: 'web', namespace: 'web', path: 'app' }),
          helmBin: findBinary('helm'),
          limits: { maxRenderBytes: 4 * 1024 * 1024 },
        }),
        (err: unknown) => {
          assert.ok(err instanceof RenderError, String(err));
          assert.match(
            err.message,
            /^render app\/charts\/.*: the chart's packages inflate to more than 4 MiB in all \(--render-max-bytes\)$/,
          );
          return true;
        },
      );
    }
  });

  it('an index whose entries are not lists of versions is "not in the index", never a TypeError', async () => {
    for (const index of [
      'entries:\n  web: just a string\n',
      'entries:\n  web:\n    - null\n    - 7\n    - {version: 2.0.0, urls: [web-2.0.0.tgz]}\n',
      'entries:\n  web:\n    - {version: 1.0.0, urls: web-1.0.0.tgz}\n',
      'entries:\n  web:\n    - {version: 1.0.0, urls: [{a: b}]}\n',
      'entries: [web]\n',
      'just text\n',
    ]) {
      const url = await indexServer(index);
      await assert.rejects(fetchFrom(`${url}/charts`), (err: unknown) => {
        assert.ok(err instanceof ChartNotFoundError, `${index}: ${String(err)}`);
        assert.match(err.message, /^chart web 1\.0\.0 from .*: not in the repository's index/);
        return true;
      });
    }
  });

  it('an index entry whose digest is not text is refused, saying so', async () => {
    const url = await indexServer(
      'entries:\n  web:\n    - {version: 1.0.0, urls: [web-1.0.0.tgz], digest: [1, 2]}\n',
    );
    await assert.rejects(fetchFrom(`${url}/charts`), (err: unknown) => {
      assert.ok(err instanceof ChartNotFoundError, String(err));
      assert.match(err.message, /gives a digest that is not text$/);
      return true;
    });
  });

  it('a registry whose token service answers something other than a token', async () => {
    for (const body of ['<html>not json</html>', 'null', '{"token": 42}', '{}']) {
      const registry = await serve((req, res) => {
        if (req.url?.startsWith('/token')) return void res.writeHead(200).end(body);
        const realm = `http://${req.headers.host}/token`;
        res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="r"` }).end();
      });
      await assert.rejects(
        fetchChartArchive(
          {
            repository: `oci://${registry.slice('http://'.length)}/charts`,
            name: 'web',
            version: '1.0.0',
            plainHttp: true,
          },
          { maxBytes: 1024 * 1024, timeoutMs: 10_000 },
        ),
        (err: unknown) => {
          assert.ok(err instanceof ChartNotFoundError, `${body}: ${String(err)}`);
          assert.match(
            err.message,
            /^chart web 1\.0\.0 from .*: the registry's token service gave no token$/,
          );
          return true;
        },
      );
    }
  });

  it('a server that drips its answer a byte at a time fails at the timeout', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/yaml' });
      const timer = setInterval(() => res.write('#'), 20);
      res.on('close', () => clearInterval(timer));
    });
    await assert.rejects(fetchFrom(`${url}/charts`, { timeoutMs: 500 }), (err: unknown) => {
      assert.ok(err instanceof ChartUnreachableError, String(err));
      assert.match(err.message, /index\.yaml is unreachable \(no answer within 0\.5 s\)$/);
      return true;
    });
  });

  it('a gzip-encoded body is limited by what it inflates to, not by what was sent', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, '#'));
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip' }).end(bomb);
    });
    assert.ok(bomb.length < 256 * 1024);
    await assert.rejects(fetchFrom(`${url}/charts`, { maxBytes: 1024 * 1024 }), (err: unknown) => {
      assert.ok(err instanceof ChartNotFoundError, String(err));
      assert.match(err.message, /index\.yaml sent more than 1 MiB/);
      return true;
    });
  });

  it('a package listed on the same host under another scheme gets no credentials', async () => {
    // The package URL differs from the repository's only by its scheme: a repository reached
    // over HTTPS whose index lists http:// packages would otherwise send the password in clear.
    const sent: Array<{ url: string; authorization: boolean }> = [];
    const url = await serve((req, res) => {
      const host = req.headers.host ?? '';
      res
        .writeHead(200)
        .end(
          `entries:\n  web:\n    - {version: 1.0.0, urls: ["https://${host}/charts/web-1.0.0.tgz"]}\n`,
        );
    });
    await assert.rejects(
      fetchChartArchive(
        {
          repository: `${url}/charts`,
          name: 'web',
          version: '1.0.0',
          credentials: { username: 'reader', password: 's3cret-pass' },
        },
        {
          maxBytes: 1024 * 1024,
          timeoutMs: 10_000,
          http: {
            request: (r) => {
              sent.push({ url: r.url, authorization: r.headers?.['authorization'] !== undefined });
              return nodeHttp.request(r);
            },
          },
        },
      ),
      ChartUnreachableError,
    );
    assert.deepEqual(sent, [
      { url: `${url}/charts/index.yaml`, authorization: true },
      { url: `${url.replace('http:', 'https:')}/charts/web-1.0.0.tgz`, authorization: false },
    ]);
  });

  it('a registry whose token service is no http(s) URL fails saying so', async () => {
    for (const realm of ['not a url', 'file:///etc/passwd']) {
      const registry = await serve((_req, res) => {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}"` }).end();
      });
      await assert.rejects(
        fetchChartArchive(
          {
            repository: `oci://${registry.slice('http://'.length)}/charts`,
            name: 'web',
            version: '1.0.0',
            plainHttp: true,
          },
          { maxBytes: 1024 * 1024, timeoutMs: 10_000 },
        ),
        (err: unknown) => {
          assert.ok(err instanceof ChartNotFoundError, `${realm}: ${String(err)}`);
          assert.match(err.message, /token service ".*" is not an http\(s\) URL$/);
          return true;
        },
      );
    }
  });

  it('an HTTPS registry that sends the credentials to a plain-HTTP token service is refused', async () => {
    const tokenRequests: string[] = [];
    const tokens = await serve((req, res) => {
      tokenRequests.push(req.headers.authorization ?? '');
      res.writeHead(200).end('{"token": "t"}');
    });
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        path.join(work, 'tls.key'),
        '-out',
        path.join(work, 'tls.crt'),
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const cert = readFileSync(path.join(work, 'tls.crt'));
    const registry = createHttpsServer(
      { key: readFileSync(path.join(work, 'tls.key')), cert },
      (_req, res) => {
        res
          .writeHead(401, { 'www-authenticate': `Bearer realm="${tokens}/token",service="r"` })
          .end();
      },
    );
    servers.push(registry);
    await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve));
    const agent = new HttpsAgent({ ca: cert });
    await assert.rejects(
      fetchChartArchive(
        {
          repository: `oci://127.0.0.1:${(registry.address() as AddressInfo).port}/charts`,
          name: 'web',
          version: '1.0.0',
          credentials: { username: 'reader', password: 's3cret-pass' },
        },
        {
          maxBytes: 1024 * 1024,
          timeoutMs: 10_000,
          // Trusts the test's certificate; otherwise the agent's own client.
          http: {
            request: (r) =>
              nodeHttp.request({ ...r, ...(r.url.startsWith('https:') ? { agent } : {}) }),
          },
        },
      ),
      (err: unknown) => {
        assert.ok(err instanceof ChartNotFoundError, String(err));
        assert.match(err.message, /sends the credentials to a token service over plain HTTP/);
        assert.ok(!err.message.includes('s3cret-pass'), err.message);
        return true;
      },
    );
    assert.deepEqual(tokenRequests, [], 'the token service got nothing');
    agent.destroy();
  });

  it('a redirect to a file URL reads no file', async () => {
    const secretFile = path.join(work, 'index.yaml');
    writeFileSync(
      secretFile,
      `entries:\n  web:\n    - {version: 1.0.0, urls: ["http://127.0.0.1:1/${SECRET}.tgz"]}\n`,
    );
    const url = await serve((_req, res) => {
      res.writeHead(302, { location: `file://${secretFile}` }).end();
    });
    await assert.rejects(fetchFrom(`${url}/charts`), (err: unknown) => {
      assert.ok(err instanceof ChartUnreachableError, String(err));
      assert.match(err.message, /index\.yaml is unreachable/);
      assert.ok(!err.message.includes(SECRET), err.message);
      return true;
    });
  });
});
