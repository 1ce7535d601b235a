/**
 * Acting for a tenant. An app that names a `serviceAccountName` is planned,
 * applied, pruned, health-checked and healed as that ServiceAccount (like
 * Flux's `serviceAccountName`): the agent impersonates it on every request
 * for the app, so the API server's RBAC, not only the agent's guard, bounds
 * what the app's manifests can do. The agent itself needs `impersonate` on
 * those ServiceAccounts and nothing a tenant could borrow.
 */
import { Marks, type AppSpec, type KubeObject } from '../model.ts';
import type { KubeClient } from './client.ts';

/** The user name Kubernetes gives a ServiceAccount. */
export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/** The calls the drift watcher makes (a subset of {@link KubeClient}). */
export type WatcherClient = Pick<KubeClient, 'list' | 'watch' | 'get' | 'apply'>;

/**
 * The clients the agent acts with, one per identity: its own, and one per
 * tenant ServiceAccount, sharing connections. Clients of tenants are made
 * once and kept; they are never closed on their own (closing the agent's
 * client closes their connections too).
 */
export class TenantClients {
  readonly #base: KubeClient;
  readonly #stateNamespace: string;
  readonly #byUser = new Map<string, KubeClient>();
  /** app name → the user it acts as, from the last {@link for} call. */
  readonly #appUsers = new Map<string, string>();

  /**
   * `base` is the agent's own client; `stateNamespace` holds the
   * ServiceAccounts of apps without a namespace (default `driftless-system`).
   */
  constructor(base: KubeClient, stateNamespace = 'driftless-system') {
    this.#base = base;
    this.#stateNamespace = stateNamespace;
  }

  /** The agent's own client. */
  get base(): KubeClient {
    return this.#base;
  }

  /**
   * The client every request for `app` goes through: impersonating its
   * ServiceAccount when it names one, else the agent's own. Also remembers
   * the app's identity for {@link watcherClient}'s heals.
   */
  for(app: Pick<AppSpec, 'name' | 'namespace' | 'serviceAccountName'>): KubeClient {
    if (!app.serviceAccountName) {
      this.#appUsers.delete(app.name);
      return this.#base;
    }
    const user = serviceAccountUser(app.namespace || this.#stateNamespace, app.serviceAccountName);
    this.#appUsers.set(app.name, user);
    let client = this.#byUser.get(user);
    if (!client) {
      client = this.#base.impersonating(user);
      this.#byUser.set(user, client);
    }
    return client;
  }

  /**
   * Forgets an app that left the cluster's config. Returns the client it last
   * acted with (to prune it as itself), or the agent's own when not known
   * (an app without serviceAccountName, or none seen since the agent started).
   */
  forget(app: string): KubeClient {
    const user = this.#appUsers.get(app);
    this.#appUsers.delete(app);
    return (user && this.#byUser.get(user)) || this.#base;
  }

  /**
   * A client for the drift watcher: it watches and reads as the agent (one
   * watch per kind serves every app), and compares and heals each object as
   * the app that owns it (by its {@link Marks.app} label), so a heal can do
   * no more than the app's sync could.
   */
  watcherClient(): WatcherClient {
    const base = this.#base;
    return {
      list: (...args) => base.list(...args),
      watch: (...args) => base.watch(...args),
      get: (...args) => base.get(...args),
      apply: (obj: KubeObject, options) => this.#forObject(obj).apply(obj, options),
    };
  }

  #forObject(obj: KubeObject): KubeClient {
    const app = obj.metadata.labels?.[Marks.app];
    const user = app === undefined ? undefined : this.#appUsers.get(app);
    return (user && this.#byUser.get(user)) || this.#base;
  }
}
