/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument --
   The OpenAPI document is JSON checked by the validator and the assertions. */
// The hub serves an OpenAPI 3 document generated from its route schemas: it is valid by a
// real OpenAPI validator, lists every endpoint docs/api.md documents, and says which need a token.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { api, startHubProcess, type HubProcess } from './helpers.ts';

const API_DOC = resolve(import.meta.dirname, '../../../docs/api.md');

describe('OpenAPI document', { timeout: 60_000 }, () => {
  let hub: HubProcess;
  let doc: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- checked by the validator

  before(async () => {
    hub = await startHubProcess({});
    const res = await api(hub, undefined, 'GET', '/api/v1/openapi.json');
    assert.equal(res.status, 200, 'served without a token');
    doc = res.body;
  });
  after(async () => {
    await hub?.stop();
  });

  it('is a valid OpenAPI 3 document', async () => {
    const result = await new Validator().validate(structuredClone(doc));
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2)?.slice(0, 2000));
    assert.match(doc.openapi, /^3\./);
  });

  it('lists every endpoint of docs/api.md, with its schemas and its token requirement', () => {
    const documented = [
      ...readFileSync(API_DOC, 'utf8').matchAll(/`(GET|POST|DELETE) (\/[^\s`?]*)/g),
    ].map((m) => `${m[1]} ${m[2]!.replace(/\{(\w+)\}/g, '{$1}')}`);
    assert.ok(documented.length >= 20, `docs/api.md names the endpoints (${documented.length})`);
    const served = new Set(
      Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
      ),
    );
    for (const d of documented) assert.ok(served.has(d), `${d} is in the OpenAPI document`);
    const create = doc.paths['/api/v1/tokens'].post;
    assert.deepEqual(create.security, [{ bearer: [] }]);
    assert.ok(create.requestBody.content['application/json'].schema.properties.cluster);
    assert.ok(create.responses['201'], 'the created answer is described');
    assert.ok(create.responses['4XX'] ?? create.responses['4xx'], 'errors are described');
    assert.equal(doc.paths['/healthz'].get.security, undefined, 'health needs no token');
  });
});
