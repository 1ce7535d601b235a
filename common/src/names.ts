/**
 * Names and labels, by the Kubernetes rules (k8s.io/apimachinery/pkg/util/validation), written
 * once for hub and agent:
 * - a cluster or app name is an RFC 1123 DNS label: 1–63 lower-case letters, digits and `-`,
 *   starting and ending with a letter or digit. No dots: a cluster name is also a NATS subject
 *   token and a certificate identity, where a dot would split or widen it.
 * - a label key is an optional DNS-1123 subdomain prefix (≤ 253, lower case, dots allowed) and
 *   `/`, then a name of 1–63 letters, digits, `-`, `_`, `.`, starting and ending alphanumeric;
 * - a label value is empty or such a name.
 */

/** RFC 1123 DNS label: cluster and app names, namespaces, Secret names. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** RFC 1123 DNS subdomain (≤ 253 characters): label key prefixes. */
export const DNS_SUBDOMAIN =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The name part of a label key, and any non-empty label value. */
const QUALIFIED_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** Whether `name` is a valid cluster or app name (a DNS label). */
export function isDnsLabel(name: string): boolean {
  return DNS_LABEL.test(name);
}

/** Whether `key` is a valid Kubernetes label key (`prefix/name` or `name`). */
export function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  if (slash < 0) return QUALIFIED_NAME.test(key);
  return DNS_SUBDOMAIN.test(key.slice(0, slash)) && QUALIFIED_NAME.test(key.slice(slash + 1));
}

/** Whether `value` is a valid Kubernetes label value (empty allowed). */
export function isLabelValue(value: string): boolean {
  return value === '' || QUALIFIED_NAME.test(value);
}

/** What is wrong with a name, in words for an error message. */
export const DNS_LABEL_RULE =
  'must be 1-63 lower-case letters, digits or "-", starting and ending with a letter or digit';
