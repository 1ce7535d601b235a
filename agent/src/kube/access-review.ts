import type { KubeClient } from './client.ts';

/** A kind of object in one namespace, as the API server authorizes it. */
export interface WriteScope {
  /** API group ('' for the core group). */
  group: string;
  /** Resource plural, e.g. `configmaps`. */
  resource: string;
  namespace: string;
}

/**
 * Whether the client's identity (the impersonated user, for an impersonating
 * client) may create objects of `scope` by server-side apply under any name:
 * the `patch` and the `create` verb, each asked with a
 * SelfSubjectAccessReview, as the server authorizes such an apply. False when
 * either is refused or the review cannot be asked (then only a dry-run of
 * each object can tell). Never throws.
 */
export async function mayApplyAny(
  client: KubeClient,
  scope: WriteScope,
  signal?: AbortSignal,
): Promise<boolean> {
  try {
    const answers = await Promise.all(
      ['patch', 'create'].map((verb) =>
        client.request<{ status?: { allowed?: boolean } }>(
          'POST',
          '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
          {
            body: {
              apiVersion: 'authorization.k8s.io/v1',
              kind: 'SelfSubjectAccessReview',
              spec: { resourceAttributes: { verb, ...scope } },
            },
            signal,
          },
        ),
      ),
    );
    return answers.every((a) => a.status?.allowed === true);
  } catch {
    return false;
  }
}

/** One resource rule of a SelfSubjectRulesReview's answer (`*` matches anything). */
export interface ResourceRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  /** When non-empty, the rule covers only these names, so never "any name". */
  resourceNames?: string[];
}

/**
 * What the client's identity may do in one namespace, by one
 * SelfSubjectRulesReview: the resource rules, and whether the server listed
 * them all (`complete`: not `incomplete` and no `evaluationError`; an
 * authorizer that cannot list its rules, such as a webhook, makes the answer
 * incomplete). Undefined when the review cannot be asked. Never throws.
 */
export async function rulesIn(
  client: KubeClient,
  namespace: string,
  signal?: AbortSignal,
): Promise<{ rules: ResourceRule[]; complete: boolean } | undefined> {
  try {
    const answer = await client.request<{
      status?: { resourceRules?: ResourceRule[]; incomplete?: boolean; evaluationError?: string };
    }>('POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', {
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectRulesReview',
        spec: { namespace },
      },
      signal,
    });
    const status = answer.status;
    if (!status) return undefined;
    return {
      rules: status.resourceRules ?? [],
      complete: status.incomplete !== true && !status.evaluationError,
    };
  } catch {
    return undefined;
  }
}

const matches = (listed: string[] | undefined, value: string): boolean =>
  (listed ?? []).some((v) => v === '*' || v === value);

/**
 * Whether `rules` let the identity create objects of `scope` by server-side
 * apply under any name: some rule without resource names grants `patch`, and
 * some grants `create`, for the scope's group and resource. False says only
 * that these rules do not grant it.
 */
export function rulesAllowApplyAny(rules: readonly ResourceRule[], scope: WriteScope): boolean {
  return ['patch', 'create'].every((verb) =>
    rules.some(
      (r) =>
        (r.resourceNames ?? []).length === 0 &&
        matches(r.verbs, verb) &&
        matches(r.apiGroups, scope.group) &&
        matches(r.resources, scope.resource),
    ),
  );
}
