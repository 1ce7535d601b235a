import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { createLogger } from '@driftless/common';
import { RateLimitedError } from '../errors.ts';
import { EventBus } from '../events.ts';
import { EventStreams } from './sse.ts';

/** A response whose reader takes nothing: every write stays queued. */
class StuckResponse extends EventEmitter {
  writableLength = 0;
  destroyed = false;
  frames: string[] = [];
  writeHead(): this {
    return this;
  }
  write(frame: string): boolean {
    this.frames.push(frame);
    this.writableLength += frame.length;
    return false;
  }
  end(): void {
    this.emit('close');
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

const log = createLogger({ name: 'test', level: 'silent' });
const res = () => new StuckResponse() as StuckResponse & ServerResponse;

describe('event streams', () => {
  it('drop a reader that falls behind by more than the buffer limit, and free its place', () => {
    const events = new EventBus();
    const streams = new EventStreams({
      events,
      log,
      limits: { maxBufferedBytes: 2000, maxStreamsPerToken: 1 },
    });
    const slow = res();
    streams.open(slow, 'at_1', '');
    for (let i = 0; i < 50 && !slow.destroyed; i++)
      events.publish({ type: 'app.updated', cluster: 'c', data: { i } });
    assert.ok(slow.destroyed, 'the slow reader is dropped');
    assert.ok(slow.writableLength <= 2000, `queued ${slow.writableLength} bytes at most`);
    assert.equal(streams.size, 0);
    streams.open(res(), 'at_1', ''); // the token's place is free again
    streams.close();
  });

  it('serialise each event once and filter by cluster', () => {
    const events = new EventBus();
    const streams = new EventStreams({ events, log });
    const all = res();
    const one = res();
    streams.open(all, 'at_1', '');
    streams.open(one, 'at_2', 'prod');
    events.publish({ type: 'app.updated', cluster: 'dev' });
    events.publish({ type: 'app.updated', cluster: 'prod' });
    assert.equal(all.frames.filter((f) => f.startsWith('id:')).length, 2);
    assert.deepEqual(
      one.frames.filter((f) => f.startsWith('id:')).map((f) => /"cluster":"(\w+)"/.exec(f)?.[1]),
      ['prod'],
    );
    streams.close();
  });

  it('refuse streams over the per-token and total limits with RateLimitedError', () => {
    const streams = new EventStreams({
      events: new EventBus(),
      log,
      limits: { maxStreams: 2, maxStreamsPerToken: 1 },
    });
    streams.open(res(), 'at_1', '');
    assert.throws(() => streams.open(res(), 'at_1', ''), RateLimitedError);
    streams.open(res(), 'at_2', '');
    assert.throws(() => streams.open(res(), 'at_3', ''), /--sse-max-streams/);
    streams.close();
  });
});
