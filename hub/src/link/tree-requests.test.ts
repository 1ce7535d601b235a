import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@driftless/common';
import { TreeResponse, type HubMessage, type TreeRequest } from '@driftless/proto';
import { DeadlineExceededError, RateLimitedError, UnavailableError } from '../errors.ts';
import { SessionRegistry, type Session } from './sessions.ts';
import { TreeRequests } from './tree-requests.ts';
import { ManualClock } from '../../test/manual-clock.ts';

const log = createLogger({ name: 'tree-requests-test', level: 'silent' });
const ask = { cluster: 'east', app: 'shop', deadlineMs: 1000, limits: {} as never };

/** A session that records what the hub sends down. */
function fakeSession(cluster: string, open = true): Session & { sent: TreeRequest[] } {
  const sent: TreeRequest[] = [];
  return {
    cluster,
    sent,
    send: (m: HubMessage) => {
      if (!open) return false;
      if (m.body?.$case === 'treeRequest') sent.push(m.body.value);
      return true;
    },
    close: () => undefined,
  };
}

function setup(connectedAnywhere = false) {
  const sessions = new SessionRegistry();
  const clock = new ManualClock();
  const trees = new TreeRequests({
    sessions,
    connectedAnywhere: () => Promise.resolve(connectedAnywhere),
    log,
    clock,
  });
  return { sessions, clock, trees };
}

describe('TreeRequests', () => {
  it('answers 429 beyond the reads one cluster may have in flight, and takes more once one ends', async () => {
    const { sessions, trees } = setup();
    const session = fakeSession('east');
    sessions.register(session);
    const asks = [trees.ask(ask), trees.ask(ask), trees.ask(ask), trees.ask(ask)];
    await assert.rejects(trees.ask(ask), RateLimitedError);
    assert.equal(session.sent.length, 4, 'the refused read never reached the agent');
    const first = session.sent[0]!;
    trees.answer('east', TreeResponse.create({ requestId: first.requestId, app: 'shop' }));
    await asks[0];
    const fifth = trees.ask(ask);
    assert.equal(session.sent.length, 5);
    for (const r of session.sent.slice(1)) {
      trees.answer('east', TreeResponse.create({ requestId: r.requestId, app: 'shop' }));
    }
    await Promise.all([...asks.slice(1), fifth]);
  });

  it("sends the request down the cluster's session and resolves with the agent's answer", async () => {
    const { sessions, trees } = setup();
    const session = fakeSession('east');
    sessions.register(session);
    const answer = trees.ask(ask);
    const [request] = session.sent;
    assert.equal(request?.app, 'shop');
    // An answer from another cluster with the same id is not taken.
    assert.equal(
      trees.answer('west', TreeResponse.create({ requestId: request.requestId })),
      false,
    );
    assert.equal(
      trees.answer('east', TreeResponse.create({ requestId: request.requestId, app: 'shop' })),
      true,
    );
    assert.equal((await answer).app, 'shop');
    // A second copy finds no request waiting.
    assert.equal(
      trees.answer('east', TreeResponse.create({ requestId: request.requestId })),
      false,
    );
  });

  it('fails with DeadlineExceededError when the agent does not answer in time', async () => {
    const { sessions, clock, trees } = setup();
    const session = fakeSession('east');
    sessions.register(session);
    const answer = trees.ask(ask);
    clock.advance(999);
    clock.advance(1);
    await assert.rejects(answer, (err: unknown) => {
      assert.ok(err instanceof DeadlineExceededError);
      assert.match(err.message, /the agent did not answer within 1000 ms/);
      return true;
    });
    // A late answer is dropped.
    assert.equal(
      trees.answer('east', TreeResponse.create({ requestId: session.sent[0]!.requestId })),
      false,
    );
  });

  it('fails with UnavailableError when the agent is not connected, or its stream is closed', async () => {
    const { sessions, trees } = setup();
    await assert.rejects(trees.ask(ask), (err: unknown) => {
      assert.ok(err instanceof UnavailableError);
      assert.equal(err.message, 'cluster east: agent not connected');
      return true;
    });
    sessions.register(fakeSession('east', false));
    await assert.rejects(trees.ask(ask), /cluster east: agent not connected/);
  });

  it('names the missing channel when another replica holds the stream and there is no NATS', async () => {
    const { trees } = setup(true);
    await assert.rejects(trees.ask(ask), (err: unknown) => {
      assert.ok(err instanceof UnavailableError);
      assert.match(err.message, /held by another hub replica, and this hub has no channel to it/);
      return true;
    });
  });
});
