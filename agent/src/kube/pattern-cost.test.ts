import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { KubeObject } from '../model.ts';
import { judgeCustomResource } from './openapi.ts';

/** A CRD whose Widget has `spec.values`, a list of strings matching `pattern`. */
const crd = (pattern: string): KubeObject => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.example.com' },
  spec: {
    group: 'example.com',
    scope: 'Namespaced',
    names: { plural: 'widgets', kind: 'Widget' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                properties: { values: { type: 'array', items: { type: 'string', pattern } } },
              },
            },
          },
        },
      },
    ],
  },
});
const widget = (values: string[]): KubeObject => ({
  apiVersion: 'example.com/v1',
  kind: 'Widget',
  metadata: { name: 'w', namespace: 'new' },
  spec: { values },
});

it('a pattern too costly to match on the agent is left to the server, not run', () => {
  // Valid for Go (each repeat within 1,000), but 40,000 instructions: seconds per value.
  const huge = crd(`${'[a-z]{1,1000}'.repeat(20)}[0-9]`);
  assert.equal(judgeCustomResource(widget(['a'.repeat(20_000)]), huge).verdict, 'unsure');
  // One that must compile to a large program is not even compiled (seconds for 400 repeats).
  const larger = crd('[a-z]{1,1000}'.repeat(400));
  assert.equal(judgeCustomResource(widget(['0']), larger).verdict, 'unsure');
  // A smaller program, on many long values: the object's budget runs out before the list does.
  const large = crd('^[a-z]{1,1000}[0-9]$');
  const values = Array.from({ length: 1000 }, () => 'a'.repeat(10_000));
  assert.equal(judgeCustomResource(widget(values), large).verdict, 'unsure');
  // Within the budget, the same pattern still refuses.
  const verdict = judgeCustomResource(widget(['abc']), large);
  assert.equal(verdict.verdict, 'refused');
});
