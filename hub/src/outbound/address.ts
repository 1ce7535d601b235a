/**
 * Which addresses the hub may send to: the address classifier and the operator's allow list.
 *
 * Only globally routable unicast addresses are public. Everything else — loopback, link-local
 * (169.254.169.254 is the cloud metadata endpoint), private (RFC 1918), carrier-grade NAT,
 * "this network" (0.0.0.0/8), multicast, broadcast, reserved and documentation ranges, IPv6
 * unique-local (fc00::/7), site-local, and any IPv6 outside global unicast (2000::/3) — is not,
 * and IPv6 forms that embed an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`,
 * 6to4 `2002::/16`) are as public as the IPv4 address they carry. Ranges: IANA's IPv4 and IPv6
 * Special-Purpose Address Registries (RFC 6890), as ipaddr.js names them.
 */
import ipaddr from 'ipaddr.js';
import { TerminalError } from '@driftless/common';

/** An IPv4 or IPv6 address as ipaddr.js parses it. */
type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** Why an address is not public, in words for an error message; keyed by ipaddr.js range. */
const REASONS: Readonly<Record<string, string>> = {
  unspecified: 'an unspecified address ("this host")',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address (cloud metadata endpoints live there)',
  loopback: 'a loopback address',
  carrierGradeNat: 'a carrier-grade NAT address (100.64.0.0/10)',
  private: 'a private address',
  reserved: 'a reserved address',
  as112: 'a reserved address (AS112)',
  amt: 'a reserved address (AMT)',
  benchmarking: 'a benchmarking address',
  uniqueLocal: 'a unique-local IPv6 address (fc00::/7, private)',
  deprecatedSiteLocal: 'a site-local IPv6 address (private)',
  discard: 'a discard-only IPv6 address',
  teredo: 'a Teredo tunnel address',
  as112v6: 'a reserved address (AS112)',
  deprecatedOrchid: 'a reserved address (ORCHID)',
  orchid2: 'a reserved address (ORCHIDv2)',
  droneRemoteIdProtocolEntityTags: 'a reserved address (DRIP)',
  segmentRouting: 'a segment-routing IPv6 address',
};

/** IPv6 ranges that carry an IPv4 address, and where it sits. */
const EMBEDS_IPV4 = new Set(['ipv4Mapped', 'rfc6145', 'rfc6052']);

/** IPv6 global unicast, the only IPv6 space the hub sends to. */
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3') as [ipaddr.IPv6, number];

/**
 * Parses an IP literal the way a URL's host is read (`http://0x7f.1/` is 127.0.0.1, decimal,
 * octal and hex parts alike; IPv6 with or without brackets, zone ids dropped); undefined for a
 * host name.
 */
export function parseIp(text: string): Address | undefined {
  const bare = text.trim().replace(/^\[|\]$/g, '');
  const v6 = bare.includes(':');
  let host: string;
  try {
    // The URL parser reads the literal exactly as the HTTP client will connect to it.
    host = new URL(v6 ? `http://[${bare.replace(/%.*$/, '')}]/` : `http://${bare}/`).hostname;
  } catch {
    return undefined;
  }
  if (v6) return ipaddr.IPv6.parse(host.replace(/^\[|\]$/g, ''));
  return ipaddr.IPv4.isValidFourPartDecimal(host) ? ipaddr.IPv4.parse(host) : undefined;
}

/**
 * Why `address` (an IP literal in any form {@link parseIp} reads) is not a public address the
 * hub may send to, e.g. `a loopback address`; undefined when it is public. Text that is no IP
 * address is refused as such.
 */
export function nonPublicReason(address: string | Address): string | undefined {
  const ip = typeof address === 'string' ? parseIp(address) : address;
  if (!ip) return 'not an IP address';
  if (ip.kind() === 'ipv4') {
    const range = ip.range();
    return range === 'unicast' ? undefined : (REASONS[range] ?? `a special address (${range})`);
  }
  const v6 = ip as ipaddr.IPv6;
  const embedded = embeddedIpv4(v6);
  if (embedded) {
    const why = nonPublicReason(embedded);
    return why && `${why}, in IPv6 form`;
  }
  const range = v6.range();
  if (range !== 'unicast') return REASONS[range] ?? `a special address (${range})`;
  if (!v6.match(GLOBAL_UNICAST_V6)) return 'not a global unicast IPv6 address';
  return undefined;
}

/** The IPv4 address an IPv6 address carries (mapped, translated, NAT64, 6to4), if any. */
function embeddedIpv4(ip: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const range = ip.range();
  const p = ip.parts;
  if (EMBEDS_IPV4.has(range))
    return new ipaddr.IPv4([p[6]! >> 8, p[6]! & 0xff, p[7]! >> 8, p[7]! & 0xff]);
  if (range === '6to4')
    return new ipaddr.IPv4([p[1]! >> 8, p[1]! & 0xff, p[2]! >> 8, p[2]! & 0xff]);
  return undefined;
}

/**
 * What the operator lets the hub send to although it is not public
 * (`--allow-private-destinations`): CIDR ranges (`10.0.0.0/8`, `fd00::/8`), single addresses
 * (`192.168.1.5`), host names (`alertmanager.monitoring.svc`) and host name suffixes
 * (`*.corp.example`). A host name entry trusts whatever the name resolves to.
 */
export class AllowList {
  readonly #ranges: [Address, number][] = [];
  readonly #hosts = new Set<string>();
  readonly #suffixes: string[] = [];
  /** The entries as given, for logs. */
  readonly entries: readonly string[];

  /** Throws {@link AllowListError} naming the first entry that is none of the forms above. */
  constructor(entries: readonly string[]) {
    this.entries = entries.map((e) => e.trim()).filter(Boolean);
    for (const entry of this.entries) {
      if (entry.includes('/')) {
        try {
          this.#ranges.push(ipaddr.parseCIDR(entry));
        } catch {
          throw new AllowListError(entry);
        }
        continue;
      }
      const ip = parseIp(entry);
      if (ip) {
        this.#ranges.push([ip, ip.kind() === 'ipv4' ? 32 : 128]);
        continue;
      }
      const name = normaliseHostName(entry.replace(/^\*\./, ''));
      if (!/^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$/.test(name))
        throw new AllowListError(entry);
      if (entry.startsWith('*.')) this.#suffixes.push(`.${name}`);
      else this.#hosts.add(name);
    }
  }

  /** Whether the host name (not an IP literal) is trusted whatever it resolves to. */
  allowsHost(hostname: string): boolean {
    const name = normaliseHostName(hostname);
    return this.#hosts.has(name) || this.#suffixes.some((s) => name.endsWith(s));
  }

  /** Whether the address lies in an allowed range (an IPv4 range also covers its IPv6 forms). */
  allowsAddress(address: string | Address): boolean {
    const ip = typeof address === 'string' ? parseIp(address) : address;
    if (!ip) return false;
    const forms: Address[] = [ip];
    if (ip.kind() === 'ipv6') {
      const v4 = embeddedIpv4(ip as ipaddr.IPv6);
      if (v4) forms.push(v4);
    }
    return this.#ranges.some(([net, bits]) =>
      forms.some((f) => f.kind() === net.kind() && f.match(net, bits)),
    );
  }
}

/** An `--allow-private-destinations` entry that is no range, address or host name. */
export class AllowListError extends TerminalError {
  override name = 'AllowListError';

  constructor(entry: string) {
    super(
      `"${entry.slice(0, 100)}" is not a CIDR range (10.0.0.0/8), an address, a host name or *.suffix`,
    );
  }
}

/** Lower case without the trailing dot of a fully qualified name. */
export function normaliseHostName(hostname: string): string {
  return hostname.trim().toLowerCase().replace(/\.$/, '');
}
