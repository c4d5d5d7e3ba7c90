// What a session's sandbox may read, write and reach: the `@anthropic-ai/sandbox-runtime` configuration and
// network policy for one session, in one place so every rule and its reason can be read together.
import { homedir, networkInterfaces } from 'node:os';
import path from 'node:path';
import type { SandboxAskCallback, SandboxRuntimeConfig } from '@anthropic-ai/sandbox-runtime';
import type { SandboxCredential } from '../credentials.ts';
import { canonicalAddress, decideEgress, normalizeRule, PACKAGE_REGISTRY_HOSTS, type EgressOptions } from '../egress-policy.ts';
import type { Networking } from '../hands.ts';
import { credentialFilter } from './credential-filter.ts';

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

/**
 * What an allowed *name* must not resolve to (DNS rebinding to the LAN), in either networking: sandbox-runtime's
 * resolved-address guard already refuses loopback, link-local, unspecified and this host's own addresses for
 * every name, and lets a name reach one of these only when that address is itself in `allowedDomains` (which
 * `networkConfig` fills with the IP literals of `allowed_hosts`). IP literals are judged by the shared egress
 * policy, as `decideResolvedAddress` does for the providers that resolve names themselves.
 */
const PRIVATE_CIDRS = ['10.0.0.0/8', '100.64.0.0/10', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'];

/** The addresses of this machine's network interfaces, read when asked: they change as interfaces come and go. */
export function selfAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
}

/** The egress options of the local provider: this machine's own addresses are never reachable. */
function localEgressOptions(): EgressOptions {
  return { packageRegistryHosts: PACKAGE_REGISTRY_HOSTS, selfAddresses: selfAddresses() };
}

/**
 * The sandbox-runtime configuration of one session. Reads are allowed by default and denied where secrets
 * live; writes are denied by default and allowed in the workspace only; the network namespace is empty, so
 * the proxy (and `networkPolicy`) is the only way out. With credentials, the proxy also substitutes their
 * values (see `networkConfig`).
 */
export function sandboxConfig(paths: IsolationPaths, networking: Networking, credentials: readonly SandboxCredential[] = []): SandboxRuntimeConfig {
  const homes = [homedir(), '/home', '/root'];
  // a Node installed under a home (nvm, volta) must still start: re-open its install prefix, <prefix>/bin/node
  const nodePrefix = path.dirname(path.dirname(paths.nodeBinary));
  const nodeUnderHome = homes.some((home) => nodePrefix.startsWith(`${home}/`));
  return {
    network: networkConfig(networking, credentials),
    filesystem: {
      denyRead: [
        // the user's files: SSH keys, cloud and git credentials, shell history
        ...homes,
        // source, .git, .dev.vars, and the default state dir (.edgeharness) inside the checkout
        paths.projectRoot,
        // the runtime's state wherever it is: secrets, the Durable Objects' data, other sessions' workspaces
        ...paths.hiddenState,
        // the host's temp dirs hold other programs' (and other runtimes') files; denying /tmp gives the
        // sandbox an empty private tmpfs there instead
        '/tmp', '/var/tmp',
        // per-user runtime dirs: session bus, keyrings, agent sockets
        '/run/user',
      ],
      allowRead: [
        // allowRead beats denyRead, so each entry re-opens exactly one thing inside a denied region
        paths.workspace,
        path.join(paths.projectRoot, 'node_modules'), // the Node binary (npm's `node` package) and the SDK's toolset
        path.join(paths.projectRoot, 'package.json'), // `"type": "module"`, which Node reads to load the runner
        paths.toolRunner,
        ...(nodeUnderHome ? [nodePrefix] : []),
      ],
      allowWrite: [paths.workspace],
      denyWrite: [],
    },
  };
}

function networkConfig(networking: Networking, credentials: readonly SandboxCredential[]): SandboxRuntimeConfig['network'] {
  return {
    // Names are never allowed here: every destination goes to `networkPolicy`, so both providers apply the one
    // rule in sandbox/egress-policy.ts, with its reasons. Only the IP literals `limited` lists are named, because
    // sandbox-runtime lets an allowed name resolve to a private or loopback address only when that address is
    // itself in this list.
    allowedDomains: listedLiterals(networking),
    // The machine itself is refused by `networkPolicy` when named by a literal (with the policy's reason), and by
    // sandbox-runtime's resolved-address guard when a name resolves to it (loopback and this host's addresses).
    deniedDomains: [],
    deniedResolvedAddresses: PRIVATE_CIDRS,
    // A session without credentials keeps the plain proxy: no request hook, HTTPS tunnelled untouched.
    ...(credentials.length > 0
      ? {
          filterRequest: credentialFilter(credentials),
          // the filter sets headers on plain HTTP only towards loopback; it refuses cleartext to any other host
          allowPlaintextHeaderSet: true,
          // HTTPS is terminated with an ephemeral CA (which sandbox-runtime makes the sandbox trust, and
          // re-opens for reading inside the denied /tmp) so the filter sees those requests too. Upstreams are
          // verified against the system roots plus the host's NODE_EXTRA_CA_CERTS.
          tlsTerminate: {},
          // the filter does not judge paths, so no reading of an ambiguous one gets around it: forward the
          // client's bytes, as a tunnel without the filter would, instead of refusing them
          ambiguousRequestTarget: 'asSpelled' as const,
        }
      : {}),
  };
}

/**
 * Decides each destination the sandbox asks the proxy for, by the shared egress policy. A refusal's reason
 * reaches the client as the status phrase of the proxy's 403 (for CONNECT) and the host's note on the result.
 */
export function networkPolicy(networking: Networking): SandboxAskCallback {
  return async ({ host, port }) => {
    const authority = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    const decision = decideEgress(networking, `http://${authority}:${port}/`, localEgressOptions());
    return decision.allow ? true : { allow: false, reason: decision.reason };
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
