/**
 * How large the objects of a fetched pack become, checked before anything inflates them for
 * keeps. Git compresses every object: a pack of a few hundred kilobytes can hold a file of
 * gigabytes of zeros, and indexing the pack inflates each object whole in memory (several
 * times over), which would end the agent at its memory limit on every retry. Each object is
 * inflated here once, never past the limit, and a delta's declared result is held to it too.
 */
import { inflateSync } from 'node:zlib';
import type { HttpClient } from 'isomorphic-git';
import { UnsafeTreeError } from './errors.ts';
import { concat } from './upload-pack.ts';

/** Pack object types (Git's pack format): 6 and 7 are deltas against another object. */
const OFS_DELTA = 6;
const REF_DELTA = 7;

/**
 * Throws {@link UnsafeTreeError} when an object of `pack` inflates (or, for a delta, would
 * rebuild) to more than `maxObjectBytes`, or when the pack cannot be read.
 */
export function checkPackObjects(pack: Uint8Array, maxObjectBytes: number): void {
  const buf = Buffer.from(pack.buffer, pack.byteOffset, pack.byteLength);
  const malformed = () => new UnsafeTreeError('the pack the server sent is malformed');
  const tooLarge = (bytes: number) =>
    new UnsafeTreeError(
      `the commit holds a file of ${formatMiB(bytes)} MiB, over the ${formatMiB(maxObjectBytes)} MiB one file may be (an eighth of --git-max-fetch-bytes)`,
    );
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'PACK') throw malformed();
  const count = buf.readUInt32BE(8);
  let at = 12;
  const next = (): number => {
    const byte = buf[at++];
    if (byte === undefined) throw malformed();
    return byte;
  };
  for (let i = 0; i < count; i++) {
    let byte = next();
    const type = (byte >> 4) & 7;
    let size = byte & 0x0f;
    for (let shift = 4; byte & 0x80; shift += 7) {
      byte = next();
      size += (byte & 0x7f) * 2 ** shift;
    }
    if (type === OFS_DELTA) {
      do byte = next();
      while (byte & 0x80);
    } else if (type === REF_DELTA) {
      at += 20;
    } else if (type < 1 || type > 4) {
      throw malformed();
    }
    if (size > maxObjectBytes) throw tooLarge(size);
    let data: Buffer;
    let consumed: number;
    try {
      // One byte of room more than declared: an object that inflates past its size is malformed.
      const out = inflateSync(buf.subarray(at), {
        info: true,
        maxOutputLength: size + 1,
      }) as unknown as {
        buffer: Buffer;
        engine: { bytesWritten: number };
      };
      data = out.buffer;
      consumed = out.engine.bytesWritten;
    } catch {
      throw malformed();
    }
    if (data.length !== size || consumed <= 0) throw malformed();
    at += consumed;
    if (type === OFS_DELTA || type === REF_DELTA) {
      // A delta starts with the sizes of its base and of what it rebuilds.
      let pos = 0;
      const varint = (): number => {
        let value = 0;
        for (let shift = 0; ; shift += 7) {
          const b = data[pos++];
          if (b === undefined) throw malformed();
          value += (b & 0x7f) * 2 ** shift;
          if (!(b & 0x80)) return value;
        }
      };
      varint();
      const result = varint();
      if (result > maxObjectBytes) throw tooLarge(result);
    }
  }
}

const formatMiB = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

/**
 * The pack inside a protocol v0/v1 `git-upload-pack` answer (what isomorphic-git's clone
 * reads): the band-1 data of its side-band lines, or what follows the protocol lines when the
 * server sends the pack bare. Undefined when no pack is found (the clone reports that).
 */
export function packOfUploadPackAnswer(bytes: Uint8Array): Uint8Array | undefined {
  const parts: Uint8Array[] = [];
  let at = 0;
  while (at + 4 <= bytes.length) {
    const head = Buffer.from(bytes.subarray(at, at + 4)).toString('latin1');
    if (head === 'PACK') return bytes.subarray(at);
    if (!/^[0-9a-f]{4}$/.test(head)) break;
    const length = parseInt(head, 16);
    if (length === 0) {
      at += 4; // flush
      continue;
    }
    if (length < 4 || at + length > bytes.length) break;
    const payload = bytes.subarray(at + 4, at + length);
    at += length;
    if (payload[0] === 1) parts.push(payload.subarray(1));
  }
  return parts.length > 0 ? concat(parts) : undefined;
}

/**
 * `http` with every `git-upload-pack` answer read whole (the fetch limit still applies) and
 * its pack checked by {@link checkPackObjects} before the caller (isomorphic-git's clone)
 * inflates anything.
 */
export function checkingUploadPacks(http: HttpClient, maxObjectBytes: number): HttpClient {
  return {
    request: async (req) => {
      const res = await http.request(req);
      if (req.method !== 'POST' || !req.url.endsWith('/git-upload-pack') || !res.body) return res;
      const chunks: Uint8Array[] = [];
      for await (const chunk of res.body) chunks.push(chunk);
      const body = concat(chunks);
      const pack = packOfUploadPackAnswer(body);
      if (pack) checkPackObjects(pack, maxObjectBytes);
      return {
        ...res,
        body: (async function* () {
          yield body;
        })(),
      };
    },
  };
}
