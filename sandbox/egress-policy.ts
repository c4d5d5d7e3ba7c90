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
  /**
   * The addresses of the machine the sandbox's proxy runs on (the local provider passes its network interfaces'
   * addresses). They are refused like loopback: a service bound to 0.0.0.0 answers on every one of them.
   */
  selfAddresses?: readonly string[];
}

/** Said with every refusal of the machine itself, so an operator knows what to do instead. */
const THIS_MACHINE_ADVICE =
  'a server for the agent belongs inside the sandbox, or on a loopback address from 127.0.0.2 up, listed in allowed_hosts as that literal address';

/**
 * Decides whether a sandbox may reach `url`.
 *
 * - Always refused, whatever the networking lists: the machine the runtime runs on, where its own services (API,
 *   model, sandbox host, inspector) listen — `localhost` and `*.localhost`, `127.0.0.1`, `::1`, the unspecified
 *   addresses (`0.0.0.0/8`, `::`, which connect to this machine), in any spelling, IPv4-embedding IPv6 forms
 *   included, and `options.selfAddresses`.
 * - `unrestricted`: any public host; refuses IP literals in loopback, private, carrier-grade NAT, link-local,
 *   multicast or reserved ranges (IPv4, IPv6, and IPv4 embedded in IPv6). A public name that resolves to a
 *   private address is not caught here: this function does no DNS, so the proxy that connects judges the address
 *   it dials with `decideResolvedAddress` (a Cloudflare Worker cannot reach private networks at all).
 * - `limited`: only `allowed_hosts`: an exact host (`api.example.com`, `10.0.0.5`, `[fd00::5]`) or `*.suffix`,
 *   which matches any subdomain of `suffix` but not `suffix` itself; plus the package registries when
 *   `allow_package_managers` is set. Listing a private address or a loopback address other than 127.0.0.1 is the
 *   operator's explicit choice and is honoured. `allow_mcp_servers` opens nothing here: the hands do not know the
 *   agent's MCP servers, so the caller adds their hosts to `allowed_hosts`.
 *
 * Refuses a URL it cannot parse. Host comparison ignores case, a trailing dot and the spelling of an IP literal
 * (`127.1` is `127.0.0.1`); ports are not part of a rule.
 */
export function decideEgress(networking: Networking, url: string | URL, options: EgressOptions = {}): EgressDecision {
  let host: string;
  try {
    host = normalizeHost(new URL(url).hostname);
  } catch {
    return { allow: false, reason: `egress refused: ${String(url)} is not a valid URL` };
  }
  if (host === '') return { allow: false, reason: `egress refused: ${String(url)} has no host` };

  const own = thisMachine(host, options.selfAddresses);
  if (own !== undefined) {
    return {
      allow: false,
      reason: `egress to ${host} refused: ${own} is the machine the runtime itself runs on, which a sandbox may never reach, whatever the environment's networking lists (${THIS_MACHINE_ADVICE})`,
    };
  }

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

/**
 * For a host *name* that `decideEgress` allowed: whether the proxy may dial `address`, what the name resolved to
 * (DNS rebinding). A public address is fine. The machine itself never is. Any other non-public address (private,
 * loopback from 127.0.0.2 up, link-local, carrier-grade NAT, ...) only when the networking is `limited` and lists
 * that very address as a literal: reaching it by name then grants nothing the literal does not. The reason names
 * the class of address, never the address, which the sandbox need not learn. IP literals are judged by
 * `decideEgress` alone.
 */
export function decideResolvedAddress(networking: Networking, host: string, address: string, options: EgressOptions = {}): EgressDecision {
  const name = normalizeHost(host);
  const ip = canonicalAddress(address);
  if (ip === undefined) return { allow: false, reason: `egress to ${name} refused: it resolved to something that is not an IP address` };
  const own = thisMachine(ip, options.selfAddresses);
  if (own !== undefined) {
    return {
      allow: false,
      reason: `egress to ${name} refused: it resolved to the machine the runtime itself runs on (${own.startsWith('this machine') ? 'one of its own addresses' : 'a loopback or unspecified address'}), which a sandbox may never reach (${THIS_MACHINE_ADVICE})`,
    };
  }
  const range = nonPublicRange(ip);
  if (range === undefined) return { allow: true };
  if (networking.type === 'limited' && networking.allowed_hosts.some((rule) => !rule.trim().startsWith('*.') && normalizeRule(rule) === ip)) {
    return { allow: true };
  }
  return {
    allow: false,
    reason: `egress to ${name} refused: it resolved to an address in ${range.replace(/^the /, '')}, which a name may reach only when environment networking is "limited" and that address itself is listed in allowed_hosts`,
  };
}

/**
 * Why an `allowed_hosts` rule can never be honoured because it names the machine the runtime runs on
 * (`localhost`, `127.0.0.1`, `::1`, `0.0.0.0`, in any spelling), or undefined for a rule that may be listed.
 * Environment create and update refuse such rules; `decideEgress` refuses the hosts regardless.
 */
export function thisMachineRule(rule: string): string | undefined {
  const trimmed = rule.trim().toLowerCase();
  if (trimmed.startsWith('*.')) {
    const suffix = normalizeHost(trimmed.slice(2));
    return suffix === 'localhost' || suffix.endsWith('.localhost') ? 'names under localhost always resolve to this machine' : undefined;
  }
  const host = normalizeRule(rule);
  return host === '' ? undefined : thisMachine(host);
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

/**
 * Lowercase, brackets of an IPv6 literal and trailing dots removed, and an IP literal in its canonical
 * spelling (`127.1` and `0x7f.0.0.1` are `127.0.0.1`; `0:0::1` is `::1`), as the URL parser writes it.
 */
export function normalizeHost(hostname: string): string {
  let host = hostname.trim().toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  // every trailing dot: `localhost..` must not pass for a name other than localhost
  while (host.endsWith('.')) host = host.slice(0, -1);
  return canonicalAddress(host) ?? host;
}

/** The canonical spelling of an IP literal (IPv6 without brackets), or undefined for anything that is not one. */
export function canonicalAddress(text: string): string | undefined {
  let host = text.trim().toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const zone = host.indexOf('%');
  if (zone !== -1) host = host.slice(0, zone); // fe80::1%eth0: the zone names an interface, not another address
  if (host.includes(':')) {
    if (!/^[0-9a-f:.]+$/.test(host)) return undefined;
    try {
      return new URL(`http://[${host}]/`).hostname.slice(1, -1);
    } catch {
      return undefined;
    }
  }
  // only forms the URL parser would read as IPv4 (digits, hex and dots); a name stays a name
  if (!/^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$/.test(host)) return undefined;
  try {
    const parsed = new URL(`http://${host}/`).hostname;
    return parseIPv4(parsed) === undefined ? undefined : parsed;
  } catch {
    return undefined;
  }
}

/**
 * The host an `allowed_hosts` rule names, normalized (`*.suffix` kept as a pattern). A rule may be written as a
 * bare host, `host:port`, `[v6]`, or a URL; only the host counts. '' for a rule that names nothing.
 */
export function normalizeRule(rule: string): string {
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

/**
 * Why `host` (normalized) is the machine the proxy runs on — localhost, 127.0.0.1, ::1, an unspecified address,
 * or one of `selfAddresses`, also when embedded in an IPv6 address — or undefined.
 */
function thisMachine(host: string, selfAddresses: readonly string[] = []): string | undefined {
  if (host === 'localhost' || host.endsWith('.localhost')) return 'localhost';
  const v4 = ipv4Of(host);
  if (v4 !== undefined) {
    if (v4 === ipv4(127, 0, 0, 1)) return 'the loopback address 127.0.0.1';
    if (v4 >>> 24 === 0) return 'the unspecified address 0.0.0.0';
  } else {
    const v6 = parseIPv6(host);
    if (v6?.every((g, i) => g === (i === 7 ? 1 : 0))) return 'the loopback address ::1';
    if (v6?.every((g) => g === 0)) return 'the unspecified address ::';
  }
  if (selfAddresses.length > 0) {
    const own = new Set(selfAddresses.map((a) => canonicalAddress(a)).filter((a): a is string => a !== undefined));
    const v4own = new Set([...own].map(ipv4Of).filter((a): a is number => a !== undefined));
    if (own.has(host) || (v4 !== undefined && v4own.has(v4))) return `this machine's own address ${host}`;
  }
  return undefined;
}

/** An IPv4 literal, or the IPv4 address an IPv4-mapped or -compatible IPv6 literal carries, as a number. */
function ipv4Of(host: string): number | undefined {
  const v4 = parseIPv4(host);
  if (v4 !== undefined) return v4;
  const v6 = parseIPv6(host);
  if (v6 === undefined) return undefined;
  const g = (i: number): number => v6[i] ?? 0;
  if (v6.slice(0, 5).every((x) => x === 0) && (g(5) === 0xffff || g(5) === 0) && (g(6) !== 0 || g(5) === 0xffff)) return ((g(6) << 16) | g(7)) >>> 0;
  return undefined;
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

// [first 16-bit group, mask of that group, name]: every IPv6 range below is a prefix of at most 16 bits.
const IPV6_RANGES: ReadonlyArray<readonly [number, number, string]> = [
  [0xfc00, 0xfe00, 'the unique-local range fc00::/7'],
  [0xfe80, 0xffc0, 'the link-local range fe80::/10'],
  [0xfec0, 0xffc0, 'the site-local range fec0::/10'],
  [0xff00, 0xff00, 'the multicast range ff00::/8'],
];

/**
 * Every non-public range the policy knows, as CIDR text, for a proxy that takes a list (sandbox-runtime's
 * `deniedResolvedAddresses`): one table, so a name can never resolve into a range a literal may not name.
 */
export const NON_PUBLIC_CIDRS: readonly string[] = [
  ...IPV4_RANGES.map(([first, prefix]) => `${[first >>> 24, (first >>> 16) & 255, (first >>> 8) & 255, first & 255].join('.')}/${prefix}`),
  '::/128', '::1/128',
  ...IPV6_RANGES.map(([first, mask]) => `${first.toString(16)}::/${16 - Math.log2((~mask & 0xffff) + 1)}`),
];

function ipv6Range(groups: number[]): string | undefined {
  const g = (i: number): number => groups[i] ?? 0;
  const zeroUpTo = (n: number): boolean => groups.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(8)) return 'the unspecified address ::';
  if (zeroUpTo(7) && g(7) === 1) return 'the loopback address ::1';
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4
  // (2002:aabb:ccdd::): a gateway may carry them to the IPv4 address they embed, so that address is judged
  const embedded = (hi: number, lo: number, how: string): string | undefined => {
    const range = ipv4Range(((hi << 16) | lo) >>> 0);
    return range === undefined ? undefined : `${range} (embedded in ${how})`;
  };
  if (zeroUpTo(5) && (g(5) === 0xffff || g(5) === 0)) return embedded(g(6), g(7), 'an IPv6 address');
  if (g(0) === 0x64 && g(1) === 0xff9b && groups.slice(2, 6).every((x) => x === 0)) return embedded(g(6), g(7), 'a NAT64 address');
  if (g(0) === 0x2002) return embedded(g(1), g(2), 'a 6to4 address');
  for (const [first, mask, name] of IPV6_RANGES) if ((g(0) & mask) === first) return name;
  return undefined;
}
