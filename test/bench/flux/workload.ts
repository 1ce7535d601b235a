/**
 * The workload both tools get in the side-by-side benchmark: one repository with `apps` apps of
 * 10 objects each under `apps/app-<i>/` (a Namespace `app-<i>`, 6 ConfigMaps, 2 Services and one
 * Deployment of one replica), plus Driftless's cluster file `clusters/bench/driftless.yaml`
 * listing every app (Flux ignores it: its Kustomizations point at the app folders).
 */

/** Objects per app, the Namespace included. */
export const OBJECTS_PER_APP = 10;
const CONFIGMAPS = 6;
const SERVICES = 2;

/** The name (and namespace) of app `i`. */
export const appName = (i: number): string => `app-${i}`;

/** The objects of app `i` as one YAML stream; `revision` goes into config-0's data. */
export function appObjects(i: number, revision = '1'): string {
  const ns = appName(i);
  const docs: string[] = [`apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${ns}\n`];
  for (let c = 0; c < CONFIGMAPS; c++)
    docs.push(
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-${c}\n  namespace: ${ns}\ndata:\n  index: "${c}"\n  level: info\n  revision: "${c === 0 ? revision : '1'}"\n`,
    );
  for (let s = 0; s < SERVICES; s++)
    docs.push(
      `apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-${s}\n  namespace: ${ns}\nspec:\n  selector:\n    app: web\n  ports:\n    - port: ${80 + s}\n      targetPort: 8080\n`,
    );
  docs.push(
    `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: ${ns}\n  labels:\n    app: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n        - name: main\n          image: registry.local/web:1.0\n`,
  );
  return docs.join('---\n');
}

/** The path of app `i`'s objects file in the repository. */
export const appFile = (i: number): string => `apps/${appName(i)}/objects.yaml`;

/** Every file of the repository for `apps` apps. */
export function repoFiles(apps: number): Record<string, string> {
  const files: Record<string, string> = {};
  const entries: string[] = [];
  for (let i = 0; i < apps; i++) {
    files[appFile(i)] = appObjects(i);
    entries.push(
      `    - name: ${appName(i)}\n      path: apps/${appName(i)}\n      namespace: ${appName(i)}\n      prune: true\n      selfHeal: true\n`,
    );
  }
  files['clusters/bench/driftless.yaml'] =
    `apiVersion: driftless.dev/v1alpha1\nkind: Cluster\nspec:\n  apps:\n${entries.join('')}`;
  return files;
}

/** Fake nodes kwok runs the pods on beyond the harness's one (110 pods each). */
export function extraNodes(apps: number): number {
  return Math.max(0, Math.ceil((apps + 20) / 100) - 1);
}
