// The egress policy of a sandbox: given an environment's networking and a URL a tool tries to reach, allow or
// refuse, with a reason the agent can read. Pure (no DNS, no I/O) so every provider's proxy applies the same rule.
import type { Networking } from './hands.ts';

export type EgressDecision = { allow: true } | { allow: false; reason: string };

/** Public package registries that `limited` networking with `allow_package_managers: true` may also reach. */
export const PACKAGE_REGISTRY_HOSTS: readonly string[] = [
  'registry.npmjs.org', 'registry.yarnpkg.com', 'pypi.org', 'files.pythonhosted.org',
  'crates.io', 'static.crates.io', 'index.crates.io', 'proxy.golang.org', 'sum.golang.org',
  'rubygems.org', 'repo.maven.apache.org', 'deb.debian.org', 'security.debian.org',
];

export interface EgressOptions {
  /** Replaces `PACKAGE_REGISTRY_HOSTS` (exact hosts or `*.suffix`), e.g. for a deployment with its own mirror. */
  packageRegistryHosts?: readonly string[];
}

/**
 * Decides whether a sandbox may reach `url`.
 *
 * - `unrestricted`: any public host; refuses `localhost` (and `*.localhost`) and IP literals in loopback,
 *   private, carrier-grade NAT, link-local, unspecified, multicast or reserved ranges (IPv4, IPv6, and IPv4
 *   embedded in IPv6). A public name that resolves to a private address is not caught here: this function does
 *   no DNS, so the proxy that connects must not reach private networks (a Cloudflare Worker cannot).
 * - `limited`: only `allowed_hosts`: an exact host (`api.example.com`, `10.0.0.5`, `[::1]`) or `*.suffix`,
 *   which matches any subdomain of `suffix` but not `suffix` itself; plus the package registries when
 *   `allow_package_managers` is set. Listing a private or loopback host is the operator's explicit choice and
 *   is honoured. `allow_mcp_servers` opens nothing here: the hands do not know the agent's MCP servers, so the
 *   caller adds their hosts to `allowed_hosts`.
 *
 * Refuses a URL it cannot parse. Host comparison ignores case and a trailing dot; ports are not part of a rule.
 */
export function decideEgress(networking: Networking, url: string | URL, options: EgressOptions = {}): EgressDecision {
  let host: string;
  try {
    host = normalizeHost(new URL(url).hostname);
  } catch {
    return { allow: false, reason: `egress refused: ${String(url)} is not a valid URL` };
  }
  if (host === '') return { allow: false, reason: `egress refused: ${String(url)} has no host` };

  if (networking.type === 'unrestricted') {
    const range = nonPublicRange(host);
    if (range === undefined) return { allow: true };
    return {
      allow: false,
      reason: `egress to ${host} refused: ${range} is never reachable from the sandbox (environment networking "unrestricted" allows public hosts only)`,
    };
  }

  if (networking.allowed_hosts.some((rule) => hostMatches(host, rule))) return { allow: true };
  if (networking.allow_package_managers && (options.packageRegistryHosts ?? PACKAGE_REGISTRY_HOSTS).some((rule) => hostMatches(host, rule)))
    return { allow: true };
  const listed = networking.allowed_hosts.length === 0 ? 'none' : networking.allowed_hosts.join(', ');
  return {
    allow: false,
    reason: `egress to ${host} refused: environment networking is "limited" and ${host} is not in allowed_hosts (${listed})`,
  };
}

/** Whether `host` (already normalized) matches one `allowed_hosts` rule: exact, or `*.suffix` for subdomains. */
export function hostMatches(host: string, rule: string): boolean {
  const pattern = normalizeRule(rule);
  if (pattern === '') return false;
  if (pattern.startsWith('*.')) {
    const suffix = pattern.slice(1); // ".example.com"
    return host.length > suffix.length && host.endsWith(suffix);
  }
  return host === pattern;
}

/** Lowercase, brackets of an IPv6 literal and one trailing dot removed. */
export function normalizeHost(hostname: string): string {
  let host = hostname.trim().toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host;
}

// A rule may be written as a bare host, `host:port`, `[v6]`, or a URL; only the host counts.
function normalizeRule(rule: string): string {
  const trimmed = rule.trim().toLowerCase();
  if (trimmed.startsWith('*.')) return `*.${normalizeHost(trimmed.slice(2))}`;
  if (trimmed.includes('://')) {
    try {
      return normalizeHost(new URL(trimmed).hostname);
    } catch {
      return '';
    }
  }
  if (trimmed.startsWith('[')) return normalizeHost(trimmed.slice(0, trimmed.indexOf(']') + 1));
  // One colon is host:port; more than one is a bare IPv6 literal.
  const colons = trimmed.split(':').length - 1;
  return normalizeHost(colons === 1 ? trimmed.slice(0, trimmed.indexOf(':')) : trimmed);
}

/** The name of the non-public range `host` falls in, or undefined for a public host. */
function nonPublicRange(host: string): string | undefined {
  if (host === 'localhost' || host.endsWith('.localhost')) return 'localhost';
  const v4 = parseIPv4(host);
  if (v4 !== undefined) return ipv4Range(v4);
  const v6 = parseIPv6(host);
  if (v6 !== undefined) return ipv6Range(v6);
  return undefined;
}

// [first address, prefix length, name]; checked in order.
const IPV4_RANGES: ReadonlyArray<readonly [number, number, string]> = [
  [ipv4(0, 0, 0, 0), 8, 'the unspecified range 0.0.0.0/8'],
  [ipv4(10, 0, 0, 0), 8, 'the private range 10.0.0.0/8'],
  [ipv4(100, 64, 0, 0), 10, 'the carrier-grade NAT range 100.64.0.0/10'],
  [ipv4(127, 0, 0, 0), 8, 'the loopback range 127.0.0.0/8'],
  [ipv4(169, 254, 0, 0), 16, 'the link-local range 169.254.0.0/16'],
  [ipv4(172, 16, 0, 0), 12, 'the private range 172.16.0.0/12'],
  [ipv4(192, 0, 0, 0), 24, 'the IETF protocol range 192.0.0.0/24'],
  [ipv4(192, 168, 0, 0), 16, 'the private range 192.168.0.0/16'],
  [ipv4(198, 18, 0, 0), 15, 'the benchmarking range 198.18.0.0/15'],
  [ipv4(224, 0, 0, 0), 4, 'the multicast range 224.0.0.0/4'],
  [ipv4(240, 0, 0, 0), 4, 'the reserved range 240.0.0.0/4'],
];

function ipv4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

function ipv4Range(address: number): string | undefined {
  for (const [first, prefix, name] of IPV4_RANGES) {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    if ((address & mask) >>> 0 === first) return name;
  }
  return undefined;
}

// The WHATWG URL parser has already turned 0x7f.1, 2130706433 and friends into dotted-quad form.
function parseIPv4(host: string): number | undefined {
  const parts = host.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return undefined;
  const octets = parts.map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  const [a = 0, b = 0, c = 0, d = 0] = octets;
  return ipv4(a, b, c, d);
}

/** Eight 16-bit groups, or undefined when `host` is not an IPv6 literal. */
function parseIPv6(host: string): number[] | undefined {
  if (!host.includes(':')) return undefined;
  let text = host;
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  // A trailing dotted quad (::ffff:127.0.0.1) becomes two groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = parseIPv4(tail);
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (s: string): number[] | undefined => {
    if (s === '') return [];
    const groups = s.split(':');
    if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
    return groups.map((g) => parseInt(g, 16));
  };
  const head = parse(halves[0] ?? '');
  const rest = halves.length === 2 ? parse(halves[1] ?? '') : [];
  if (head === undefined || rest === undefined) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const missing = 8 - head.length - rest.length;
  if (missing < 1) return undefined;
  return [...head, ...new Array<number>(missing).fill(0), ...rest];
}

function ipv6Range(groups: number[]): string | undefined {
  const g = (i: number): number => groups[i] ?? 0;
  const zeroUpTo = (n: number): boolean => groups.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(8)) return 'the unspecified address ::';
  if (zeroUpTo(7) && g(7) === 1) return 'the loopback address ::1';
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d): judge the embedded IPv4 address.
  if (zeroUpTo(5) && (g(5) === 0xffff || g(5) === 0)) {
    const embedded = ((g(6) << 16) | g(7)) >>> 0;
    const range = ipv4Range(embedded);
    return range === undefined ? undefined : `${range} (embedded in an IPv6 address)`;
  }
  if ((g(0) & 0xfe00) === 0xfc00) return 'the unique-local range fc00::/7';
  if ((g(0) & 0xffc0) === 0xfe80) return 'the link-local range fe80::/10';
  if ((g(0) & 0xffc0) === 0xfec0) return 'the site-local range fec0::/10';
  if ((g(0) & 0xff00) === 0xff00) return 'the multicast range ff00::/8';
  return undefined;
}
