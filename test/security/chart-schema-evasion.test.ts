/**
 * A values schema that points at a file of the agent's machine, hidden from the agent's
 * schema check but not from Helm: Helm drops a byte order mark before it parses a schema,
 * reads tar entries of any type as files, takes `\` as a separator, and parses PAX records by
 * their lengths. Each case first shows, with the real `helm`, that the chart really leaks the
 * file (Helm prints what the schema allows when the values do not match it), then that the
 * agent refuses to render it, naming the schema, without the file's content in the message.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { appSpec, render, RenderError, type AppSpec } from '@driftless/agent';
import { findBinary, helm, startChartRepo, type ChartRepo } from '@driftless/test';

const SECRET = `s3cr3t-${process.pid}-of-the-agent-machine`;

/** One entry of a hand-made tar archive. */
interface Entry {
  name: string;
  data: Buffer;
  /** Type flag; default '0' (a regular file). */
  type?: string;
  /** Records of a PAX header written before the entry. */
  pax?: Record<string, string>;
  /** The size field written in base 256, as GNU tar does for huge files. */
  base256Size?: boolean;
}

/** A USTAR header block. */
function header(name: string, size: number, type: string, base256Size = false): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  if (base256Size) {
    h[124] = 0x80;
    h.writeUInt32BE(size, 132);
  } else h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write(type, 156, 1, 'latin1');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

const pad = (data: Buffer) =>
  Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);

/** A PAX record: its length counts itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) length++;
  return `${length}${body}`;
}

/** A gzipped tar archive of `entries`. */
function tgz(entries: Entry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    if (e.pax) {
      const records = Buffer.from(
        Object.entries(e.pax)
          .map(([k, v]) => paxRecord(k, v))
          .join(''),
      );
      blocks.push(header('PaxHeader', records.length, 'x'), pad(records));
    }
    blocks.push(header(e.name, e.data.length, e.type ?? '0', e.base256Size), pad(e.data));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

describe('a values schema hidden from the schema check', () => {
  let work: string;
  let secretFile: string;
  before(() => {
    work = mkdtempSync(path.join(tmpdir(), 'driftless-schema-evasion-'));
    secretFile = path.join(work, 'secret.json');
    writeFileSync(secretFile, JSON.stringify({ type: 'string', enum: [SECRET] }));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  const leakySchema = () =>
    JSON.stringify({ type: 'object', properties: { greeting: { $ref: `file://${secretFile}` } } });

  /** The files of chart `sub`, as a package holds them, the schema given apart. */
  const subChart = (): Entry[] => [
    { name: 'sub/Chart.yaml', data: Buffer.from('apiVersion: v2\nname: sub\nversion: 0.1.0\n') },
    { name: 'sub/values.yaml', data: Buffer.from('greeting: hello\n') },
    {
      name: 'sub/templates/cm.yaml',
      data: Buffer.from('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sub\n'),
    },
  ];

  /** A checkout whose `app` chart holds `files` (paths below the chart). */
  function checkout(files: Record<string, string | Buffer>): string {
    const root = mkdtempSync(path.join(work, 'checkout-'));
    const chart = path.join(root, 'app');
    mkdirSync(path.join(chart, 'templates'), { recursive: true });
    mkdirSync(path.join(chart, 'charts'), { recursive: true });
    writeFileSync(path.join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: app\nversion: 0.1.0\n');
    writeFileSync(path.join(chart, 'values.yaml'), 'greeting: hello\n');
    for (const [rel, content] of Object.entries(files))
      writeFileSync(path.join(chart, rel), content);
    return root;
  }

  /** What `helm template` says of `chart` on its own: the premise of each case. */
  function helmSays(chart: string): string {
    const run = spawnSync(findBinary('helm'), ['template', 'web', chart], {
      env: { PATH: '', HOME: work },
    });
    return `${run.stdout.toString()}${run.stderr.toString()}`;
  }

  async function assertRefused(root: string, app: Partial<AppSpec>, schema: RegExp) {
    await assert.rejects(
      render({
        root,
        app: appSpec({ name: 'web', namespace: 'web', path: 'app', ...app }),
        helmBin: findBinary('helm'),
        charts: { cacheDir: mkdtempSync(path.join(work, 'cache-')) },
      }),
      (err: unknown) => {
        assert.ok(err instanceof RenderError, String(err));
        assert.match(err.message, schema);
        assert.ok(!err.message.includes(SECRET), err.message);
        return true;
      },
    );
  }

  const REF_REFUSED =
    /values\.schema\.json\)?: \$ref at \/properties\/greeting\/\$ref points outside the schema/;

  it('behind a byte order mark, in a chart folder of the repository', async () => {
    const root = checkout({
      'values.schema.json': Buffer.concat([
        Buffer.from([0xef, 0xbb, 0xbf]),
        Buffer.from(leakySchema()),
      ]),
    });
    assert.match(helmSays(path.join(root, 'app')), new RegExp(SECRET), 'helm reads the file');
    await assertRefused(root, {}, REF_REFUSED);
  });

  // Built when the case runs: the secret file exists only then.
  const packaged: Array<[string, () => Entry]> = [
    [
      'in an entry of a type tar readers do not know',
      () => ({ name: 'sub/values.schema.json', data: Buffer.from(leakySchema()), type: 'Z' }),
    ],
    [
      'under a name with backslashes',
      () => ({ name: 'sub\\values.schema.json', data: Buffer.from(leakySchema()) }),
    ],
    [
      'under a PAX header whose first record hides another path in its value',
      () => ({
        name: 'sub/values.schema.json',
        data: Buffer.from(leakySchema()),
        pax: { comment: `x\n${paxRecord('path', 'sub/templates/NOTES.txt').trimEnd()}` },
      }),
    ],
  ];
  for (const [name, entry] of packaged) {
    it(`${name}, in a subchart package of the repository`, async () => {
      const root = checkout({ 'charts/sub-0.1.0.tgz': tgz([...subChart(), entry()]) });
      assert.match(helmSays(path.join(root, 'app')), new RegExp(SECRET), 'helm reads the file');
      await assertRefused(root, {}, REF_REFUSED);
    });
  }

  it('after an entry whose size is written in base 256: the package is refused whole', async () => {
    const root = checkout({
      'charts/sub-0.1.0.tgz': tgz([
        { ...subChart()[0]!, base256Size: true },
        ...subChart().slice(1),
        { name: 'sub/values.schema.json', data: Buffer.from(leakySchema()) },
      ]),
    });
    assert.match(helmSays(path.join(root, 'app')), new RegExp(SECRET), 'helm reads the file');
    await assertRefused(root, {}, /a size in base 256; the agent checks every values schema/);
  });

  describe('in a package from a chart repository', () => {
    let repo: ChartRepo;
    before(async () => {
      repo = await startChartRepo();
    });
    after(() => repo?.stop());

    it('in an entry of a type tar readers do not know', async () => {
      writeFileSync(
        path.join(repo.dir, 'sub-0.1.0.tgz'),
        tgz([
          ...subChart(),
          { name: 'sub/values.schema.json', data: Buffer.from(leakySchema()), type: 'Z' },
        ]),
      );
      await helm(['repo', 'index', repo.dir, '--url', repo.url]);
      assert.match(
        helmSays(path.join(repo.dir, 'sub-0.1.0.tgz')),
        new RegExp(SECRET),
        'helm reads the file',
      );
      const root = mkdtempSync(path.join(work, 'checkout-'));
      mkdirSync(path.join(root, 'app'));
      await assertRefused(
        root,
        {
          helm: {
            releaseName: 'web',
            valuesFiles: [],
            values: {},
            chart: { repository: repo.url, name: 'sub', version: '0.1.0' },
          },
        },
        REF_REFUSED,
      );
    });
  });
});
