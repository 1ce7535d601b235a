/**
 * The files of a chart package's tar archive, read the way Helm reads them: Go's archive/tar
 * (USTAR, PAX and GNU headers) and then Helm's loader, which takes every entry that is not a
 * folder or a PAX header as a file, whatever its type, and names it with `\` or `/` as
 * separator, cleaned. A check of the package is only worth something if it sees what Helm
 * sees, so whatever this reader cannot follow exactly as Go does (sizes in base 256, sparse
 * files, a malformed PAX record) is refused rather than skipped: a reader that lost its place
 * would pass over the entries behind it.
 */
import path from 'node:path';

/** One file of an archive as Helm loads it. */
export interface TarFile {
  /**
   * Every name the entry could go by (the GNU long name, the PAX path, the header's name with
   * and without its prefix), each with `/` separators: a check looks at all of them.
   */
  names: string[];
  /** The entry's data (empty for links and devices, as Helm reads them). */
  data: Buffer;
}

/** An archive this reader cannot read exactly as Go's archive/tar does. */
export class TarFormatError extends Error {
  override name = 'TarFormatError';
}

const BLOCK = 512;
/** Types Go reads no data for, whatever the header's size says. */
const HEADER_ONLY = new Set(['1', '2', '3', '4', '5', '6']);

/** The files of `tar` (already inflated). Throws {@link TarFormatError}. */
export function* tarFiles(tar: Buffer): Generator<TarFile> {
  let offset = 0;
  let longName: string | undefined;
  let pax: Map<string, string> | undefined;
  while (offset + BLOCK <= tar.length) {
    const header = tar.subarray(offset, offset + BLOCK);
    // End of archive (Go wants a second zero block, else fails: either way nothing follows).
    if (header.every((b) => b === 0)) return;
    let type = String.fromCharCode(header[156] ?? 0);
    const ownSize = octal(header.subarray(124, 136), 'size');
    const name = headerName(header);
    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      const data = tar.subarray(offset + BLOCK, offset + BLOCK + ownSize);
      offset += BLOCK + padded(ownSize);
      if (type === 'x') pax = paxRecords(data);
      else if (type === 'L') longName = cString(data);
      // 'g' (global PAX, which Helm skips) and 'K' (long link name) name no file.
      continue;
    }
    if (type === 'S') throw new TarFormatError('sparse files are not read');
    let size = ownSize;
    const paxSize = pax?.get('size');
    if (paxSize !== undefined) {
      if (!/^\d+$/.test(paxSize)) throw new TarFormatError('a PAX size that is not a number');
      size = Number(paxSize);
    }
    const names = [longName, pax?.get('path'), ...name].filter(
      (n): n is string => n !== undefined && n !== '',
    );
    longName = undefined;
    pax = undefined;
    // Go's old "regular file" type names a folder when the name ends with a slash.
    const first = names[0] ?? '';
    if (type === '\0') type = first.endsWith('/') ? '5' : '0';
    const length = HEADER_ONLY.has(type) ? 0 : size;
    const data = tar.subarray(offset + BLOCK, offset + BLOCK + length);
    offset += BLOCK + padded(length);
    if (type === '5') continue;
    yield { names: names.map((n) => n.replaceAll('\\', '/')), data };
  }
}

/** The last component of a name as Helm cleans it (`a/b/./x.json/` is `x.json`). */
export function baseName(name: string): string {
  return path.posix.basename(path.posix.normalize(name));
}

const padded = (size: number) => Math.ceil(size / BLOCK) * BLOCK;

/** A NUL-terminated string, as Go's parser reads header fields. */
function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end === -1 ? bytes.length : end).toString('utf8');
}

/** An octal number field; base-256 (for sizes of 8 GiB and more) is refused. */
function octal(field: Buffer, what: string): number {
  if (((field[0] ?? 0) & 0x80) !== 0) throw new TarFormatError(`a ${what} in base 256`);
  const text = field.toString('latin1').replace(/^[ \0]+|[ \0]+$/g, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`a ${what} that is not octal`);
  return parseInt(text, 8);
}

/**
 * The names a header may give: its name field with the USTAR (or star) prefix when the
 * format has one, and without. Go joins them only for those formats; both are checked.
 */
function headerName(header: Buffer): string[] {
  const name = cString(header.subarray(0, 100));
  const magic = header.subarray(257, 263).toString('latin1');
  const version = header.subarray(263, 265).toString('latin1');
  if (magic !== 'ustar\0' || version !== '00') return [name];
  const star = header.subarray(508, 512).toString('latin1') === 'tar\0';
  const prefix = cString(header.subarray(345, star ? 476 : 500));
  return prefix ? [`${prefix}/${name}`, name] : [name];
}

/**
 * The records of a PAX header, parsed by their lengths as Go does (a value may hold a
 * newline, so a search for `path=` could be misled). GNU sparse records are refused.
 */
function paxRecords(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let rest = data;
  while (rest.length > 0) {
    const space = rest.indexOf(0x20);
    const digits = space > 0 ? rest.subarray(0, space).toString('latin1') : '';
    const length = /^\d+$/.test(digits) ? Number(digits) : NaN;
    if (!(length >= 5 && length <= rest.length) || space + 1 >= length - 1)
      throw new TarFormatError('a malformed PAX record');
    const record = rest.subarray(space + 1, length - 1);
    if (rest[length - 1] !== 0x0a) throw new TarFormatError('a malformed PAX record');
    const eq = record.indexOf(0x3d);
    if (eq === -1) throw new TarFormatError('a malformed PAX record');
    const key = record.subarray(0, eq).toString('utf8');
    if (key.startsWith('GNU.sparse.')) throw new TarFormatError('sparse files are not read');
    records.set(key, record.subarray(eq + 1).toString('utf8'));
    rest = rest.subarray(length);
  }
  return records;
}
