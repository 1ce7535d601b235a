/**
 * The `pattern` of a CRD in the repository, against a real API server. The
 * new-Namespace check judges custom resources by their CRD's schema on the
 * agent; a pattern is the repository's, so it may be written to make a
 * backtracking matcher run for hours (`^(a+)+$`), and Go's regular
 * expressions take characters JavaScript's do not (`.` takes a carriage
 * return, `\S` a no-break space). For each pattern and value: the check
 * answers, and never refuses what the server takes; where it says the object
 * passes, the server takes it too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  judgeCustomResource,
  KubeApiError,
  KubeClient,
  servedCrd,
  type KubeObject,
} from '@driftless/agent';
import { startCluster, waitFor, type Cluster } from '@driftless/test';
import { exampleCrd } from '../integration/agent/crd-fixture.ts';

const NAMESPACE = 'exists';

/** Field name → pattern. */
const PATTERNS: Record<string, string> = {
  nested: '^(a+)+$',
  polynomial: '^a*a*a*a*a*a*a*a*b$',
  dot: '^a.b$',
  nonSpace: '^\\S+$',
  space: '^a\\sb$',
  dns: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
  bounded: '^[a-z]{2,5}$',
  alternation: '^(Always|Never|IfNotPresent)$',
  unanchored: 'x[0-9]+',
  escapes: '^[\\w.-]+@[\\w-]+\\.[a-z]{2,}$',
  literalBrace: '^a{,3}$',
  classEdge: '^[]a-]+$',
  optionalGroup: '^v?[0-9]+(\\.[0-9]+){0,2}(-[a-z]+)?$',
  unicode: '^[à-ÿ]+$',
  dollarNewline: '^abc$',
  posix: '^[[:alpha:]]+$',
  flags: '(?i)^abc$',
};

/** Field → values tried (each on its own object). */
const VALUES: Record<string, string[]> = {
  nested: [`${'a'.repeat(64)}!`, 'aaaa', ''],
  polynomial: [`${'a'.repeat(3000)}`, 'aab'],
  dot: ['a\rb', 'a\u2028b', 'a\nb', 'axb', 'ab'],
  nonSpace: ['a\u00a0b', 'a\u000bb', 'a b', 'ab'],
  space: ['a\u00a0b', 'a\u000bb', 'a\tb', 'a b'],
  dns: ['web.example.com', `${'a.'.repeat(3000)}-`, 'Web', '-a', 'a-'],
  bounded: ['ab', 'abcde', 'abcdef', 'a', 'aB'],
  alternation: ['Always', 'always', 'AlwaysNever'],
  unanchored: ['before x12 after', 'x', 'y1'],
  escapes: ['a.b-c@host-1.io', 'a@b.c', 'a b@c.de'],
  literalBrace: ['a{,3}', 'aaa'],
  classEdge: ['a]-', 'b'],
  optionalGroup: ['v1.2.3', '1', '1.2.3.4', 'v1-rc', 'v1.'],
  unicode: ['éà', 'e'],
  dollarNewline: ['abc\n', 'abc'],
  posix: ['abc', 'a1'],
  flags: ['ABC', 'abd'],
};

const CRD = exampleCrd({
  plural: 'patterns',
  kind: 'Pattern',
  spec: {
    type: 'object',
    properties: Object.fromEntries(
      Object.entries(PATTERNS).map(([k, pattern]) => [k, { type: 'string', pattern }]),
    ),
  },
});

describe('CRD patterns from the repository, judged on the agent', () => {
  let cluster: Cluster;
  let client: KubeClient;

  before(async () => {
    cluster = await startCluster();
    client = await KubeClient.fromKubeConfig(cluster.kubeConfig);
    await client.apply(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } },
      { fieldManager: 'test' },
    );
    await client.apply(CRD, { fieldManager: 'test' });
    await waitFor(
      'the Pattern CRD to be served',
      async () => Boolean(await client.resource('example.com/v1', 'Pattern')),
      { timeoutMs: 30_000, everyMs: 100 },
    );
  });
  after(async () => {
    client?.close();
    await cluster?.stop();
  });

  /** The server's verdict: true when it takes the object. */
  const serverTakes = async (obj: KubeObject): Promise<boolean> => {
    try {
      await client.apply(obj, { fieldManager: 'test', dryRun: true });
      return true;
    } catch (err) {
      assert.ok(err instanceof KubeApiError, String(err));
      assert.equal(err.statusCode, 422, err.message);
      return false;
    }
  };

  it('answers for every pattern, refuses nothing the server takes, and passes nothing it refuses', async () => {
    const crd = await servedCrd(client, 'example.com', 'patterns');
    assert.ok(crd);
    const wrong: string[] = [];
    let refused = 0;
    for (const [field, values] of Object.entries(VALUES)) {
      for (const [i, value] of values.entries()) {
        const obj: KubeObject = {
          apiVersion: 'example.com/v1',
          kind: 'Pattern',
          metadata: { name: `${field.toLowerCase()}-${i}`, namespace: NAMESPACE },
          spec: { [field]: value },
        };
        const verdict = judgeCustomResource(obj, crd).verdict;
        const takes = await serverTakes(obj);
        const shown = `${field} ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
        if (verdict === 'refused') refused++;
        if (verdict === 'refused' && takes) wrong.push(`${shown}: refused, the server takes it`);
        if (verdict === 'passes' && !takes) wrong.push(`${shown}: passes, the server refuses it`);
      }
    }
    assert.deepEqual(wrong, []);
    // The check must have judged patterns, or this proves nothing.
    assert.ok(refused >= 15, `${refused} refused`);
  });
});
