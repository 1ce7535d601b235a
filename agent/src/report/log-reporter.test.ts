import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '@driftless/common';
import { syncReport as sync } from '../../test/reports.ts';
import { LogReporter } from './report.ts';

describe('LogReporter', () => {
  it('logs the health a sync left and what it left undone, a degraded result as a warning', () => {
    const lines: { level: string; msg: string }[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as { level: string; msg: string });
        done();
      },
    });
    const r = new LogReporter(createLogger({ name: 't', level: 'info', destination }));
    r.syncResult(sync({ notes: ['2 object(s) Git no longer declares not pruned'] }));
    r.syncResult(sync({ health: 'Degraded' }));
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg]),
      [
        [
          'info',
          'sync web@aaaaaaa: succeeded, health Healthy; 2 object(s) Git no longer declares not pruned',
        ],
        ['warn', 'sync web@aaaaaaa: succeeded, health Degraded'],
      ],
    );
  });
});
