// Best-effort check of where a host *name* points, for when someone else dials it: the host's forward proxy
// resolves the names it is handed itself, so the egress policy's resolved-address rule is applied here beforehand.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { decideResolvedAddress, type EgressOptions } from '../egress-policy.ts';
import type { Networking } from '../hands.ts';

export interface ResolveCheckOptions extends EgressOptions {
  /** Resolves a name to all its addresses (tests answer for names no DNS knows); `dns.promises.lookup` otherwise. */
  resolve?: (host: string) => Promise<string[]>;
}

/**
 * Why `host` must not be handed to a dialer that resolves it itself (a parent proxy), or undefined when every
 * address it resolves to is one `decideResolvedAddress` allows. All addresses are judged, not the first: the
 * other dialer may pick any of them. A name this machine cannot resolve passes: behind a forward proxy the host
 * often has no DNS of its own for outside names (the proxy resolves them, on its own machine, where a name for
 * 127.0.0.1 is the proxy's loopback, not ours), and refusing those would close the sandbox off entirely.
 * An IP literal is not looked up and passes (undefined): `decideEgress` judges literals, and the caller has.
 *
 * Best effort only: the other dialer resolves the name again, so a name whose answer changes between the two
 * lookups (DNS rebinding with a TTL of 0) can still reach an address refused here. Dialing the checked address
 * ourselves is the only sure way, which a parent proxy rules out.
 */
export async function refusedResolution(networking: Networking, host: string, options: ResolveCheckOptions = {}): Promise<string | undefined> {
  const name = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(name)) return undefined;
  let addresses: string[];
  try {
    addresses = await (options.resolve ?? lookupAll)(name);
  } catch {
    return undefined;
  }
  for (const address of addresses) {
    const decision = decideResolvedAddress(networking, name, address, options);
    if (!decision.allow) return decision.reason;
  }
  return undefined;
}

async function lookupAll(host: string): Promise<string[]> {
  return (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
}
