// The Worker-side gate of a Cloudflare sandbox's egress: every HTTP and HTTPS request the container makes is
// intercepted and handed here with the session's networking, then refused (403, saying why) or forwarded. A
// session with vaults has its credentials' placeholders replaced here, on the way out, by values read from the
// vault at that moment (never stored with the sandbox), and the values redacted from what comes back.
import { decideEgress, type EgressOptions } from '../egress-policy.ts';
import type { Networking } from '../hands.ts';
import { injectableAt, redact, substitute, type RequestTarget, type SandboxCredential } from '../credentials.ts';

/** Which vaults a session's egress reads credentials from: ids only, never a secret. */
export interface VaultRef {
  workspaceId: string;
  vaultIds: string[];
}

/** What the sandbox Durable Object hands its outbound handler (`ctx.params`): stored, so plain JSON. */
export interface EgressParams {
  networking: Networking;
  vault?: VaultRef;
}

/** Reads a session's credentials from the vault (decrypted). */
export type LoadCredentials = (vault: VaultRef) => Promise<SandboxCredential[]>;

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
  loadCredentials?: LoadCredentials,
): Promise<Response> {
  const networking = networkingOf(params);
  if (networking === undefined) return refuse(`egress to ${hostOf(request.url)} refused: this sandbox has no egress policy yet`);
  const decision = decideEgress(networking, request.url, options);
  if (!decision.allow) return refuse(decision.reason);
  const vault = vaultOf(params);
  if (!vault || !loadCredentials) return forward(request);
  const url = new URL(request.url);
  const credentials = injectableAt(await loadCredentials(vault), url.hostname);
  if (credentials.length === 0) return forward(request);
  const target: RequestTarget = { host: url.hostname, scheme: url.protocol === 'https:' ? 'https' : 'http' };
  const prepared = await withCredentials(request, target, credentials);
  if (!prepared.ok) return refuse(prepared.reason);
  const response = await forward(prepared.request);
  return prepared.used.length ? redactResponse(response, prepared.used) : response;
}

/** The request with placeholders substituted in its headers (and body where allowed), and which credentials it used. */
async function withCredentials(
  request: Request,
  target: RequestTarget,
  credentials: SandboxCredential[],
): Promise<{ ok: true; request: Request; used: SandboxCredential[] } | { ok: false; reason: string }> {
  const used = new Set<SandboxCredential>();
  const headers = new Headers(request.headers);
  for (const [name, value] of request.headers) {
    const result = substitute(value, target, credentials, 'header');
    if (!result.ok) return result;
    if (result.changed) {
      headers.set(name, result.value);
      for (const c of credentials) if (value.includes(c.placeholder)) used.add(c);
    }
  }
  let body: BodyInit | null = request.body;
  if (request.body && credentials.some((c) => c.injection.body)) {
    // Read as text only when a credential may be substituted in a body; a body that is not UTF-8 is left whole.
    const bytes = await request.arrayBuffer();
    body = bytes;
    let text: string | undefined;
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
    } catch {
      text = undefined;
    }
    if (text !== undefined) {
      const result = substitute(text, target, credentials, 'body');
      if (!result.ok) return result;
      if (result.changed) {
        body = result.value;
        headers.delete('content-length');
        for (const c of credentials) if (text.includes(c.placeholder)) used.add(c);
      }
    }
  }
  if (used.size === 0 && body === request.body) return { ok: true, request, used: [] };
  return { ok: true, request: new Request(request.url, { method: request.method, headers, body, redirect: 'manual' }), used: [...used] };
}

const TEXTUAL = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded|problem\+json|[a-z.+-]*\+(json|xml)))/i;

/**
 * An upstream that echoes the secret back (a header mirror, an error page quoting the request) must not hand it
 * to the sandbox: header values and textual bodies are redacted. Binary bodies pass as they are.
 */
async function redactResponse(response: Response, used: SandboxCredential[]): Promise<Response> {
  const headers = new Headers();
  for (const [name, value] of response.headers) headers.append(name, redact(value, used));
  const type = response.headers.get('content-type') ?? '';
  if (!response.body || (type !== '' && !TEXTUAL.test(type))) {
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  }
  const text = redact(await response.text(), used);
  headers.delete('content-length');
  headers.delete('content-encoding');
  return new Response(text, { status: response.status, statusText: response.statusText, headers });
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

function vaultOf(params: unknown): VaultRef | undefined {
  if (typeof params !== 'object' || params === null || !('vault' in params)) return undefined;
  const vault = params.vault as Partial<VaultRef> | null;
  if (!vault || typeof vault.workspaceId !== 'string' || !Array.isArray(vault.vaultIds) || vault.vaultIds.length === 0) return undefined;
  if (!vault.vaultIds.every((id): id is string => typeof id === 'string')) return undefined;
  return { workspaceId: vault.workspaceId, vaultIds: vault.vaultIds };
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
