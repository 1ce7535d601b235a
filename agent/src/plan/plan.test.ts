import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../model.ts';
import {
  adoptableManagers,
  declaredDiff,
  hookFor,
  isRunOnce,
  replaceRefusal,
  syncOptionsOf,
  takeOverManagedFields,
  withoutAdoptedFields,
} from './index.ts';

const obj = (annotations: Record<string, string> = {}, rest: object = {}): KubeObject => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name: 'migrate', namespace: 'shop', annotations },
  ...rest,
});

describe('Helm hooks', () => {
  it('runs pre and post hooks on the matching event, ordered by weight', () => {
    const hook = obj({
      'helm.sh/hook': 'pre-install,pre-upgrade',
      'helm.sh/hook-weight': '-5',
      'helm.sh/hook-delete-policy': 'hook-succeeded',
    });
    assert.deepEqual(hookFor(hook, 'install'), {
      phase: 'pre',
      weight: -5,
      deletePolicies: new Set(['hook-succeeded']),
    });
    assert.equal(hookFor(hook, 'upgrade')?.phase, 'pre');
    assert.equal(hookFor(obj({ 'helm.sh/hook': 'Pre-Install' }), 'install')?.phase, 'pre');
    assert.equal(hookFor(hook, 'none'), undefined, 'a resync runs no hook');
    assert.equal(hookFor(obj({ 'helm.sh/hook': 'post-upgrade' }), 'install'), undefined);
    assert.equal(hookFor(obj({ 'helm.sh/hook': 'post-upgrade' }), 'upgrade')?.phase, 'post');
  });
  it('defaults the delete policy to before-hook-creation, as Helm does', () => {
    assert.deepEqual(
      hookFor(obj({ 'helm.sh/hook': 'post-install' }), 'install')?.deletePolicies,
      new Set(['before-hook-creation']),
    );
  });
  it('never runs test, delete or rollback hooks', () => {
    for (const event of ['test', 'pre-delete', 'post-rollback', 'crd-install']) {
      assert.equal(hookFor(obj({ 'helm.sh/hook': event }), 'install'), undefined, event);
      assert.equal(hookFor(obj({ 'helm.sh/hook': event }), 'upgrade'), undefined, event);
    }
  });
  it('names the object and the annotation when one is malformed', () => {
    assert.throws(
      () => hookFor(obj({ 'helm.sh/hook': 'pre-instal' }), 'install'),
      /Job shop\/migrate: unknown helm.sh\/hook event "pre-instal"/,
    );
    assert.throws(
      () => hookFor(obj({ 'helm.sh/hook': 'pre-install', 'helm.sh/hook-weight': 'x' }), 'install'),
      /hook-weight must be an integer/,
    );
  });
});

describe('sync options', () => {
  it('reads Replace, Prune and CreateOnly, and Helm keep', () => {
    assert.deepEqual(
      syncOptionsOf(obj({ 'driftless.dev/sync-options': 'Replace=true, prune=false' })),
      { replace: true, keep: true, createOnly: false },
    );
    assert.deepEqual(syncOptionsOf(obj({ 'driftless.dev/sync-options': 'CreateOnly=true' })), {
      replace: false,
      keep: false,
      createOnly: true,
    });
    assert.equal(syncOptionsOf(obj({ 'helm.sh/resource-policy': 'keep' })).keep, true);
    assert.throws(
      () => syncOptionsOf(obj({ 'driftless.dev/sync-options': 'Force=true' })),
      /Job shop\/migrate: annotation driftless.dev\/sync-options has "Force=true"/,
    );
  });
  it('never replaces CRDs, Namespaces or claims', () => {
    assert.match(
      replaceRefusal({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition' }) ??
        '',
      /CRD/,
    );
    assert.ok(replaceRefusal({ apiVersion: 'v1', kind: 'Namespace' }));
    assert.ok(replaceRefusal({ apiVersion: 'v1', kind: 'PersistentVolumeClaim' }));
    assert.equal(replaceRefusal({ apiVersion: 'batch/v1', kind: 'Job' }), undefined);
  });
  it('knows run-once objects: Jobs with a TTL', () => {
    assert.equal(isRunOnce(obj({}, { spec: { ttlSecondsAfterFinished: 5 } })), true);
    assert.equal(isRunOnce(obj({}, { spec: {} })), false);
  });
});

describe('adoption', () => {
  const live: KubeObject = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: 'settings',
      namespace: 'c07',
      annotations: {
        'team.example/owner': 'payments',
        'kubectl.kubernetes.io/last-applied-configuration': '{}',
      },
      managedFields: [
        {
          manager: 'kubectl-client-side-apply',
          operation: 'Update',
          apiVersion: 'v1',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:data': { '.': {}, 'f:key': {}, 'f:legacy': {} },
            'f:metadata': {
              'f:annotations': {
                '.': {},
                'f:kubectl.kubernetes.io/last-applied-configuration': {},
                'f:team.example/owner': {},
              },
            },
          },
        },
        {
          manager: 'other-controller',
          operation: 'Update',
          apiVersion: 'v1',
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:data': { 'f:theirs': {} } },
        },
      ],
    },
    data: { key: 'value', legacy: 'unused', theirs: 'x' },
  };
  const desired: KubeObject = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'settings', namespace: 'c07' },
    data: { key: 'value' },
  };
  it('finds kubectl and Helm managers, not other controllers', () => {
    assert.deepEqual(adoptableManagers(live), ['kubectl-client-side-apply']);
  });
  it('hands their fields to one driftless Apply entry and keeps the others', () => {
    const entries = takeOverManagedFields(live, new Date('2026-01-02T03:04:05.678Z'));
    assert.deepEqual(
      entries.map((e) => [e.manager, e.operation]),
      [
        ['other-controller', 'Update'],
        ['driftless', 'Apply'],
      ],
    );
    assert.equal(entries[1]?.time, '2026-01-02T03:04:05Z');
  });
  it('shows what the apply removes: fields only the adopted managers set and Git dropped', () => {
    const after = withoutAdoptedFields(live, live, desired);
    assert.deepEqual(after['data'], { key: 'value', theirs: 'x' });
    assert.equal(after.metadata.annotations, undefined, 'both annotations go');
  });
  it('diffs only what Git declares when no dry-run is possible', () => {
    assert.deepEqual(declaredDiff(live, { ...desired, data: { key: 'new' } }), [
      { path: '.data.key', before: 'value', after: 'new' },
    ]);
  });
});
