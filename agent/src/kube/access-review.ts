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
