/**
 * Rules of kube-apiserver's validation for common built-in kinds that their
 * OpenAPI schema cannot say (a Deployment's selector must select its pod
 * template, a port is 1-65535, a request at most its limit, ...), made
 * client-side for objects that cannot be dry-run: those in a Namespace that
 * does not exist yet, which the server refuses for the missing Namespace
 * before it gets to these rules. Each rule is one the server certainly
 * applies (pkg/apis/{core,apps,batch,rbac}/validation), so a refusal is never
 * stricter than the server; what is not here is not judged (kinds not listed,
 * admission, webhooks).
 */
import type { KubeObject } from '../model.ts';
import type { Refusal } from './schema-check.ts';
import { labelsRefusal } from './schema-check-meta.ts';

type Obj = Record<string, unknown>;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_RULE =
  'must be a DNS-1123 label: at most 63 lower-case letters, digits and "-", starting and ending with a letter or digit';
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
/** Go's unicode.IsSpace, by which strings.Fields splits. */
const GO_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;
/** ConfigMap and Secret data, all keys and values (core validation's MaxSecretSize). */
const MAX_DATA_BYTES = 1024 * 1024;

function isRecord(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
const records = (value: unknown): Obj[] => (Array.isArray(value) ? value.filter(isRecord) : []);
const listed = (values: readonly string[]) => values.map((v) => JSON.stringify(v)).join(', ');

/**
 * Why kube-apiserver's validation of `obj`'s kind (`group`/`obj.kind`)
 * certainly refuses it, for the rules of this module; undefined when none
 * of them refuses it (which is not a promise that the server takes it).
 */
export function builtInRefusal(obj: KubeObject, group: string): Refusal | undefined {
  const o = obj as unknown as Obj;
  const spec = isRecord(o['spec']) ? o['spec'] : undefined;
  switch (`${group}/${obj.kind}`) {
    case 'apps/Deployment':
    case 'apps/ReplicaSet':
      return spec && workloadRefusal(spec, obj.kind, []);
    case 'apps/DaemonSet':
      return spec && workloadRefusal(spec, obj.kind, []);
    case 'apps/StatefulSet':
      return (
        spec && (claimTemplatesRefusal(spec) ?? workloadRefusal(spec, obj.kind, claimNames(spec)))
      );
    case 'networking.k8s.io/Ingress':
      return spec && ingressRefusal(spec);
    case 'networking.k8s.io/NetworkPolicy':
      return spec && networkPolicyRefusal(spec);
    case 'batch/Job':
      return spec && podTemplateRefusal(spec['template'], 'spec.template', ['OnFailure', 'Never']);
    case 'batch/CronJob':
      return spec && cronJobRefusal(spec);
    case '/ReplicationController':
      return spec && podTemplateRefusal(spec['template'], 'spec.template', ['Always']);
    case '/PodTemplate':
      return podTemplateRefusal(o['template'], 'template', undefined);
    case '/Pod':
      return spec && podSpecRefusal(spec, 'spec');
    case '/Service':
      return spec && serviceRefusal(spec);
    case '/ConfigMap':
      return dataRefusal(o['data'], o['binaryData'], 'binaryData');
    case '/Secret':
      return secretRefusal(o);
    case '/PersistentVolumeClaim':
      return spec && claimRefusal(spec);
    case 'rbac.authorization.k8s.io/Role':
      return rulesRefusal(o['rules'], true);
    case 'rbac.authorization.k8s.io/ClusterRole':
      return o['aggregationRule'] === undefined ? rulesRefusal(o['rules'], false) : undefined;
    case 'rbac.authorization.k8s.io/RoleBinding':
      return bindingRefusal(o, true);
    case 'rbac.authorization.k8s.io/ClusterRoleBinding':
      return bindingRefusal(o, false);
    default:
      return undefined;
  }
}

function claimTemplatesRefusal(spec: Obj): Refusal | undefined {
  for (const [i, t] of records(spec['volumeClaimTemplates']).entries()) {
    const claim = isRecord(t['spec']) ? t['spec'] : {};
    const refused = claimRefusal(claim);
    if (refused)
      return {
        ...refused,
        path: refused.path.replace(/^spec/, `spec.volumeClaimTemplates[${i}].spec`),
      };
  }
  return undefined;
}

function ingressRefusal(spec: Obj): Refusal | undefined {
  const rules = Array.isArray(spec['rules']) ? spec['rules'] : [];
  if (rules.length === 0 && spec['defaultBackend'] === undefined)
    return { path: 'spec', rule: 'needs rules or a defaultBackend' };
  for (const [i, r] of records(rules).entries())
    for (const [j, p] of records(isRecord(r['http']) ? r['http']['paths'] : undefined).entries()) {
      const path = p['path'];
      const type = p['pathType'];
      if (
        (type === 'Prefix' || type === 'Exact') &&
        !(typeof path === 'string' && path.startsWith('/'))
      )
        return {
          path: `spec.rules[${i}].http.paths[${j}].path`,
          rule: `must be an absolute path (start with "/") for pathType ${type}`,
        };
      const backend = isRecord(p['backend']) ? p['backend'] : undefined;
      if (backend && backend['service'] === undefined && backend['resource'] === undefined)
        return {
          path: `spec.rules[${i}].http.paths[${j}].backend`,
          rule: 'must name a service or a resource',
        };
      const service = backend && isRecord(backend['service']) ? backend['service'] : undefined;
      const port = service && isRecord(service['port']) ? service['port'] : undefined;
      if (port) {
        const named = typeof port['name'] === 'string' && port['name'] !== '';
        const numbered = typeof port['number'] === 'number' && port['number'] !== 0;
        if (named === numbered)
          return {
            path: `spec.rules[${i}].http.paths[${j}].backend.service.port`,
            rule: 'must have a name or a number, not both',
          };
      }
    }
  return undefined;
}

function networkPolicyRefusal(spec: Obj): Refusal | undefined {
  for (const [direction, peers] of [
    ['ingress', 'from'],
    ['egress', 'to'],
  ] as const)
    for (const [i, r] of records(spec[direction]).entries()) {
      for (const [j, port] of records(r['ports']).entries()) {
        const number = port['port'];
        if (typeof number === 'number' && (number < 1 || number > 65535))
          return {
            path: `spec.${direction}[${i}].ports[${j}].port`,
            rule: `${number} must be between 1 and 65535`,
          };
      }
      for (const [j, peer] of records(r[peers]).entries())
        if (Object.keys(peer).length === 0)
          return {
            path: `spec.${direction}[${i}].${peers}[${j}]`,
            rule: 'must have a podSelector, a namespaceSelector or an ipBlock',
          };
    }
  return undefined;
}

/** The names of a StatefulSet's claim templates: its pods mount them as volumes. */
function claimNames(spec: Obj): string[] {
  return records(spec['volumeClaimTemplates']).flatMap((t) => {
    const name = isRecord(t['metadata']) ? t['metadata']['name'] : undefined;
    return typeof name === 'string' ? [name] : [];
  });
}

function workloadRefusal(spec: Obj, kind: string, claims: string[]): Refusal | undefined {
  if (typeof spec['replicas'] === 'number' && spec['replicas'] < 0)
    return { path: 'spec.replicas', rule: 'must be greater than or equal to 0' };
  const selector = spec['selector'];
  const template = isRecord(spec['template']) ? spec['template'] : {};
  const meta = isRecord(template['metadata']) ? template['metadata'] : {};
  const labels = isRecord(meta['labels']) ? meta['labels'] : {};
  if (isRecord(selector)) {
    const matches = selects(selector, labels);
    if (matches === 'empty')
      return { path: 'spec.selector', rule: `empty selector is invalid for ${kind.toLowerCase()}` };
    if (matches === false)
      return {
        path: 'spec.template.metadata.labels',
        rule: `the ${kind}'s spec.selector does not select them (the selector must match the pod template's labels)`,
      };
  }
  if (kind === 'Deployment') {
    const strategy = isRecord(spec['strategy']) ? spec['strategy'] : {};
    const rolling = strategy['rollingUpdate'];
    if (strategy['type'] === 'Recreate' && rolling !== undefined && rolling !== null)
      return {
        path: 'spec.strategy.rollingUpdate',
        rule: 'may not be set when spec.strategy.type is Recreate',
      };
    if (isRecord(rolling) && isZero(rolling['maxSurge']) && isZero(rolling['maxUnavailable']))
      return {
        path: 'spec.strategy.rollingUpdate.maxUnavailable',
        rule: 'may not be 0 when maxSurge is 0',
      };
  }
  return podTemplateRefusal(spec['template'], 'spec.template', ['Always'], claims);
}

const isZero = (v: unknown) => v === 0 || v === '0' || v === '0%';

/**
 * Whether a label selector selects `labels`: 'empty' for a selector that
 * selects nothing by rule (no terms), undefined when it cannot be judged.
 */
function selects(selector: Obj, labels: Obj): boolean | 'empty' | undefined {
  const matchLabels = isRecord(selector['matchLabels']) ? selector['matchLabels'] : {};
  const expressions = Array.isArray(selector['matchExpressions'])
    ? selector['matchExpressions']
    : [];
  if (Object.keys(matchLabels).length === 0 && expressions.length === 0) return 'empty';
  for (const [k, v] of Object.entries(matchLabels)) if (labels[k] !== v) return false;
  for (const e of expressions) {
    if (!isRecord(e) || typeof e['key'] !== 'string') return undefined;
    const values = Array.isArray(e['values']) ? e['values'] : [];
    const has = Object.hasOwn(labels, e['key']);
    const value = labels[e['key']];
    switch (e['operator']) {
      case 'In':
        if (!has || !values.includes(value)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(value)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return undefined;
    }
  }
  return true;
}

function cronJobRefusal(spec: Obj): Refusal | undefined {
  const schedule = spec['schedule'];
  if (typeof schedule === 'string' && schedule !== '') {
    if (/^\s*(CRON_)?TZ=/.test(schedule))
      return {
        path: 'spec.schedule',
        rule: 'may not set TZ or CRON_TZ: use spec.timeZone',
      };
    // Five fields, or a descriptor such as @hourly (robfig/cron's standard parser, which
    // splits at Go's white space: not JavaScript's \s, which lacks U+0085).
    const fields = schedule.split(GO_SPACE).filter((f) => f !== '');
    if (!fields[0]?.startsWith('@') && fields.length !== 5)
      return {
        path: 'spec.schedule',
        rule: `${JSON.stringify(schedule)} must be a cron schedule of five fields (minute hour day month weekday) or a descriptor such as @hourly`,
      };
  }
  const job = isRecord(spec['jobTemplate']) ? spec['jobTemplate'] : {};
  const jobSpec = isRecord(job['spec']) ? job['spec'] : {};
  return podTemplateRefusal(jobSpec['template'], 'spec.jobTemplate.spec.template', [
    'OnFailure',
    'Never',
  ]);
}

/** `restartPolicies`: the ones the owner kind takes (undefined: any); unset means Always. */
function podTemplateRefusal(
  template: unknown,
  path: string,
  restartPolicies: readonly string[] | undefined,
  claims: readonly string[] = [],
): Refusal | undefined {
  if (!isRecord(template)) return undefined;
  const meta = isRecord(template['metadata']) ? template['metadata'] : {};
  const labels = labelsRefusal(meta['labels'], `${path}.metadata.labels`);
  if (labels) return labels;
  const spec = isRecord(template['spec']) ? template['spec'] : undefined;
  if (!spec) return undefined;
  const restart = spec['restartPolicy'] === undefined ? 'Always' : spec['restartPolicy'];
  if (restartPolicies && typeof restart === 'string' && !restartPolicies.includes(restart))
    return {
      path: `${path}.spec.restartPolicy`,
      rule: `${JSON.stringify(restart)}${spec['restartPolicy'] === undefined ? ' (the default)' : ''} is not taken here: must be one of ${listed(restartPolicies)}`,
    };
  return podSpecRefusal(spec, `${path}.spec`, claims);
}

/** `claims`: volumes the owner adds (a StatefulSet's claim templates). */
function podSpecRefusal(
  spec: Obj,
  path: string,
  claims: readonly string[] = [],
): Refusal | undefined {
  const volumes = new Set<string>();
  for (const [i, v] of records(spec['volumes']).entries()) {
    const name = v['name'];
    if (typeof name !== 'string' || name === '') continue;
    if (!DNS_LABEL.test(name))
      return { path: `${path}.volumes[${i}].name`, rule: `${JSON.stringify(name)} ${LABEL_RULE}` };
    if (volumes.has(name))
      return {
        path: `${path}.volumes[${i}].name`,
        rule: `${JSON.stringify(name)} is used by another volume`,
      };
    volumes.add(name);
  }
  for (const [i, t] of records(spec['tolerations']).entries()) {
    const key = t['key'];
    if ((key === undefined || key === '') && t['operator'] !== 'Exists')
      return {
        path: `${path}.tolerations[${i}].operator`,
        rule: 'must be Exists when the key is empty (a toleration of every taint)',
      };
  }
  const mountable = new Set([...volumes, ...claims]);
  const names = new Set<string>();
  for (const list of ['initContainers', 'containers'] as const) {
    for (const [i, c] of records(spec[list]).entries()) {
      const at = `${path}.${list}[${i}]`;
      const name = c['name'];
      if (typeof name === 'string' && name !== '') {
        if (!DNS_LABEL.test(name))
          return { path: `${at}.name`, rule: `${JSON.stringify(name)} ${LABEL_RULE}` };
        if (names.has(name))
          return {
            path: `${at}.name`,
            rule: `${JSON.stringify(name)} is used by another container`,
          };
        names.add(name);
      }
      const refused = containerRefusal(c, at, mountable);
      if (refused) return refused;
    }
  }
  return undefined;
}

function containerRefusal(c: Obj, at: string, volumes: ReadonlySet<string>): Refusal | undefined {
  const portNames = new Set<string>();
  for (const [i, p] of records(c['ports']).entries()) {
    const port = p['containerPort'];
    if (typeof port === 'number' && (port < 0 || port > 65535))
      return {
        path: `${at}.ports[${i}].containerPort`,
        rule: `${port} must be between 1 and 65535`,
      };
    const host = p['hostPort'];
    if (typeof host === 'number' && (host < 0 || host > 65535))
      return { path: `${at}.ports[${i}].hostPort`, rule: `${host} must be between 1 and 65535` };
    const name = p['name'];
    if (typeof name === 'string' && name !== '') {
      const bad = portNameProblem(name);
      if (bad) return { path: `${at}.ports[${i}].name`, rule: `${JSON.stringify(name)} ${bad}` };
      if (portNames.has(name))
        return {
          path: `${at}.ports[${i}].name`,
          rule: `${JSON.stringify(name)} names another port`,
        };
      portNames.add(name);
    }
  }
  for (const [i, e] of records(c['env']).entries()) {
    const from = e['valueFrom'];
    if (isRecord(from) && Object.keys(from).length === 0)
      return {
        path: `${at}.env[${i}].valueFrom`,
        rule: 'must name a source (configMapKeyRef, secretKeyRef, fieldRef, ...)',
      };
  }
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    const p = c[probe];
    if (!isRecord(p)) continue;
    if (Object.keys(p).every((k) => PROBE_SETTINGS.has(k)))
      return {
        path: `${at}.${probe}`,
        rule: 'must have a handler (exec, httpGet, tcpSocket or grpc)',
      };
    for (const action of ['httpGet', 'tcpSocket']) {
      const a = p[action];
      if (!isRecord(a)) continue;
      const bad = portRefProblem(a['port']);
      if (bad) return { path: `${at}.${probe}.${action}.port`, rule: bad };
    }
  }
  const resources = isRecord(c['resources']) ? c['resources'] : {};
  const limits = isRecord(resources['limits']) ? resources['limits'] : {};
  const requests = isRecord(resources['requests']) ? resources['requests'] : {};
  for (const [which, values] of [
    ['limits', limits],
    ['requests', requests],
  ] as const)
    for (const [k, v] of Object.entries(values)) {
      const q = parseQuantity(v);
      if (q && q.n < 0n)
        return {
          path: `${at}.resources.${which}[${k}]`,
          rule: `${JSON.stringify(v)} must be greater than or equal to 0`,
        };
    }
  for (const [k, v] of Object.entries(requests)) {
    if (!Object.hasOwn(limits, k)) continue;
    const request = parseQuantity(v);
    const limit = parseQuantity(limits[k]);
    if (request && limit && compare(request, limit) > 0)
      return {
        path: `${at}.resources.requests[${k}]`,
        rule: `${JSON.stringify(v)} must be less than or equal to the ${k} limit of ${JSON.stringify(limits[k])}`,
      };
  }
  const mountPaths = new Set<string>();
  for (const [i, m] of records(c['volumeMounts']).entries()) {
    const name = m['name'];
    if (typeof name === 'string' && name !== '' && !volumes.has(name))
      return {
        path: `${at}.volumeMounts[${i}].name`,
        rule: `${JSON.stringify(name)} names no volume of the pod`,
      };
    const mountPath = m['mountPath'];
    if (typeof mountPath === 'string' && mountPath !== '') {
      if (mountPaths.has(mountPath))
        return {
          path: `${at}.volumeMounts[${i}].mountPath`,
          rule: `${JSON.stringify(mountPath)} is mounted twice (must be unique)`,
        };
      mountPaths.add(mountPath);
    }
  }
  return undefined;
}

/** The fields of a probe that are not its handler. */
const PROBE_SETTINGS = new Set([
  'initialDelaySeconds',
  'timeoutSeconds',
  'periodSeconds',
  'successThreshold',
  'failureThreshold',
  'terminationGracePeriodSeconds',
]);

/** Why `name` is not an IANA service name (a port name), or undefined. */
function portNameProblem(name: string): string | undefined {
  if (
    name.length > 15 ||
    !/^[-a-z0-9]+$/.test(name) ||
    !/[a-z]/.test(name) ||
    name.startsWith('-') ||
    name.endsWith('-') ||
    name.includes('--')
  )
    return 'must be an IANA service name: at most 15 lower-case letters, digits and "-", with at least one letter, no "-" at either end and no "--"';
  return undefined;
}

/** Why a port reference (a number or a port name) is refused, or undefined. */
function portRefProblem(port: unknown): string | undefined {
  if (typeof port === 'number')
    return port >= 1 && port <= 65535 ? undefined : `${port} must be between 1 and 65535`;
  if (typeof port === 'string' && port !== '') {
    if (/^\d+$/.test(port)) return undefined;
    const bad = portNameProblem(port);
    return bad && `${JSON.stringify(port)} ${bad}`;
  }
  return undefined;
}

function serviceRefusal(spec: Obj): Refusal | undefined {
  const type = spec['type'] ?? 'ClusterIP';
  const headless = spec['clusterIP'] === 'None';
  const ports = Array.isArray(spec['ports']) ? spec['ports'] : [];
  if (type !== 'ExternalName' && !headless && ports.length === 0)
    return {
      path: 'spec.ports',
      rule: 'required (at least one port, unless the Service is headless or of type ExternalName)',
    };
  const names = new Set<string>();
  for (const [i, p] of records(spec['ports']).entries()) {
    const at = `spec.ports[${i}]`;
    const name = p['name'];
    if (ports.length > 1 && (name === undefined || name === ''))
      return { path: `${at}.name`, rule: 'required when the Service has more than one port' };
    if (typeof name === 'string' && name !== '') {
      if (!DNS_LABEL.test(name))
        return { path: `${at}.name`, rule: `${JSON.stringify(name)} ${LABEL_RULE}` };
      if (names.has(name))
        return { path: `${at}.name`, rule: `${JSON.stringify(name)} names another port` };
      names.add(name);
    }
    const port = p['port'];
    if (typeof port === 'number' && (port < 0 || port > 65535))
      return { path: `${at}.port`, rule: `${port} must be between 1 and 65535` };
    const target = p['targetPort'];
    // 0 and "" are unset: the server sets the port.
    if (target !== 0 && target !== '') {
      const bad = portRefProblem(target);
      if (bad) return { path: `${at}.targetPort`, rule: bad };
    }
  }
  return undefined;
}

function configKeyProblem(key: string): string | undefined {
  if (key.length > 253 || !CONFIG_KEY.test(key))
    return 'must be at most 253 letters, digits, "-", "_" and "."';
  if (key === '.' || key === '..' || key.startsWith('..'))
    return 'may not be "." or start with ".."';
  return undefined;
}

/** Keys of `data` and `other` (a second map, by name `otherName`), and their total size. */
function dataRefusal(data: unknown, other: unknown, otherName: string): Refusal | undefined {
  // Bytes per key: the second map wins a key both hold (a Secret's stringData over its data).
  const sizes = new Map<string, number>();
  for (const [map, name] of [
    [data, 'data'],
    [other, otherName],
  ] as const) {
    if (!isRecord(map)) continue;
    for (const [k, v] of Object.entries(map)) {
      const bad = configKeyProblem(k);
      if (bad) return { path: `${name}[${k}]`, rule: `key ${JSON.stringify(k)} ${bad}` };
      if (sizes.has(k) && name === 'binaryData')
        return { path: `${name}[${k}]`, rule: `key ${JSON.stringify(k)} is also in data` };
      // base64 in binaryData and in a Secret's data: the server counts the decoded bytes.
      const encoded = name === 'binaryData' || (name === 'data' && otherName === 'stringData');
      if (typeof v === 'string')
        sizes.set(
          k,
          // Line breaks in base64 are skipped by the server's decoder.
          encoded
            ? Math.floor((v.replace(/[\r\n]/g, '').replace(/=+$/, '').length * 3) / 4)
            : Buffer.byteLength(v),
        );
    }
  }
  let bytes = 0;
  for (const b of sizes.values()) bytes += b;
  return bytes > MAX_DATA_BYTES
    ? { path: 'data', rule: `${bytes} bytes: may hold at most ${MAX_DATA_BYTES} bytes in all` }
    : undefined;
}

/** Keys each Secret type needs (in data or stringData), as core validation requires them. */
const SECRET_KEYS: Record<string, readonly string[]> = {
  'kubernetes.io/tls': ['tls.crt', 'tls.key'],
  'kubernetes.io/dockerconfigjson': ['.dockerconfigjson'],
  'kubernetes.io/dockercfg': ['.dockercfg'],
  'kubernetes.io/ssh-auth': ['ssh-privatekey'],
};

function secretRefusal(o: Obj): Refusal | undefined {
  const keys = dataRefusal(o['data'], o['stringData'], 'stringData');
  if (keys) return keys;
  const type = typeof o['type'] === 'string' ? o['type'] : 'Opaque';
  const has = (k: string) =>
    (isRecord(o['data']) && Object.hasOwn(o['data'], k)) ||
    (isRecord(o['stringData']) && Object.hasOwn(o['stringData'], k));
  const missing = SECRET_KEYS[type]?.find((k) => !has(k));
  if (missing) return { path: `data[${missing}]`, rule: `required in a Secret of type ${type}` };
  if (type === 'kubernetes.io/basic-auth' && !has('username') && !has('password'))
    return {
      path: 'data[username]',
      rule: 'a Secret of type kubernetes.io/basic-auth needs username or password',
    };
  const meta = isRecord(o['metadata']) ? o['metadata'] : {};
  const annotations = isRecord(meta['annotations']) ? meta['annotations'] : {};
  if (
    type === 'kubernetes.io/service-account-token' &&
    !annotations['kubernetes.io/service-account.name']
  )
    return {
      path: 'metadata.annotations[kubernetes.io/service-account.name]',
      rule: 'required in a Secret of type kubernetes.io/service-account-token',
    };
  return undefined;
}

const ACCESS_MODES = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'];

function claimRefusal(spec: Obj): Refusal | undefined {
  const modes = spec['accessModes'];
  if (modes === undefined || (Array.isArray(modes) && modes.length === 0))
    return { path: 'spec.accessModes', rule: 'required (at least one access mode)' };
  if (Array.isArray(modes))
    for (const [i, m] of modes.entries())
      if (typeof m === 'string' && !ACCESS_MODES.includes(m))
        return {
          path: `spec.accessModes[${i}]`,
          rule: `${JSON.stringify(m)} must be one of ${listed(ACCESS_MODES)}`,
        };
  const resources = isRecord(spec['resources']) ? spec['resources'] : {};
  const requests = isRecord(resources['requests']) ? resources['requests'] : {};
  if (requests['storage'] === undefined)
    return { path: 'spec.resources.requests[storage]', rule: 'required' };
  return undefined;
}

function rulesRefusal(rules: unknown, namespaced: boolean): Refusal | undefined {
  for (const [i, r] of records(rules).entries()) {
    const at = `rules[${i}]`;
    const urls = Array.isArray(r['nonResourceURLs']) ? r['nonResourceURLs'] : [];
    const size = (k: string) => (Array.isArray(r[k]) ? (r[k] as unknown[]).length : 0);
    if (urls.length > 0) {
      if (namespaced)
        return {
          path: `${at}.nonResourceURLs`,
          rule: 'a Role (namespaced) may not grant non-resource URLs',
        };
      if (size('apiGroups') + size('resources') + size('resourceNames') > 0)
        return {
          path: `${at}.nonResourceURLs`,
          rule: 'a rule may not name both resources and non-resource URLs',
        };
      continue;
    }
    if (size('apiGroups') === 0)
      return {
        path: `${at}.apiGroups`,
        rule: 'required: a resource rule needs at least one API group ("" for the core group)',
      };
    if (size('resources') === 0)
      return {
        path: `${at}.resources`,
        rule: 'required: a resource rule needs at least one resource',
      };
  }
  return undefined;
}

const RBAC_GROUP = 'rbac.authorization.k8s.io';

function bindingRefusal(o: Obj, namespaced: boolean): Refusal | undefined {
  const roleRef = isRecord(o['roleRef']) ? o['roleRef'] : {};
  const kinds = namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole'];
  if (
    typeof roleRef['kind'] === 'string' &&
    roleRef['kind'] !== '' &&
    !kinds.includes(roleRef['kind'])
  )
    return {
      path: 'roleRef.kind',
      rule: `${JSON.stringify(roleRef['kind'])} must be one of ${listed(kinds)}`,
    };
  const group = roleRef['apiGroup'];
  if (typeof group === 'string' && group !== '' && group !== RBAC_GROUP)
    return {
      path: 'roleRef.apiGroup',
      rule: `${JSON.stringify(group)} must be ${JSON.stringify(RBAC_GROUP)}`,
    };
  for (const [i, s] of records(o['subjects']).entries()) {
    const at = `subjects[${i}]`;
    const kind = s['kind'];
    const apiGroup = s['apiGroup'];
    if (kind === 'ServiceAccount') {
      if (typeof apiGroup === 'string' && apiGroup !== '')
        return { path: `${at}.apiGroup`, rule: 'must be "" for a ServiceAccount' };
      if (!namespaced && (s['namespace'] === undefined || s['namespace'] === ''))
        return {
          path: `${at}.namespace`,
          rule: 'required for a ServiceAccount of a ClusterRoleBinding',
        };
    } else if (kind === 'User' || kind === 'Group') {
      if (typeof apiGroup === 'string' && apiGroup !== '' && apiGroup !== RBAC_GROUP)
        return {
          path: `${at}.apiGroup`,
          rule: `${JSON.stringify(apiGroup)} must be ${JSON.stringify(RBAC_GROUP)}`,
        };
    } else if (typeof kind === 'string' && kind !== '') {
      return {
        path: `${at}.kind`,
        rule: `${JSON.stringify(kind)} must be one of "ServiceAccount", "User", "Group"`,
      };
    }
  }
  return undefined;
}

/** An exact quantity: `n` × 10^`e` (binary suffixes folded into `n`). */
interface Quantity {
  n: bigint;
  e: number;
}

const SUFFIXES: Record<string, [bigint, number]> = {
  '': [1n, 0],
  m: [1n, -3],
  k: [1n, 3],
  M: [1n, 6],
  G: [1n, 9],
  T: [1n, 12],
  P: [1n, 15],
  E: [1n, 18],
  Ki: [2n ** 10n, 0],
  Mi: [2n ** 20n, 0],
  Gi: [2n ** 30n, 0],
  Ti: [2n ** 40n, 0],
  Pi: [2n ** 50n, 0],
  Ei: [2n ** 60n, 0],
};

/** A quantity (as the server's api/resource grammar writes it), exactly; undefined if it does not parse. */
export function parseQuantity(value: unknown): Quantity | undefined {
  if (typeof value === 'number')
    return Number.isSafeInteger(value) ? { n: BigInt(value), e: 0 } : undefined;
  // Longer ones are not judged: no real quantity needs them, and a huge BigInt costs time.
  if (typeof value !== 'string' || value.length > 64) return undefined;
  const m = /^([+-]?)(\d*)(?:\.(\d*))?((?:[KMGTPE]i)|[mkMGTPE]|[eE][+-]?\d+)?$/.exec(value);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  const [, sign, whole = '', frac = '', suffix = ''] = m;
  let n = BigInt(`${whole}${frac}` || '0');
  let e = -frac.length;
  if (/^[eE]/.test(suffix)) e += Number(suffix.slice(1));
  else {
    const s = SUFFIXES[suffix];
    if (!s) return undefined;
    n *= s[0];
    e += s[1];
  }
  // Far beyond any real quantity: not judged (and not worth a huge power of ten).
  if (Math.abs(e) > 64) return undefined;
  return { n: sign === '-' ? -n : n, e };
}

/** -1, 0 or 1 as `a` is less than, equal to or greater than `b`. */
export function compare(a: Quantity, b: Quantity): number {
  const e = Math.min(a.e, b.e);
  const x = a.n * 10n ** BigInt(a.e - e);
  const y = b.n * 10n ** BigInt(b.e - e);
  return x < y ? -1 : x > y ? 1 : 0;
}
