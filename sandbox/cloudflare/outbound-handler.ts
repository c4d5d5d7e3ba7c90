// The Worker-side gate of a Cloudflare sandbox's egress: every HTTP and HTTPS request the container makes is
// intercepted and handed here with the session's networking, then refused (403, saying why) or forwarded.
import { decideEgress, type EgressOptions } from '../egress-policy.ts';
import type { Networking } from '../hands.ts';

/** What the sandbox Durable Object hands its outbound handler (`ctx.params`): stored, so plain JSON. */
export interface EgressParams {
  networking: Networking;
}

export const EGRESS_REFUSED_HEADER = 'x-edgeharness-egress';

/**
 * Applies the egress policy in `params` to one intercepted request. No policy (a container started before its
 * session's networking was set) refuses everything: a sandbox never gets more reach than its environment gives.
 */
export async function applyEgressPolicy(
  request: Request,
  params: unknown,
  forward: (request: Request) => Promise<Response> = (r) => fetch(r),
  options: EgressOptions = {},
): Promise<Response> {
  const networking = networkingOf(params);
  if (networking === undefined) return refuse(`egress to ${hostOf(request.url)} refused: this sandbox has no egress policy yet`);
  const decision = decideEgress(networking, request.url, options);
  if (!decision.allow) return refuse(decision.reason);
  return forward(request);
}

function refuse(reason: string): Response {
  return new Response(`edgeharness: ${reason}\n`, {
    status: 403,
    headers: { 'content-type': 'text/plain; charset=utf-8', [EGRESS_REFUSED_HEADER]: 'refused' },
  });
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

// `params` crossed Durable Object storage and RPC: check its shape rather than trust a cast.
function networkingOf(params: unknown): Networking | undefined {
  if (typeof params !== 'object' || params === null || !('networking' in params)) return undefined;
  const networking: unknown = params.networking;
  if (typeof networking !== 'object' || networking === null || !('type' in networking)) return undefined;
  if (networking.type === 'unrestricted') return { type: 'unrestricted' };
  if (networking.type !== 'limited' || !('allowed_hosts' in networking)) return undefined;
  const hosts: unknown = networking.allowed_hosts;
  if (!Array.isArray(hosts) || !hosts.every((h): h is string => typeof h === 'string')) return undefined;
  const flag = (name: string): boolean => name in networking && (networking as Record<string, unknown>)[name] === true;
  return {
    type: 'limited',
    allowed_hosts: hosts,
    allow_package_managers: flag('allow_package_managers'),
    allow_mcp_servers: flag('allow_mcp_servers'),
  };
}
