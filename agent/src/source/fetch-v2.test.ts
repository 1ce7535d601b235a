import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fetchRequest, FetchProtocolError, parseFetchResponse } from './fetch-v2.ts';

const text = new TextEncoder();
const pkt = (s: string | Uint8Array) => {
  const bytes = typeof s === 'string' ? text.encode(s) : s;
  const out = new Uint8Array(bytes.length + 4);
  out.set(text.encode((bytes.length + 4).toString(16).padStart(4, '0')));
  out.set(bytes, 4);
  return out;
};
const band = (n: number, s: string) => pkt(new Uint8Array([n, ...text.encode(s)]));
const join = (...parts: (Uint8Array | string)[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? text.encode(p) : p)));
const SHA = 'c'.repeat(40);

describe('fetch-v2', () => {
  it('asks for exactly one commit, shallow, without progress', () => {
    const body = Buffer.from(fetchRequest(SHA)).toString();
    assert.match(body, /^0012command=fetch\n/);
    assert.match(body, /0001/);
    for (const line of ['no-progress', 'ofs-delta', 'deepen 1', `want ${SHA}`, 'done'])
      assert.ok(body.includes(`${line}\n`), line);
    assert.ok(body.endsWith('0000'));
    assert.ok(!body.includes('have '), 'nothing is offered: the checkout is self-contained');
  });

  it('takes the pack from band 1 of the packfile section, skipping shallow-info and progress', () => {
    const bytes = join(
      pkt('shallow-info\n'),
      pkt(`shallow ${SHA}\n`),
      '0001',
      pkt('packfile\n'),
      band(2, 'Counting objects'),
      band(1, 'PACK'),
      band(1, '-rest'),
      '0000',
    );
    assert.equal(Buffer.from(parseFetchResponse(bytes)).toString(), 'PACK-rest');
  });

  it('refuses an ERR line, a band-3 error, an answer without a pack and a cut-off answer', () => {
    assert.throws(
      () => parseFetchResponse(join(pkt('ERR upload-pack: not our ref\n'), '0000')),
      (e) => e instanceof FetchProtocolError && /refused: upload-pack: not our ref/.test(e.message),
    );
    assert.throws(
      () => parseFetchResponse(join(pkt('packfile\n'), band(3, 'fatal: out of memory'), '0000')),
      /server failed: fatal: out of memory/,
    );
    assert.throws(() => parseFetchResponse(join(pkt('acknowledgments\n'), '0000')), /no pack/);
    assert.throws(() => parseFetchResponse(join(pkt('packfile\n'), band(1, 'PA'))), /cut short/);
    assert.throws(() => parseFetchResponse(text.encode('zzzz')), /malformed/);
  });
});
