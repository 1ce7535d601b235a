/**
 * Nothing reported is lost (issue: "reports lost across a NATS outage"): the hub stores and
 * acks only a contiguous prefix of each agent's reports, on both transports, and the agent
 * keeps what is unacknowledged on its work dir. Real nats-server (killed with SIGKILL and
 * restarted on the same store), the real hub process, and the agent's link as a process.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { api, startHub, waitFor, type HubProcess } from './helpers.ts';
import {
  enrollmentToken,
  startLinkAgent,
  startRestartableNats,
  storedSyncIds,
  type LinkAgent,
  type RestartableNats,
} from './link-fixtures.ts';

const HUB_BIN = path.resolve(import.meta.dirname, '../../../hub/bin/driftless-hub.ts');

describe('no report is lost', { timeout: 300_000 }, () => {
  let nats: RestartableNats;
  let hub: HubProcess;
  let admin: string;
  let dataDir: string;
  const dirs: string[] = [];
  const agents: LinkAgent[] = [];
  const workDir = async () => {
    const d = await mkdtemp(path.join(os.tmpdir(), 'driftless-link-agent-'));
    dirs.push(d);
    return d;
  };
  const cluster = async (name: string) =>
    (await api(hub, admin, 'GET', `/api/v1/clusters/${name}`)).body as {
      lastAgentSeq: number;
      connected: boolean;
    };

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'driftless-link-hub-'));
    dirs.push(dataDir);
    const config = execFileSync(process.execPath, [HUB_BIN, 'nats-config', '--data-dir', dataDir], {
      encoding: 'utf8',
    });
    nats = await startRestartableNats(config);
    hub = await startHub({ dataDir, args: ['--nats-url', nats.url] });
    admin = hub.bootstrapToken!;
  });
  after(async () => {
    for (const a of agents) await a.kill();
    await hub?.stop();
    await nats?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('nats-server killed with SIGKILL and restarted mid-stream: every report stored once, in order', async () => {
    const name = 'nats-edge';
    const agent = startLinkAgent({
      hub,
      cluster: name,
      workDir: await workDir(),
      token: await enrollmentToken(hub, admin, name),
      natsUrl: nats.url,
    });
    agents.push(agent);
    await agent.waitState('connected');
    const ids = ['s1', 's2', 's3', 's4', 's5', 's6', 's7'];
    for (const id of ids.slice(0, 3)) agent.send(`sync ${id}`);
    await nats.kill();
    for (const id of ids.slice(3)) agent.send(`sync ${id}`);
    await nats.start();
    const stored = await waitFor(
      'all seven sync results at the hub',
      async () => {
        const s = await storedSyncIds(hub, admin, name);
        return ids.every((id) => s.has(id)) ? s : undefined;
      },
      90_000,
    ).catch(async (err: unknown) => {
      const s = await storedSyncIds(hub, admin, name);
      throw new Error(
        `${(err as Error).message}; stored: ${[...s.keys()].join(',')}; agent: ${agent.log().slice(-2000)}`,
      );
    });
    assert.deepEqual(
      [...stored.values()],
      ids.map(() => 1),
    );
    // One seq per report, none skipped and none reused: the hub's contiguous prefix is 7.
    assert.equal((await cluster(name)).lastAgentSeq, ids.length);
  });

  it('a burst over NATS goes into the stream as few messages, each report stored once, in order, across a hub restart', async () => {
    const name = 'nats-burst';
    const agent = startLinkAgent({
      hub,
      cluster: name,
      workDir: await workDir(),
      token: await enrollmentToken(hub, admin, name),
      natsUrl: nats.url,
    });
    agents.push(agent);
    await agent.waitState('connected');
    // The hub is down: the reports wait in the stream, as after a fleet-wide flush.
    await hub.kill();
    const before = await nats.reportMessages();
    agent.send('burst 60 b');
    await waitFor('the burst in the stream', async () => {
      const n = (await nats.reportMessages()) - before;
      return n > 0 ? n : undefined;
    });
    hub = await startHub({
      dataDir,
      grpcAddress: hub.grpc,
      args: ['--nats-url', nats.url],
    });
    const ids = Array.from({ length: 60 }, (_, i) => `b${i + 1}`);
    const stored = await waitFor(
      'the burst at the hub',
      async () => {
        const s = await storedSyncIds(hub, admin, name);
        return ids.every((id) => s.has(id)) ? s : undefined;
      },
      90_000,
    );
    assert.deepEqual(
      [...stored.values()],
      ids.map(() => 1),
    );
    assert.equal((await cluster(name)).lastAgentSeq, ids.length);
    // Written in one go, the reports share stream messages (one publish, delivery and ack each).
    const inStream = (await nats.reportMessages()) - before;
    assert.ok(inStream < ids.length / 4, `${inStream} stream messages for ${ids.length} reports`);
    await agent.waitState('connected');
  });

  it('an agent killed with reports queued while the hub is down delivers them after its restart', async () => {
    const name = 'grpc-edge';
    const dir = await workDir();
    const first = startLinkAgent({
      hub,
      cluster: name,
      workDir: dir,
      token: await enrollmentToken(hub, admin, name),
    });
    agents.push(first);
    await first.waitState('connected');
    first.send('sync before');
    await waitFor('the first report stored', async () =>
      (await storedSyncIds(hub, admin, name)).has('before') ? true : undefined,
    );
    // The hub goes down; the agent queues reports it cannot deliver, and is killed.
    await hub.kill();
    await first.waitState('backoff');
    const queued = ['q1', 'q2', 'q3', 'q4'];
    for (const id of queued) first.send(`sync ${id}`);
    const journal = path.join(dir, 'hub-outbox.json');
    await waitFor('the queued reports in the outbox journal', async () => {
      const text = await readFile(journal, 'utf8').catch(() => '');
      return (JSON.parse(text || '{"entries":[]}') as { entries: unknown[] }).entries.length ===
        queued.length
        ? true
        : undefined;
    });
    await first.kill();
    hub = await startHub({
      dataDir,
      grpcAddress: hub.grpc,
      args: ['--nats-url', nats.url],
    });
    const second = startLinkAgent({ hub, cluster: name, workDir: dir });
    agents.push(second);
    await second.waitState('connected');
    const stored = await waitFor('the queued reports at the hub', async () => {
      const s = await storedSyncIds(hub, admin, name);
      return queued.every((id) => s.has(id)) ? s : undefined;
    });
    assert.deepEqual(
      [...stored.entries()].sort(),
      [['before', 1], ...queued.map((id) => [id, 1] as [string, number])].sort(),
    );
    assert.equal((await cluster(name)).lastAgentSeq, 1 + queued.length);
  });
});
