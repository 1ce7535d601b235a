import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appSpec } from '../config/index.ts';
import type { InventoryRecord } from '../inventory/index.ts';
import type { KubeObject } from '../model.ts';
import {
  digestBeforeApply,
  hookEventOf,
  INSTALL_PENDING,
  namespaceToCreate,
  renderDigest,
} from './sync-state.ts';

const cm = (name: string, v: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns' },
  data: { v },
});
const record = (renderDigest: string): InventoryRecord => ({
  app: 'a',
  revision: 'r1',
  prune: false,
  objects: [{ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'ns', name: 'x' }],
  renderDigest,
});

describe('hooks once per change of the render', () => {
  const digest = renderDigest([cm('x', '1'), cm('y', '2')]);
  it('a render digest does not depend on object order', () => {
    assert.equal(renderDigest([cm('y', '2'), cm('x', '1')]), digest);
    assert.notEqual(renderDigest([cm('x', '1'), cm('y', '3')]), digest);
  });
  it('installs on a first sync, and again while the first sync never finished', () => {
    assert.equal(hookEventOf(undefined, digest), 'install');
    assert.equal(digestBeforeApply(undefined), INSTALL_PENDING);
    assert.equal(hookEventOf(record(INSTALL_PENDING), digest), 'install');
  });
  it('upgrades when the render changed, and runs nothing when it did not', () => {
    assert.equal(hookEventOf(record('other'), digest), 'upgrade');
    assert.equal(hookEventOf(record(digest), digest), 'none');
    assert.equal(
      digestBeforeApply(record(digest)),
      digest,
      'a failed upgrade runs its hooks again',
    );
  });
});

describe('createNamespace', () => {
  it('adds the app namespace with the ownership marks when the render has none', () => {
    const app = appSpec({ name: 'a', path: 'p', namespace: 'ns', createNamespace: true });
    assert.deepEqual(namespaceToCreate(app, [cm('x', '1')])?.metadata, {
      name: 'ns',
      labels: { 'app.kubernetes.io/managed-by': 'driftless', 'driftless.dev/app': 'a' },
    });
    const ns: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns' } };
    assert.equal(namespaceToCreate(app, [ns]), undefined, 'the render has it');
    assert.equal(namespaceToCreate({ ...app, createNamespace: false }, []), undefined);
  });
});
