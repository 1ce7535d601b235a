import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LedgerEpisode } from '../store/index.ts';
import { csvCell, csvLine, csvValues } from './csv.ts';
import { detectMs, healMs } from './ledger.ts';
import { resolveLedgerQuery } from './query.ts';
import { distribution, histogram, quantile } from './stats.ts';

const episode = (over: Partial<LedgerEpisode> = {}): LedgerEpisode => ({
  cluster: 'prod',
  driftId: 'd1',
  app: 'web',
  objectRef: 'apps/v1 Deployment web/web',
  kind: 'Deployment',
  type: 'modified',
  changedBy: 'kubectl-edit',
  paths: ['.spec.replicas'],
  detectedMs: 10_000,
  changedMs: 9_000,
  changedSource: 'managed-fields',
  healed: true,
  healedMs: 10_400,
  closedBy: 'heal',
  fought: false,
  ...over,
});

describe('ledger statistics', () => {
  it('interpolates percentiles between the closest ranks', () => {
    assert.equal(quantile([], 0.5), undefined);
    assert.equal(quantile([7], 0.9), 7);
    assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
    assert.equal(quantile([10, 20, 30, 40, 50], 0.9), 46);
    assert.deepEqual(distribution([50, 10, 40, 20, 30]), { count: 5, medianMs: 30, p90Ms: 46 });
    assert.deepEqual(distribution([]), { count: 0, medianMs: null, p90Ms: null });
  });

  it('counts durations into half-open buckets, the last one without bound', () => {
    const b = histogram([0, 99, 100, 999_999_999], [100, 1000]);
    assert.deepEqual(
      b.map((x) => [x.label, x.minMs, x.maxMs, x.count]),
      [
        ['< 100 ms', 0, 100, 2],
        ['100 ms – 1 s', 100, 1000, 1],
        ['≥ 1 s', 1000, null, 1],
      ],
    );
  });

  it('measures detection from the change and healing from detection; fights have neither', () => {
    assert.equal(detectMs(episode()), 1000);
    assert.equal(healMs(episode()), 400);
    assert.equal(detectMs(episode({ changedMs: 0 })), undefined, 'unknown change time');
    assert.equal(detectMs(episode({ changedMs: 10_500 })), 0, 'clocks apart: never negative');
    assert.equal(healMs(episode({ closedBy: 'sync' })), undefined, 'a sync is not a heal');
    assert.equal(healMs(episode({ healed: false, healedMs: 0, closedBy: '' })), undefined);
    assert.equal(healMs(episode({ fought: true })), undefined);
    assert.equal(detectMs(episode({ fought: true })), undefined);
  });
});

describe('ledger CSV', () => {
  it('quotes commas, quotes and line breaks, and neutralises formulas', () => {
    assert.equal(csvCell('plain'), 'plain');
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell('two\nlines'), '"two\nlines"');
    for (const f of ['=1+1', '+1', '-1', '@SUM(A1)', '\tx', '\rx'])
      assert.ok(csvCell(f).replace(/^"/, '').startsWith(`'`), JSON.stringify(f));
    assert.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
    assert.equal(csvLine(['a', 'b,c']), 'a,"b,c"\r\n');
  });

  it('writes one row per episode: open ones, fights and unknown change times', () => {
    assert.deepEqual(csvValues(episode()).slice(6, 13), [
      '1970-01-01T00:00:09.000Z',
      'managed-fields',
      '1970-01-01T00:00:10.000Z',
      '1.000',
      '1970-01-01T00:00:10.400Z',
      'heal',
      '0.400',
    ]);
    const open = csvValues(
      episode({ healed: false, healedMs: 0, closedBy: '', changedMs: 0, fought: true }),
    );
    assert.deepEqual(open.slice(6, 14), [
      '',
      '',
      '1970-01-01T00:00:10.000Z',
      '',
      '',
      'open',
      '',
      'yes',
    ]);
  });
});

describe('ledger window', () => {
  const now = Date.parse('2026-11-30T12:00:00Z');
  it('defaults to the 30 days before now and reads dates as UTC midnight', () => {
    const q = resolveLedgerQuery({}, now);
    assert.equal(q.toMs - q.fromMs, 30 * 86_400_000);
    assert.equal(q.toMs, now);
    const d = resolveLedgerQuery({ from: '2026-11-01', to: '2026-11-02T06:00:00+02:00' }, now);
    assert.equal(new Date(d.fromMs).toISOString(), '2026-11-01T00:00:00.000Z');
    assert.equal(new Date(d.toMs).toISOString(), '2026-11-02T04:00:00.000Z');
  });
  it('refuses times without a zone, reversed windows and blank filters mean none', () => {
    assert.throws(() => resolveLedgerQuery({ from: '2026-11-01T10:00' }, now), /ISO 8601/);
    // Days a month does not have are refused, not rolled over into the next month.
    for (const day of ['2026-02-31', '2026-11-31T10:00:00Z', '2026-02-29'])
      assert.throws(() => resolveLedgerQuery({ from: day }, now), /from "20.*ISO 8601/);
    assert.equal(
      new Date(resolveLedgerQuery({ from: '2028-02-29' }, Date.parse('2028-03-01')).fromMs)
        .toISOString()
        .slice(0, 10),
      '2028-02-29',
    );
    assert.throws(
      () => resolveLedgerQuery({ from: '2026-11-02', to: '2026-11-01' }, now),
      /before/,
    );
    assert.equal(resolveLedgerQuery({ manager: '  ' }, now).manager, undefined);
  });
});
