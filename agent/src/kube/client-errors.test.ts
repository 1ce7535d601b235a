import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classify, isAbort, TransientError } from '@driftless/common';
import { startFakeKubeApi, status, type FakeKubeApi } from '../../test-support/fake-kube-api.ts';
import { KubeApiError, objectError } from './client.ts';

const ref = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'a', name: 'x' };
const obj = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'a' } };
const isObjectPath = (path: string) => path.includes('/configmaps/');

/** What `apply` threw when the server answered with `answer`. */
async function applyError(api: FakeKubeApi, code: number, body: unknown): Promise<unknown> {
  api.handle((r) => (isObjectPath(r.path) ? { status: code, body } : undefined));
  try {
    await api.client.apply(obj, { fieldManager: 'driftless' });
  } catch (err) {
    return err;
  }
  assert.fail(`no error for HTTP ${code}`);
}

describe('KubeClient errors', () => {
  let api: FakeKubeApi;
  before(async () => {
    api = await startFakeKubeApi(undefined, { timeoutMs: 200 });
  });
  after(() => api.close());

  const cases: [number, string, 'transient' | 'terminal'][] = [
    [503, 'ServiceUnavailable', 'transient'],
    [429, 'TooManyRequests', 'transient'],
    [409, 'Conflict', 'transient'],
    [500, 'InternalError', 'transient'],
    [400, 'BadRequest', 'terminal'],
    [403, 'Forbidden', 'terminal'],
    [404, 'NotFound', 'terminal'],
    [422, 'Invalid', 'terminal'],
  ];
  for (const [code, reason, errorClass] of cases) {
    it(`turns HTTP ${code} into a ${errorClass} KubeApiError with status and reason`, async () => {
      const err = await applyError(api, code, status(code, reason, `it failed with ${code}`));
      assert.ok(err instanceof KubeApiError, String(err));
      assert.equal(err.statusCode, code);
      assert.equal(err.reason, reason);
      assert.equal(err.message, `${reason}: it failed with ${code}`);
      assert.equal(err.request, 'PATCH /api/v1/namespaces/a/configmaps/x');
      assert.equal(classify(err), errorClass);
      // Wrapped to name the object, the class is still the server's.
      assert.equal(classify(objectError('apply', ref, err)), errorClass);
    });
  }

  it('keeps the message short and free of value dumps, the full text for debug logs', async () => {
    const dump = `core.PodTemplateSpec{${'x'.repeat(4000)}}`;
    const server = `ConfigMap "x" is invalid: data: Invalid value: ${dump}: field is immutable`;
    const err = await applyError(
      api,
      422,
      status(422, 'Invalid', server, [
        {
          field: 'data',
          reason: 'FieldValueInvalid',
          message: `Invalid value: ${dump}: field is immutable`,
        },
      ]),
    );
    assert.ok(err instanceof KubeApiError);
    assert.equal(err.message, 'Invalid: data: field is immutable');
    assert.deepEqual(err.immutableFields, ['data']);
    assert.equal(err.serverMessage, server);
  });

  it('cuts an answer that is not a Status (a proxy page) to a readable length', async () => {
    api.handle((r) =>
      isObjectPath(r.path)
        ? {
            status: 502,
            raw: `<html>${'bad gateway '.repeat(200)}</html>`,
            contentType: 'text/html',
          }
        : undefined,
    );
    const err = await api.client.get(ref).catch((e: unknown) => e);
    assert.ok(err instanceof KubeApiError);
    assert.equal(err.statusCode, 502);
    assert.ok(err.message.startsWith('502: <html>bad gateway'), err.message);
    assert.ok(err.message.length <= 240, `${err.message.length} characters`);
    assert.equal(classify(err), 'transient');
  });

  it('lets a reset connection through as transient', async () => {
    api.handle((r, res) => {
      if (!isObjectPath(r.path)) return undefined;
      res.socket?.destroy();
      return 'handled';
    });
    const err = await api.client.get(ref).catch((e: unknown) => e);
    assert.equal((err as { code?: string }).code, 'ECONNRESET', String(err));
    assert.equal(classify(err), 'transient');
  });

  it('gives up on a server that does not answer with a transient timeout', async () => {
    api.handle((r) => (isObjectPath(r.path) ? 'handled' : undefined));
    const err = await api.client.get(ref).catch((e: unknown) => e);
    assert.ok(err instanceof TransientError, String(err));
    assert.match(err.message, /GET \/api\/v1\/namespaces\/a\/configmaps\/x: timed out/);
  });

  it('stops a request when its signal aborts, as an abort (not a failure)', async () => {
    const asked = Promise.withResolvers<void>();
    api.handle((r) => {
      if (!isObjectPath(r.path)) return undefined;
      asked.resolve();
      return 'handled';
    });
    const controller = new AbortController();
    const pending = api.client.get(ref, controller.signal).catch((e: unknown) => e);
    await asked.promise;
    controller.abort();
    const err = await pending;
    assert.equal((err as Error).name, 'AbortError');
    assert.ok(isAbort(err));
    assert.equal(classify(err), 'transient');
  });

  it('sends nothing for a signal already aborted', async () => {
    api.handle((r) => (isObjectPath(r.path) ? { body: {} } : undefined));
    await api.client.get(ref); // discovery is cached
    // Object requests only: a discovery refresh may still land in the background.
    const objectCalls = () => api.calls().filter((c) => isObjectPath(c.path)).length;
    const before = objectCalls();
    await assert.rejects(api.client.get(ref, AbortSignal.abort()), { name: 'AbortError' });
    assert.equal(objectCalls(), before);
  });
});
