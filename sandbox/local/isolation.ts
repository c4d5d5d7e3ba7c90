// What a session's sandbox may read, write and reach: the `@anthropic-ai/sandbox-runtime` configuration and
// network policy for one session, in one place so every rule and its reason can be read together.
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { homedir, networkInterfaces } from 'node:os';
import path from 'node:path';
import type { SandboxAskCallback, SandboxRuntimeConfig } from '@anthropic-ai/sandbox-runtime';
import { canonicalAddress, decideEgress, NON_PUBLIC_CIDRS, normalizeRule, PACKAGE_REGISTRY_HOSTS, type EgressOptions } from '../egress-policy.ts';
import { refusedResolution } from './resolve-check.ts';
import { parentProxyFromEnv } from './upstream-dialer.ts';
import type { Networking } from '../hands.ts';

export interface IsolationPaths {
  /** The session's workspace: the only place the sandbox may write (besides its private /tmp). */
  workspace: string;
  /** Every directory the host keeps state in: other sessions' workspaces, idempotency records, the runtime's secrets. */
  hiddenState: string[];
  /** The project checkout: source, `.git`, `.dev.vars`, and by default the runtime's state dir. */
  projectRoot: string;
  /** The one project file the sandbox runs. */
  toolRunner: string;
  /** The Node binary that runs the tool runner. */
  nodeBinary: string;
}


/** The addresses of this machine's network interfaces, read when asked: they change as interfaces come and go. */
export function selfAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
}

/** The egress options of the local provider: this machine's own addresses are never reachable. */
export function localEgressOptions(): EgressOptions {
  return { packageRegistryHosts: PACKAGE_REGISTRY_HOSTS, selfAddresses: selfAddresses() };
}

/**
 * What every sandbox may read of the host's system: programs and libraries (the /bin, /sbin and /lib* links of a
 * merged /usr, or the directories themselves), and /etc for what tools look up there: users and groups, DNS and
 * hosts files, TLS roots, the dynamic loader's cache, alternatives. /proc and /dev are the sandbox's own (a fresh
 * procfs of its pid namespace and a minimal /dev, from bubblewrap). Nothing else of the host is there.
 */
export const SYSTEM_READ_PATHS: readonly string[] = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc'];

/**
 * Secrets inside the system paths: password hashes, sudo rules, TLS and SSH host private keys, Kerberos, VPN and
 * Wi-Fi credentials. The sandbox user cannot read most of them anyway (they are root's, mode 0600 or 0640); hiding
 * them also covers loose permissions and a host that sandboxes as its own user.
 */
const SYSTEM_SECRETS: readonly string[] = [
  '/etc/shadow', '/etc/shadow-', '/etc/gshadow', '/etc/gshadow-', '/etc/security/opasswd',
  '/etc/sudoers', '/etc/sudoers.d', '/etc/ssl/private', '/etc/pki/tls/private', '/etc/letsencrypt',
  '/etc/krb5.keytab', '/etc/credstore', '/etc/credstore.encrypted', '/etc/ipsec.secrets', '/etc/wireguard',
  '/etc/NetworkManager/system-connections', '/etc/ppp/chap-secrets', '/etc/ppp/pap-secrets',
];

/** The secrets of this machine's system paths that exist (a deny of a missing path would mount nothing useful). */
function systemSecrets(): string[] {
  let hostKeys: string[] = [];
  try {
    hostKeys = readdirSync('/etc/ssh').filter((name) => /^ssh_host_.*_key$/.test(name)).map((name) => `/etc/ssh/${name}`);
  } catch {
    // no ssh server keys here
  }
  return [...SYSTEM_SECRETS, ...hostKeys].filter((p) => existsSync(p));
}

/**
 * The sandbox-runtime configuration of one session. Reads are denied by default: the sandbox sees the system paths
 * (minus their secrets), its own workspace, and the few project files the tool runner needs; every other directory
 * of the host is an empty tmpfs inside. Writes are denied by default and allowed in the workspace only (and in the
 * private /tmp). The network namespace is empty, so the proxy (and `networkPolicy`) is the only way out. With
 * credentials, `credentialProxySocket` is where the launcher's credential proxy listens (see `networkConfig`).
 * The sandbox runs as an unprivileged user on top of this (sandbox-user.ts).
 */
export function sandboxConfig(paths: IsolationPaths, networking: Networking, credentialProxySocket?: string): SandboxRuntimeConfig {
  const system = SYSTEM_READ_PATHS.filter((p) => existsSync(p));
  // A Node installed outside the system paths (nvm, volta, /opt) must still start, with its npm: re-open its
  // <prefix>/bin and <prefix>/lib/node_modules, not the whole prefix (nvm's <prefix>/etc/npmrc keeps registry
  // tokens; a Node in ~/.local/bin would open all of ~/.local), nor a prefix that is the root itself.
  const nodePrefix = path.dirname(path.dirname(paths.nodeBinary));
  const nodeModules = projectNodeModules(paths.projectRoot);
  const nodeCovered = [...system, ...nodeModules].some((dir) => paths.nodeBinary.startsWith(`${dir}/`));
  const nodeReads = nodeCovered
    ? []
    : nodePrefix === '/'
      ? [paths.nodeBinary]
      : [path.dirname(paths.nodeBinary), path.join(nodePrefix, 'lib', 'node_modules')].filter((p) => existsSync(p));
  return {
    network: networkConfig(networking, credentialProxySocket),
    filesystem: {
      denyRead: [
        // everything; allowRead re-opens what the tools need. sandbox-runtime turns this into an empty tmpfs over
        // each top-level directory not re-opened (other users' files, /opt, /srv, /var, /run, /mnt, /tmp: a private
        // tmpfs), and leaves /proc and /dev to bubblewrap
        '/',
        // the kernel's view of the host's devices and network interfaces; sandbox-runtime would leave it visible
        '/sys',
        ...systemSecrets(),
        // hidden wherever they are, even inside a re-opened path: the user's files (SSH keys, cloud and git
        // credentials), the source with .git and .dev.vars, and the runtime's state (secrets, the Durable Objects'
        // data, other sessions' workspaces)
        homedir(), paths.projectRoot, ...paths.hiddenState,
      ],
      allowRead: [
        // allowRead beats the '/' deny, so each entry re-opens exactly one thing
        ...system,
        paths.workspace,
        ...nodeModules, // the Node binary (npm's `node` package), the SDK's toolset, sandbox-runtime's seccomp helper
        path.join(paths.projectRoot, 'package.json'), // `"type": "module"`, which Node reads to load the runner
        paths.toolRunner,
        ...nodeReads,
      ],
      allowWrite: [paths.workspace],
      denyWrite: [],
    },
  };
}

/**
 * The project's node_modules, and where it leads when it is a link (worktrees sharing one install): Node and
 * sandbox-runtime open their files by the real path, which the link's own path does not re-open.
 */
function projectNodeModules(projectRoot: string): string[] {
  const linked = path.join(projectRoot, 'node_modules');
  let real = linked;
  try {
    real = realpathSync(linked);
  } catch {
    // none: nothing to follow
  }
  return real === linked ? [linked] : [linked, real];
}

function networkConfig(networking: Networking, credentialProxySocket: string | undefined): SandboxRuntimeConfig['network'] {
  return {
    // Names are never allowed here: every destination goes to `networkPolicy`, so both providers apply the one
    // rule in sandbox/egress-policy.ts, with its reasons. Only the IP literals `limited` lists are named, because
    // sandbox-runtime lets an allowed name resolve to a private or loopback address only when that address is
    // itself in this list.
    allowedDomains: listedLiterals(networking),
    // The machine itself is refused by `networkPolicy` when named by a literal (with the policy's reason), and by
    // sandbox-runtime's resolved-address guard when a name resolves to it (loopback and this host's addresses).
    deniedDomains: [],
    // What an allowed name must not resolve to (DNS rebinding to the LAN), in either networking: every range the
    // policy refuses as a literal. sandbox-runtime lets a name reach one only when that address is itself in
    // `allowedDomains` (filled with the IP literals of `allowed_hosts`), and refuses this host's own addresses too.
    deniedResolvedAddresses: [...NON_PUBLIC_CIDRS],
    // A session without credentials keeps the plain proxy: HTTPS tunnelled untouched. With credentials, every
    // connection sandbox-runtime allows is handed to the launcher's credential proxy (credential-proxy.ts), which
    // substitutes the values, dials the upstream itself under the same egress policy, and scrubs every response of
    // the secrets before the sandbox reads it. `*` is every host: an unrestricted credential applies anywhere, and
    // a response from any host is scrubbed. (sandbox-runtime's schema accepts `*` only in deny lists; its matcher
    // takes it here, and initialize() does not re-validate a configuration given in code.)
    ...(credentialProxySocket !== undefined ? { mitmProxy: { socketPath: credentialProxySocket, domains: ['*'] } } : {}),
  };
}

/**
 * Decides each destination the sandbox asks the proxy for, by the shared egress policy. A refusal's reason
 * reaches the client as the status phrase of the proxy's 403 (for CONNECT) and the host's note on the result.
 */
export function networkPolicy(networking: Networking): SandboxAskCallback {
  // With HTTP(S)_PROXY set, sandbox-runtime hands names to that forward proxy, which resolves them itself and
  // skips the resolved-address guard: judge where a name points here first (best effort, see resolve-check.ts).
  const forwarded = parentProxyFromEnv(process.env) !== undefined;
  return async ({ host, port }) => {
    const authority = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    const options = localEgressOptions();
    const decision = decideEgress(networking, `http://${authority}:${port}/`, options);
    if (!decision.allow) return { allow: false, reason: decision.reason };
    const refused = forwarded ? await refusedResolution(networking, host, options) : undefined;
    return refused === undefined ? true : { allow: false, reason: refused };
  };
}

/** The IP literals in a `limited` allowed_hosts that the policy allows, in sandbox-runtime's spelling (`[v6]`). */
function listedLiterals(networking: Networking): string[] {
  if (networking.type !== 'limited') return [];
  const literals = networking.allowed_hosts
    .map((rule) => canonicalAddress(normalizeRule(rule)))
    .filter((ip): ip is string => ip !== undefined)
    .map((ip) => (ip.includes(':') ? `[${ip}]` : ip))
    .filter((authority) => decideEgress(networking, `http://${authority}/`, localEgressOptions()).allow);
  return [...new Set(literals)];
}
