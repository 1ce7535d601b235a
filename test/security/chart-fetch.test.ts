/**
 * A hostile or broken chart repository, served by real HTTP servers on
 * loopback: an endless index, a package that redirects to another host, a
 * server that never answers, a refused connection. Each fails with one
 * message naming the chart and what went wrong; credentials never leave the
 * repository's origin and nothing is read past the limit.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { ChartNotFoundError, ChartUnreachableError, fetchChartArchive } from '@driftless/agent';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

describe('fetching a chart from a hostile repository', () => {
  const servers: Server[] = [];
  after(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });

  async function serve(handler: Handler): Promise<string> {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  const fetchFrom = (repository: string, options: { maxBytes?: number; timeoutMs?: number } = {}) =>
    fetchChartArchive(
      {
        repository,
        name: 'web',
        version: '1.0.0',
        credentials: { username: 'reader', password: 's3cret-pass' },
      },
      { maxBytes: options.maxBytes ?? 1024 * 1024, timeoutMs: options.timeoutMs ?? 10_000 },
    );

  it('an endless index.yaml is cut off at the limit and its connection closed', async () => {
    let written = 0;
    let closed: () => void;
    const connectionClosed = new Promise<void>((resolve) => (closed = resolve));
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/yaml' });
      res.on('close', () => closed());
      const chunk = Buffer.alloc(64 * 1024, 'a');
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) written += chunk.length;
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    await assert.rejects(fetchFrom(`${url}/charts`, { maxBytes: 256 * 1024 }), (err: unknown) => {
      assert.ok(err instanceof ChartNotFoundError, String(err));
      assert.match(err.message, /^chart web 1\.0\.0 from .*index\.yaml sent more than 256 KiB/);
      return true;
    });
    await connectionClosed;
    assert.ok(written < 64 * 1024 * 1024, `the server could write ${written} bytes`);
  });

  it('a package on another origin gets no credentials; one on the same origin does', async () => {
    const seen: Array<{ host: string; path: string; authorization: string | undefined }> = [];
    const record: Handler = (req) =>
      seen.push({
        host: req.headers.host ?? '',
        path: req.url ?? '',
        authorization: req.headers.authorization,
      });
    const other = await serve((req, res) => {
      record(req, res);
      res.writeHead(200).end('not a chart');
    });
    const repo = await serve((req, res) => {
      record(req, res);
      if (req.url === '/charts/index.yaml') {
        res
          .writeHead(200)
          .end(
            `apiVersion: v1\nentries:\n  web:\n    - version: 1.0.0\n      urls: [web-1.0.0.tgz]\n`,
          );
      } else {
        // The package redirects off the repository's origin.
        res.writeHead(302, { location: `${other}/elsewhere/web-1.0.0.tgz` }).end();
      }
    });
    const archive = await fetchFrom(`${repo}/charts`);
    assert.equal(archive.toString(), 'not a chart');
    assert.deepEqual(
      seen.map((s) => [s.path, s.authorization !== undefined]),
      [
        ['/charts/index.yaml', true],
        ['/charts/web-1.0.0.tgz', true],
        ['/elsewhere/web-1.0.0.tgz', false],
      ],
    );
  });

  it('a server that never answers fails after the timeout, saying so', async () => {
    const url = await serve(() => undefined);
    await assert.rejects(fetchFrom(`${url}/charts`, { timeoutMs: 300 }), (err: unknown) => {
      assert.ok(err instanceof ChartUnreachableError, String(err));
      assert.match(err.message, /index\.yaml is unreachable \(no answer within 0\.3 s\)$/);
      return true;
    });
  });

  it('a refused connection and a server error are transient, without the password', async () => {
    const gone = await serve(() => undefined);
    const down = servers.pop();
    down?.close();
    await new Promise((resolve) => down?.once('close', resolve));
    const failing = await serve((_req, res) => res.writeHead(503).end());
    for (const [repository, reason] of [
      [`${gone}/charts`, /is unreachable \(ECONNREFUSED\)$/],
      [`http://reader:s3cret-pass@${failing.slice('http://'.length)}/charts`, /answered HTTP 503$/],
    ] as const) {
      await assert.rejects(fetchFrom(repository), (err: unknown) => {
        assert.ok(err instanceof ChartUnreachableError, String(err));
        assert.match(err.message, reason);
        assert.ok(!err.message.includes('s3cret-pass'), err.message);
        return true;
      });
    }
  });
});
