/**
 * The Git source against a hostile Git server that never stops answering: the
 * agent reads at most --git-max-fetch-bytes per fetch, fails with one clear
 * error, and keeps the last good checkout in force.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GitResponseTooLargeError, GitSource } from '@driftless/agent';
import { DEFAULT_GIT_USER, startGitServer, type GitRepo, type GitServer } from '@driftless/test';

const LIMIT = 1024 * 1024;

/** Writes 64 KiB chunks until the client goes away; resolves with the bytes sent. */
function endless(req: IncomingMessage, res: ServerResponse, contentType: string): Promise<number> {
  return new Promise((resolve) => {
    let sent = 0;
    const chunk = Buffer.alloc(64 * 1024, '0030'.repeat(16));
    res.writeHead(200, { 'content-type': contentType });
    const pump = () => {
      while (!res.destroyed && res.write(chunk)) sent += chunk.length;
      if (res.destroyed) resolve(sent);
    };
    res.on('drain', pump);
    res.on('close', () => resolve(sent));
    req.resume();
    pump();
  });
}

describe('Git source against a server that streams without end', () => {
  let hostile: Server;
  let url: string;
  /** proxy: pass everything to the real server; refs: endless answers; pack: endless packs only. */
  let mode: 'proxy' | 'refs' | 'pack' = 'proxy';
  const cut: Promise<number>[] = [];
  let git: GitServer;
  let repo: GitRepo;

  before(async () => {
    git = await startGitServer();
    repo = await git.createRepo('fleet');
    await repo.commit({ 'a.yaml': 'a: 1\n' }, 'first');
    const upstream = new URL(repo.url);
    hostile = createServer((req, res) => {
      const body: Buffer[] = [];
      req.on('data', (c: Buffer) => body.push(c));
      req.on('end', () => {
        const payload = Buffer.concat(body);
        const text = payload.toString('latin1');
        const isPack = req.method === 'POST' && !text.includes('command=ls-refs');
        if (mode === 'refs' || (mode === 'pack' && isPack)) {
          cut.push(endless(req, res, 'application/x-git-upload-pack-result'));
          return;
        }
        void forward(req, payload, new URL(req.url ?? '/', upstream), res);
      });
    });
    await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
    const a = hostile.address();
    url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}${upstream.pathname}`;
  });
  after(async () => {
    hostile?.closeAllConnections();
    hostile?.close();
    await git?.stop();
  });

  it('an endless answer to the head lookup fails with a clear error after the limit', async () => {
    mode = 'refs';
    const dir = mkdtempSync(path.join(tmpdir(), 'driftless-source-limit-'));
    try {
      const source = new GitSource({ url, branch: repo.branch, dir, maxFetchBytes: LIMIT });
      await assert.rejects(source.sync(), (err: unknown) => {
        assert.ok(err instanceof GitResponseTooLargeError, String(err));
        assert.match(err.message, /more than 1 MiB for one fetch.*--git-max-fetch-bytes/);
        return true;
      });
      const sent = await cut[cut.length - 1];
      // The agent hung up: the server could not push much more than the limit and socket buffers.
      assert.ok(sent !== undefined && sent < 64 * LIMIT, `server sent ${sent} bytes`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an endless pack fails the fetch and keeps the last good checkout in force', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'driftless-source-limit-'));
    try {
      mode = 'proxy';
      const source = new GitSource({
        url,
        branch: repo.branch,
        dir,
        auth: DEFAULT_GIT_USER,
        maxFetchBytes: LIMIT,
      });
      const good = await source.sync();
      assert.equal(good.revision, await repo.head());
      await repo.commit({ 'b.yaml': 'b: 1\n' }, 'second');
      mode = 'pack';
      const after = await source.sync();
      assert.equal(after.fromCache, true);
      assert.equal(after.revision, good.revision);
      assert.ok(after.error instanceof GitResponseTooLargeError, String(after.error));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Passes one request on to the real Git server and its answer back. */
async function forward(req: IncomingMessage, body: Buffer, target: URL, res: ServerResponse) {
  const headers: Record<string, string> = {};
  for (const name of ['authorization', 'content-type', 'git-protocol', 'accept']) {
    const v = req.headers[name];
    if (typeof v === 'string') headers[name] = v;
  }
  const answer = await fetch(target, {
    method: req.method ?? 'GET',
    headers,
    ...(req.method === 'POST' ? { body } : {}),
  });
  res.writeHead(answer.status, Object.fromEntries(answer.headers));
  res.end(Buffer.from(await answer.arrayBuffer()));
}
