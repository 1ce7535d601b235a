import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isRetryable } from '@driftless/common';
import { NEW_OR_OWN_CRDS } from '../model.ts';
import { APP_DEFAULTS, ConfigError, parseClusterConfig } from './cluster-config.ts';

const FILE = 'clusters/dev/driftless.yaml';

/** A driftless.yaml with the given lines under `spec.apps:` (already indented). */
const cluster = (apps: string) =>
  `apiVersion: driftless.dev/v1alpha1\nkind: Cluster\nspec:\n  apps:\n${apps}`;

/** The problems reported for `text`, formatted as a person reads them. */
function problemsOf(text: string): string[] {
  try {
    parseClusterConfig(text, FILE);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems.map((p) => `${p.line}:${p.column}: ${p.path}: ${p.message}`);
  }
  assert.fail('expected the config to be rejected');
}

describe('parseClusterConfig', () => {
  it('reads the example from DESIGN.md with every default applied', () => {
    const config = parseClusterConfig(
      cluster(`    - name: podinfo
      path: apps/podinfo/overlays/prod   # kustomize overlay per environment
      namespace: podinfo
      sync: manual
      selfHeal: true
      prune: true
      dependsOn: [infrastructure]
    - name: infrastructure
      path: infrastructure/
`),
      FILE,
    );
    assert.deepEqual(config.apps, [
      {
        name: 'podinfo',
        path: 'apps/podinfo/overlays/prod',
        namespace: 'podinfo',
        allowedNamespaces: ['podinfo'],
        allowedClusterKinds: [NEW_OR_OWN_CRDS],
        serviceAccountName: '',
        sync: 'manual',
        selfHeal: true,
        suspend: false,
        prune: true,
        allowEmpty: false,
        allowPlaintextSecrets: false,
        dependsOn: ['infrastructure'],
        render: 'auto',
        helm: {
          releaseName: 'podinfo',
          valuesFiles: [],
          values: {},
          allowRemoteDependencies: false,
        },
        kustomize: { allowRemoteResources: false, allowRemoteCharts: false },
        healthTimeoutMs: 300_000,
        createNamespace: false,
        replace: false,
        health: [],
        ignoreDifferences: [],
      },
      {
        name: 'infrastructure',
        path: 'infrastructure',
        namespace: '',
        allowedNamespaces: [],
        allowedClusterKinds: ['*'],
        serviceAccountName: '',
        sync: 'auto',
        selfHeal: false,
        suspend: false,
        prune: false,
        allowEmpty: false,
        allowPlaintextSecrets: false,
        dependsOn: [],
        render: 'auto',
        helm: {
          releaseName: 'infrastructure',
          valuesFiles: [],
          values: {},
          allowRemoteDependencies: false,
        },
        kustomize: { allowRemoteResources: false, allowRemoteCharts: false },
        healthTimeoutMs: APP_DEFAULTS.healthTimeoutMs,
        createNamespace: false,
        replace: false,
        health: [],
        ignoreDifferences: [],
      },
    ]);
  });

  it('reads every field when set', () => {
    const [app] = parseClusterConfig(
      cluster(`    - name: web
      path: apps/web/chart
      namespace: web
      allowedNamespaces: [web, web-jobs]
      allowedClusterKinds: [Namespace, rbac.authorization.k8s.io/ClusterRole, example.com/*]
      serviceAccountName: web-deployer
      sync: dry-run
      selfHeal: false
      suspend: true
      prune: true
      allowEmpty: true
      allowPlaintextSecrets: true
      render: helm
      helm:
        releaseName: web-prod
        valuesFiles: [values.yaml, ../values/prod.yaml]
        values:
          replicaCount: 3
          image: { tag: "1.2.3" }
        allowRemoteDependencies: true
      kustomize:
        allowRemoteResources: true
      healthTimeout: 90s
      createNamespace: true
      replace: true
      health:
        - group: example.com
          kind: Widget
          healthy: "object.status.phase == 'Ready'"
          degraded: "object.status.phase == 'Failed'"
      ignoreDifferences:
        - group: apps
          kind: Deployment
          name: web
          jsonPointers: [/spec/replicas]
        - kind: "*"
          managedFieldsManagers: [vpa-recommender]
`),
      FILE,
    ).apps;
    assert.deepEqual(app, {
      name: 'web',
      path: 'apps/web/chart',
      namespace: 'web',
      allowedNamespaces: ['web', 'web-jobs'],
      allowedClusterKinds: ['Namespace', 'rbac.authorization.k8s.io/ClusterRole', 'example.com/*'],
      serviceAccountName: 'web-deployer',
      sync: 'dry-run',
      selfHeal: false,
      suspend: true,
      prune: true,
      allowEmpty: true,
      allowPlaintextSecrets: true,
      dependsOn: [],
      render: 'helm',
      helm: {
        releaseName: 'web-prod',
        valuesFiles: ['values.yaml', '../values/prod.yaml'],
        values: { replicaCount: 3, image: { tag: '1.2.3' } },
        allowRemoteDependencies: true,
      },
      kustomize: { allowRemoteResources: true, allowRemoteCharts: false },
      healthTimeoutMs: 90_000,
      createNamespace: true,
      replace: true,
      health: [
        {
          group: 'example.com',
          kind: 'Widget',
          healthy: "object.status.phase == 'Ready'",
          degraded: "object.status.phase == 'Failed'",
        },
      ],
      ignoreDifferences: [
        { group: 'apps', kind: 'Deployment', name: 'web', jsonPointers: ['/spec/replicas'] },
        { kind: '*', managedFieldsManagers: ['vpa-recommender'] },
      ],
    });
  });

  it('refuses ignoreDifferences rules that name no fields or use a bad pointer', () => {
    assert.throws(
      () =>
        parseClusterConfig(
          cluster(`    - name: web
      path: apps/web
      ignoreDifferences:
        - kind: Deployment
        - kind: ConfigMap
          jsonPointers: [data/mode]
`),
          FILE,
        ),
      (err: Error) =>
        /spec\.apps\[0\]\.ignoreDifferences\[0\]: must set jsonPointers or managedFieldsManagers/.test(
          err.message,
        ) &&
        /spec\.apps\[0\]\.ignoreDifferences\[1\]\.jsonPointers\[0\]: must be a JSON pointer starting with "\/", got "data\/mode"/.test(
          err.message,
        ),
    );
  });

  it('refuses a health rule whose CEL does not parse, naming its line and field', () => {
    assert.throws(
      () =>
        parseClusterConfig(
          cluster(`    - name: web
      path: apps/web
      health:
        - kind: Widget
          healthy: "object.status =="
`),
          FILE,
        ),
      /:\d+:\d+: spec\.apps\[0\]\.health\[0\]\.healthy: not a valid CEL expression/,
    );
  });

  it('reads a pinned chart source and the kustomize chart opt-in', () => {
    const [app] = parseClusterConfig(
      cluster(`    - name: podinfo
      path: apps/podinfo
      helm:
        chart:
          repository: oci://registry.example.com/charts/
          name: podinfo
          version: 6.7.0
          credentials: { secret: chart-repo }
      kustomize: { allowRemoteCharts: true }
`),
      FILE,
    ).apps;
    assert.deepEqual(app?.helm.chart, {
      repository: 'oci://registry.example.com/charts',
      name: 'podinfo',
      version: '6.7.0',
      credentials: { secret: 'chart-repo' },
    });
    assert.deepEqual(app?.kustomize, { allowRemoteResources: false, allowRemoteCharts: true });
  });

  it('refuses chart sources that are not pinned, carry credentials or name files outside the credentials folder', () => {
    assert.deepEqual(
      problemsOf(
        cluster(`    - name: a
      path: a
      helm:
        chart:
          repository: https://user:pw@charts.example.com
          name: a
          version: ^1.0.0
          credentials: { file: ../../var/run/secrets/token, secret: x }
`),
      ),
      [
        '9:23: spec.apps[0].helm.chart.repository: must not hold credentials; name a Secret or file in credentials instead',
        '11:20: spec.apps[0].helm.chart.version: must be an exact version such as 1.2.3: charts are pinned',
        '12:24: spec.apps[0].helm.chart.credentials: must set exactly one of secret and file',
        "12:32: spec.apps[0].helm.chart.credentials.file: must be a file name in the agent's --chart-credentials-dir, without a folder",
      ],
    );
  });

  it('refuses an empty app list, naming the line, unless spec.allowEmpty is set', () => {
    const empty = cluster('    []\n').replace('apps:\n', 'apps:');
    assert.deepEqual(problemsOf(empty), [
      `4:12: spec.apps: lists no apps: that would remove every app of the cluster (and prune those with prune: true); set spec.allowEmpty: true to allow it`,
    ]);
    const allowed = empty.replace('spec:\n', 'spec:\n  allowEmpty: true\n');
    assert.deepEqual(parseClusterConfig(allowed, FILE), { apps: [], allowEmpty: true });
    const typo = problemsOf(allowed.replace('allowEmpty', 'allowempty'));
    assert.ok(
      typo.some((p) => p.includes('allowempty')) && typo.some((p) => p.includes('lists no apps')),
      typo.join('\n'),
    );
  });

  it('treats null fields as unset', () => {
    const [app] = parseClusterConfig(
      cluster('    - name: a\n      path: a\n      sync:\n      dependsOn:\n'),
      FILE,
    ).apps;
    assert.equal(app?.sync, 'auto');
    assert.deepEqual(app?.dependsOn, []);
  });

  it('takes the default health timeout from the caller (the agent flag)', () => {
    const config = parseClusterConfig(cluster('    - name: a\n      path: a\n'), FILE, {
      defaultHealthTimeoutMs: 42_000,
    });
    assert.equal(config.apps[0]?.healthTimeoutMs, 42_000);
  });

  it('names file, line:column and field path of a bad value', () => {
    const text = cluster(`    - name: a
      path: a
    - name: b
      path: b
      sync: sometimes
`);
    try {
      parseClusterConfig(text, FILE);
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.equal(
        err.message,
        'clusters/dev/driftless.yaml:9:13: spec.apps[1].sync: must be one of auto, manual, dry-run, got "sometimes"',
      );
      assert.equal(err.file, FILE);
      assert.equal(isRetryable(err), false, 'a bad config is terminal');
    }
  });

  it('collects every problem into one error, in file order', () => {
    const problems = problemsOf(
      cluster(`    - name: Web_App
      path: /abs
      selfheal: true
      prune: yes
      healthTimeout: 300
      render: jsonnet
    - name: b
      path: apps/../../etc
      namespace: 12
      helm: { releaseName: b, valuesFiles: [../../../x.yaml], extra: 1 }
      kustomize: { allowRemoteResources: "true" }
`),
    );
    assert.deepEqual(problems, [
      `5:13: spec.apps[0].name: "Web_App" is not a valid name: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit`,
      '6:13: spec.apps[0].path: "/abs" must be relative to the repository root',
      '7:7: spec.apps[0].selfheal: unknown field (did you mean "selfHeal"?)',
      '8:14: spec.apps[0].prune: must be true or false, got "yes"',
      '9:22: spec.apps[0].healthTimeout: must be a positive duration such as 90s, 5m or 1h, got 300',
      '10:15: spec.apps[0].render: must be one of auto, directory, kustomize, helm, got "jsonnet"',
      `12:13: spec.apps[1].path: "apps/../../etc" must not contain '..'`,
      '13:18: spec.apps[1].namespace: must be a string, got 12',
      '14:45: spec.apps[1].helm.valuesFiles[0]: "../../../x.yaml" leaves the repository (relative to .)',
      '14:63: spec.apps[1].helm.extra: unknown field; allowed: releaseName, valuesFiles, values, chart, allowRemoteDependencies',
      '15:42: spec.apps[1].kustomize.allowRemoteResources: must be true or false, got "true"',
    ]);
  });

  it('rejects duplicate names, unknown and self dependencies', () => {
    assert.deepEqual(
      problemsOf(
        cluster(`    - name: a
      path: a
      dependsOn: [a, infra, b, b]
    - name: a
      path: other
    - name: b
      path: b
`),
      ),
      [
        '7:19: spec.apps[0].dependsOn[0]: app "a" cannot depend on itself',
        '7:22: spec.apps[0].dependsOn[1]: unknown app "infra"',
        '7:32: spec.apps[0].dependsOn[3]: "b" is listed twice',
        '8:13: spec.apps[1].name: duplicate app name "a" (also spec.apps[0])',
      ],
    );
  });

  it('suggests the app meant by a misspelt dependency', () => {
    assert.deepEqual(
      problemsOf(
        cluster(
          '    - name: infra\n      path: i\n    - name: web\n      path: w\n      dependsOn: [infa]\n',
        ),
      ),
      ['9:19: spec.apps[1].dependsOn[0]: unknown app "infa" (did you mean "infra"?)'],
    );
  });

  it('reports a dependency cycle once, naming the whole cycle', () => {
    assert.deepEqual(
      problemsOf(
        cluster(`    - name: a
      path: a
      dependsOn: [b]
    - name: b
      path: b
      dependsOn: [c]
    - name: c
      path: c
      dependsOn: [a]
`),
      ),
      ['7:19: spec.apps[0].dependsOn[0]: dependency cycle: a → b → c → a'],
    );
  });

  it('checks apiVersion, kind and the required fields', () => {
    assert.deepEqual(
      problemsOf('apiVersion: v1\nkind: Cluster\nspec:\n  apps:\n    - path: a\n    - name: b\n'),
      [
        '1:13: apiVersion: must be "driftless.dev/v1alpha1", got "v1"',
        '5:7: spec.apps[0].name: required',
        '6:7: spec.apps[1].path: required',
      ],
    );
    assert.deepEqual(problemsOf('kind: Clustre\nspec: {}\nmetadata: {}\n'), [
      '1:1: apiVersion: required: "driftless.dev/v1alpha1"',
      '1:7: kind: must be "Cluster", got "Clustre"',
      '2:7: spec.apps: required',
      '3:1: metadata: unknown field; allowed: apiVersion, kind, spec',
    ]);
    assert.deepEqual(problemsOf('just a string\n'), [
      '1:1: : the file must be a mapping with apiVersion, kind and spec, got "just a string"',
    ]);
  });

  it('reports YAML syntax errors and duplicate keys with their position', () => {
    const [syntax] = problemsOf(cluster('    - name: a\n      path: [a\n'));
    assert.match(syntax ?? '', /^\d+:\d+: : /);
    assert.deepEqual(problemsOf(cluster('    - name: a\n      path: a\n      path: b\n')), [
      '7:7: : Map keys must be unique',
    ]);
  });

  it('follows anchors and aliases like plain values', () => {
    const config = parseClusterConfig(
      cluster(`    - name: a
      path: a
      allowedNamespaces: &ns [a, shared]
    - name: b
      path: b
      allowedNamespaces: *ns
`),
      FILE,
    );
    assert.deepEqual(config.apps[1]?.allowedNamespaces, ['a', 'shared']);
  });
});
