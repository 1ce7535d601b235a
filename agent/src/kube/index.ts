/** The agent's Kubernetes access: a REST client with discovery, apply, list and watch. */
export * from './client.ts';
export * from './discovery.ts';
export * from './impersonate.ts';
export * from './credentials.ts';
export * from './kubeconfig.ts';
export {
  conformsToServedSchema,
  judgeCustomResource,
  judgeServedSchema,
  servedCrd,
} from './openapi.ts';
export type { Refusal, Verdict } from './schema-check.ts';
export {
  mayApplyAny,
  rulesAllowApplyAny,
  rulesIn,
  type ResourceRule,
  type WriteScope,
} from './access-review.ts';
