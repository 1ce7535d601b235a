import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../model.ts';
import type { WatchEvent } from '../kube/index.ts';
import { KindWatch, type WatchSource } from './kind-watch.ts';
import { FakeClock, silentLogger } from '../../test/drift/fakes.ts';

const cm = (name: string, rv: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'a', resourceVersion: rv },
});

/**
 * A source scripted call by call: each list() takes the next answer of
 * `lists`; each watch() records its resourceVersion and runs the next script
 * of `watches` (emit events, then end or stay open until aborted).
 */
function scripted(
  lists: Array<Error | { items: KubeObject[]; resourceVersion: string }>,
  watches: Array<(emit: (e: WatchEvent) => void) => 'end' | 'open'>,
) {
  const calls: string[] = [];
  const source: WatchSource = {
    list: async () => {
      const next = lists.shift() ?? { items: [], resourceVersion: '1' };
      calls.push(next instanceof Error ? 'list:error' : `list:${next.resourceVersion}`);
      if (next instanceof Error) throw next;
      return next;
    },
    watch: async (_v, _k, options, onEvent) => {
      calls.push(`watch:${options.resourceVersion}`);
      const script = watches.shift() ?? (() => 'open' as const);
      if (script(onEvent) === 'end' || options.signal.aborted) return;
      await new Promise<void>((resolve) =>
        options.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
    },
  };
  return { source, calls };
}

function start(source: WatchSource, clock: FakeClock) {
  const events: string[] = [];
  const watch = new KindWatch({
    source,
    apiVersion: 'v1',
    kind: 'ConfigMap',
    clock,
    logger: silentLogger(),
    backoff: { initialMs: 1_000, jitter: 0 },
    onList: (items) => events.push(`list ${items.length}`),
    onEvent: (e) => events.push(`${e.type} ${e.object.metadata.name}`),
  });
  watch.start();
  return { watch, events };
}

describe('KindWatch', () => {
  it('lists, watches from the list, resumes from the last event after a server timeout', async () => {
    const clock = new FakeClock();
    const { source, calls } = scripted(
      [{ items: [cm('x', '5')], resourceVersion: '7' }],
      [
        (emit) => {
          emit({ type: 'MODIFIED', object: cm('x', '9') });
          emit({ type: 'BOOKMARK', object: cm('', '12') });
          return 'end';
        },
      ],
    );
    const { watch, events } = start(source, clock);
    await clock.advance(10);
    assert.deepEqual(calls, ['list:7', 'watch:7', 'watch:12']);
    assert.deepEqual(events, ['list 1', 'MODIFIED x'], 'bookmarks only move the resourceVersion');
    await watch.stop();
    assert.equal(clock.pending, 0);
  });

  it('re-lists at once on 410 Gone, and waits a backoff on errors', async () => {
    const clock = new FakeClock();
    const { source, calls } = scripted(
      [
        { items: [], resourceVersion: '1' },
        new Error('connection refused'),
        { items: [], resourceVersion: '30' },
      ],
      [
        (emit) => {
          emit({
            type: 'ERROR',
            object: { code: 410, reason: 'Expired' } as unknown as KubeObject,
          });
          return 'open';
        },
      ],
    );
    const { watch } = start(source, clock);
    await clock.advance(10);
    assert.deepEqual(calls, ['list:1', 'watch:1', 'list:error'], 're-listed without waiting');
    await clock.advance(1_500);
    assert.deepEqual(calls, ['list:1', 'watch:1', 'list:error'], 'backoff grew after the 410');
    await clock.advance(1_000);
    assert.deepEqual(calls, ['list:1', 'watch:1', 'list:error', 'list:30', 'watch:30']);
    await watch.stop();
    assert.equal(clock.pending, 0);
  });

  it('does not spin when the server ends every watch at once', async () => {
    const clock = new FakeClock();
    const { source, calls } = scripted(
      [{ items: [], resourceVersion: '1' }],
      [() => 'end', () => 'end', () => 'end'],
    );
    const { watch } = start(source, clock);
    await clock.advance(10);
    assert.deepEqual(calls, ['list:1', 'watch:1']);
    await clock.advance(1_000);
    assert.deepEqual(calls, ['list:1', 'watch:1', 'list:1', 'watch:1']);
    await watch.stop();
  });
});
