/**
 * The example fleet repository of `make demo`, the end-to-end suite and its benchmark, laid
 * out as docs/repository.md describes: `clusters/<cluster>/driftless.yaml`,
 * `apps/podinfo/base` + `apps/podinfo/overlays/<env>` (Kustomize) and `infrastructure/`.
 *
 * dev follows every commit and heals drift at once; prod's podinfo waits for an approval of
 * the exact plan (`sync: manual`). Both depend on `infrastructure`, which holds the namespace,
 * a default-deny NetworkPolicy with one opening, and a read-only Role for the app team.
 */

/** The clusters of the example fleet, each with the replicas its overlay declares. */
export const FLEET_CLUSTERS = ['dev', 'prod'] as const;

/** One cluster of the example fleet. */
export type FleetCluster = (typeof FLEET_CLUSTERS)[number];

/** Replicas of podinfo per environment in the first commit. */
export const INITIAL_REPLICAS: Record<FleetCluster, number> = { dev: 1, prod: 2 };

/** The podinfo image; kwok runs no containers, so it is never pulled. */
export const PODINFO_IMAGE = 'ghcr.io/stefanprodan/podinfo:6.9.2';

const clusterYaml: Record<FleetCluster, string> = {
  dev: `# Cluster "dev": every commit is applied, and drift is put back at once.
apiVersion: driftless.dev/v1alpha1
kind: Cluster
spec:
  apps:
    - name: infrastructure
      path: infrastructure
      prune: false # never delete namespaces (and everything in them) by accident
    - name: podinfo
      path: apps/podinfo/overlays/dev
      namespace: podinfo
      sync: auto
      selfHeal: true
      prune: true
      dependsOn: [infrastructure]
      healthTimeout: 2m
`,
  prod: `# Cluster "prod": podinfo changes wait for an approval of the exact plan.
apiVersion: driftless.dev/v1alpha1
kind: Cluster
spec:
  apps:
    - name: infrastructure
      path: infrastructure
      prune: false
    - name: podinfo
      path: apps/podinfo/overlays/prod
      namespace: podinfo
      sync: manual
      selfHeal: true
      prune: true
      dependsOn: [infrastructure]
      healthTimeout: 2m
`,
};

/** `apps/podinfo/overlays/<env>/kustomization.yaml` with `replicas` pods. */
export function overlay(env: FleetCluster, replicas: number): string {
  return `# podinfo in ${env}: the base with this environment's replicas and message.
resources:
  - ../../base
labels:
  - pairs:
      env: ${env}
replicas:
  - name: podinfo
    count: ${replicas}
patches:
  - target: { kind: ConfigMap, name: podinfo-config }
    patch: |
      - op: replace
        path: /data/PODINFO_UI_MESSAGE
        value: "hello from ${env}"
`;
}

/** Every file of the fleet's first commit, path → content. */
export function fleetFiles(): Record<string, string> {
  return {
    'README.md': `# Example fleet

Driftless demo repository (see docs/repository.md):

- \`clusters/dev\`, \`clusters/prod\` — what each cluster runs (\`driftless.yaml\`)
- \`apps/podinfo/base\` + \`apps/podinfo/overlays/{dev,prod}\` — the app, one overlay per environment
- \`infrastructure/\` — namespace, network policy, RBAC
`,
    'clusters/dev/driftless.yaml': clusterYaml.dev,
    'clusters/prod/driftless.yaml': clusterYaml.prod,
    'infrastructure/namespaces.yaml': `apiVersion: v1
kind: Namespace
metadata:
  name: podinfo
  labels:
    team: web
`,
    'infrastructure/network-policy.yaml': `# Nothing reaches podinfo's pods but what the next policy lets in.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-ingress
  namespace: podinfo
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-http-to-podinfo
  namespace: podinfo
spec:
  podSelector:
    matchLabels: { app: podinfo }
  policyTypes: [Ingress]
  ingress:
    - ports:
        - { port: 9898, protocol: TCP }
`,
    'infrastructure/rbac.yaml': `# The web team may look at, not change, what runs in podinfo: changes go through Git.
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: web-team-view
  namespace: podinfo
rules:
  - apiGroups: ["", "apps"]
    resources: [pods, services, configmaps, deployments]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: web-team-view
  namespace: podinfo
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: web-team-view
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: Group
    name: web-team
`,
    'apps/podinfo/base/kustomization.yaml': `resources:
  - deployment.yaml
  - service.yaml
  - configmap.yaml
labels:
  - pairs:
      app.kubernetes.io/name: podinfo
`,
    'apps/podinfo/base/deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
spec:
  replicas: 1
  selector:
    matchLabels: { app: podinfo }
  template:
    metadata:
      labels: { app: podinfo }
    spec:
      containers:
        - name: podinfo
          image: ${PODINFO_IMAGE}
          ports:
            - { name: http, containerPort: 9898 }
          envFrom:
            - configMapRef: { name: podinfo-config }
`,
    'apps/podinfo/base/service.yaml': `apiVersion: v1
kind: Service
metadata:
  name: podinfo
spec:
  selector: { app: podinfo }
  ports:
    - { name: http, port: 9898, targetPort: http }
`,
    'apps/podinfo/base/configmap.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: podinfo-config
data:
  PODINFO_UI_MESSAGE: "hello"
`,
    'apps/podinfo/overlays/dev/kustomization.yaml': overlay('dev', INITIAL_REPLICAS.dev),
    'apps/podinfo/overlays/prod/kustomization.yaml': overlay('prod', INITIAL_REPLICAS.prod),
  };
}
