/**
 * Kubernetes' rules for names, label keys and values, as the API server
 * applies them; checked here so that a bad manifest fails with every
 * problem listed before anything is applied, not on the first one mid-apply.
 */

import { DNS_SUBDOMAIN, isDnsLabel, isLabelKey, isLabelValue } from '@driftless/common';

/** RFC 1123 label (namespaces) and label values, by common's rules. */
export { isDnsLabel, isLabelValue };

const LABEL_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** RFC 1123 subdomain: most object names, API groups, label key prefixes. */
export function isDnsSubdomain(s: string): boolean {
  return DNS_SUBDOMAIN.test(s);
}

/** RFC 1035 label (starts with a letter): Services, API versions. */
export function isDns1035Label(s: string): boolean {
  return s.length <= 63 && LABEL_1035.test(s);
}

/** Path segment: RBAC objects may be named `system:aggregate-to-view` and the like. */
export function isPathSegment(s: string): boolean {
  return s.length > 0 && s !== '.' && s !== '..' && !/[/%]/.test(s);
}

/** A label or annotation key: optional `prefix/` (subdomain) and a name of up to 63 characters. */
export const isQualifiedName = isLabelKey;

/** Kinds whose names follow a rule other than the subdomain one, keyed by `group/kind`. */
const NAME_RULES: Record<string, { test: (s: string) => boolean; rule: string }> = {
  '/Namespace': { test: isDnsLabel, rule: 'a DNS-1123 label' },
  '/Service': { test: isDns1035Label, rule: 'a DNS-1035 label' },
  'rbac.authorization.k8s.io/Role': { test: isPathSegment, rule: 'a path segment' },
  'rbac.authorization.k8s.io/ClusterRole': { test: isPathSegment, rule: 'a path segment' },
  'rbac.authorization.k8s.io/RoleBinding': { test: isPathSegment, rule: 'a path segment' },
  'rbac.authorization.k8s.io/ClusterRoleBinding': { test: isPathSegment, rule: 'a path segment' },
};

/** Why `name` is not a valid name for `group/kind`, or undefined when it is. */
export function nameProblem(group: string, kind: string, name: string): string | undefined {
  const rule = NAME_RULES[`${group}/${kind}`] ?? {
    test: isDnsSubdomain,
    rule: 'a DNS-1123 subdomain (lower case letters, digits, - and .)',
  };
  return rule.test(name) ? undefined : `name "${name}" is not ${rule.rule}`;
}
