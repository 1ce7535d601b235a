/**
 * Kubernetes' rules for names, label keys and values, as the API server
 * applies them; checked here so that a bad manifest fails with every
 * problem listed before anything is applied, not on the first one mid-apply.
 */

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** RFC 1123 subdomain: most object names, API groups, label key prefixes. */
export function isDnsSubdomain(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split('.').every((part) => LABEL.test(part));
}

/** RFC 1123 label: namespaces. */
export function isDnsLabel(s: string): boolean {
  return s.length <= 63 && LABEL.test(s);
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
export function isQualifiedName(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const name = slash < 0 ? key : key.slice(slash + 1);
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  if (prefix !== undefined && !isDnsSubdomain(prefix)) return false;
  return name.length <= 63 && QUALIFIED_NAME.test(name);
}

/** A label value: up to 63 characters, alphanumeric at both ends, may be empty. */
export function isLabelValue(value: string): boolean {
  return value.length <= 63 && LABEL_VALUE.test(value);
}

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
