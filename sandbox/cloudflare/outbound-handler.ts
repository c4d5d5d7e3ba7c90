// The Worker-side gate of a Cloudflare sandbox's egress: every HTTP and HTTPS request the container makes is
// intercepted and handed here with the session's networking, then refused (403, saying why) or forwarded. A
// session with vaults has its credentials' placeholders replaced here, on the way out, by values read from the
// vault at that moment (never stored with the sandbox), and every response scrubbed of the values before the
// container reads it (../response-scrubbing.ts), compressed, binary and streamed bodies included.
import type { Env } from '../../worker/env.ts';
import { workspaceStore } from '../../durable-objects/stubs.ts';
import { decideEgress, type EgressOptions } from '../egress-policy.ts';
import type { Networking } from '../hands.ts';
import { injectableAt, substitute, substituteBody, type RequestTarget, type SandboxCredential } from '../credentials.ts';
import {
  acceptEncodingFor,
  contentCodings,
  REQUEST_HEADERS_DROPPED,
  scrubbedBody,
  scrubbedHeaders,
  undecodableReason,
  upgradeRefusal,
  WEB_DECODABLE,
} from '../response-scrubbing.ts';
import { formsFor, type SecretForms, scrubLatin1 } from '../secret-scrubber.ts';
import { CLONE_MARKER_HEADER } from './resource-plan.ts';

/** Which vaults a session's egress reads credentials from: ids only, never a secret. */
export interface VaultRef {
  workspaceId: string;
  vaultIds: string[];
}

/** What the sandbox Durable Object hands its outbound handler (`ctx.params`): stored, so plain JSON. */
export interface EgressParams {
  networking: Networking;
  vault?: VaultRef;
  clone?: CloneGrant;
}

/**
 * Set only while root's git clones a session's repositories in its container: the marker root's git sends (in
 * CLONE_MARKER_HEADER) and the repositories' URLs. A request carrying the marker may fetch from those repositories
 * (git's upload-pack, never a push), whatever the networking says: the clone is the platform's, as it is locally.
 * The marker is not a secret worth keeping (it lets one fetch what is being cloned anyway, for minutes); it lives in
 * root's git process alone, so the agent's requests never carry it.
 */
export interface CloneGrant {
  marker: string;
  urls: string[];
}

/** Reads a session's credentials from the vault (decrypted). */
export type LoadCredentials = (vault: VaultRef) => Promise<SandboxCredential[]>;

/**
 * The vault as the outbound handler reads it, at each request, from the Worker's env (which the SDK hands its
 * handlers as `unknown`): the workspace's store decrypts. None when the env binds no WORKSPACE namespace.
 */
export function vaultReaderOf(env: unknown): LoadCredentials | undefined {
  const bindings = withWorkspace(env);
  if (!bindings) return undefined;
  return ({ workspaceId, vaultIds }) => workspaceStore(bindings, workspaceId).sessionCredentials(vaultIds);
}

function withWorkspace(env: unknown): Pick<Env, 'WORKSPACE'> | undefined {
  if (typeof env !== 'object' || env === null || !('WORKSPACE' in env)) return undefined;
  const ns = env.WORKSPACE;
  return isNamespace(ns) ? { WORKSPACE: ns } : undefined;
}

/** Recognised by its shape: which class a namespace serves no value tells, so the binding's name is trusted for that. */
function isNamespace(value: unknown): value is Env['WORKSPACE'] {
  return (
    typeof value === 'object' && value !== null &&
    'get' in value && typeof value.get === 'function' &&
    'idFromName' in value && typeof value.idFromName === 'function'
  );
}

export const EGRESS_REFUSED_HEADER = 'x-edgeharness-egress';

/**
 * Applies the egress policy in `params` to one intercepted request. No policy (a container started before its
 * session's networking was set) refuses everything: a sandbox never gets more reach than its environment gives.
 *
 * With credentials, `forward` must hand back the body as the upstream sent it (the default asks Workers' fetch for
 * that, `encodeResponseBody: "manual"`): its content-coding is undone here, so that the scrubber reads what the
 * container will.
 */
export async function applyEgressPolicy(
  request: Request,
  params: unknown,
  forward: (request: Request) => Promise<Response> = (r) => fetch(r),
  options: EgressOptions = {},
  loadCredentials?: LoadCredentials,
): Promise<Response> {
  const marker = request.headers.get(CLONE_MARKER_HEADER);
  if (marker !== null) return cloneRequest(request, marker, cloneOf(params), forward, options);
  const networking = networkingOf(params);
  if (networking === undefined) return refuse(`egress to ${hostOf(request.url)} refused: this sandbox has no egress policy yet`);
  const decision = decideEgress(networking, request.url, options);
  if (!decision.allow) return refuse(decision.reason);
  const vault = vaultOf(params);
  if (!vault || !loadCredentials) return forward(request);
  // every response of a session with credentials is scrubbed, whichever host it comes from: a value one of the
  // credential's hosts stored can be served back by another
  const credentials = await loadCredentials(vault);
  if (credentials.length === 0) return forward(request);
  const upgradeTo = request.headers.get('upgrade');
  if (upgradeTo !== null) return refuse(upgradeRefusal(upgradeTo));
  const url = new URL(request.url);
  const target: RequestTarget = { host: url.hostname, scheme: url.protocol === 'https:' ? 'https' : 'http' };
  const prepared = await withCredentials(request, target, injectableAt(credentials, url.hostname));
  if (!prepared.ok) return refuse(prepared.reason);
  return scrubbed(await forward(prepared.request), request.method, formsFor(credentials));
}

/**
 * A request of the platform's clone: passed on (without the marker, and without credentials or scrubbing, which
 * would break git's packs; the token is in git's own header) when it fetches from a repository being cloned; else
 * refused. The rules every host obeys still hold (an unrestricted environment's: no loopback or private addresses).
 */
async function cloneRequest(
  request: Request,
  marker: string,
  grant: CloneGrant | undefined,
  forward: (request: Request) => Promise<Response>,
  options: EgressOptions,
): Promise<Response> {
  const url = new URL(request.url);
  if (!grant || marker !== grant.marker || !grant.urls.some((repo) => isUploadPack(url, request.method, repo)))
    return refuse(`egress to ${hostOf(request.url)} refused: no repository clone of this sandbox is in progress for ${url.origin}${url.pathname}`);
  const decision = decideEgress({ type: 'unrestricted' }, request.url, options);
  if (!decision.allow) return refuse(decision.reason);
  const headers = new Headers(request.headers);
  headers.delete(CLONE_MARKER_HEADER);
  return forward(new Request(request, { headers, redirect: 'manual' }));
}

/** git's smart-HTTP fetch of `repo`: its ref advertisement for upload-pack, or an upload-pack exchange. */
function isUploadPack(url: URL, method: string, repo: string): boolean {
  let base: URL;
  try {
    base = new URL(repo);
  } catch {
    return false;
  }
  if (url.origin !== base.origin) return false;
  const prefix = base.pathname.replace(/\/+$/, '');
  if (method === 'GET') return url.pathname === `${prefix}/info/refs` && url.search === '?service=git-upload-pack';
  return method === 'POST' && url.pathname === `${prefix}/git-upload-pack` && url.search === '';
}

/**
 * The request as it goes upstream: placeholders substituted in its headers (and body where allowed), asking only
 * for codings this handler can undo, without the range headers that would let a secret be fetched in pieces.
 */
async function withCredentials(
  request: Request,
  target: RequestTarget,
  credentials: SandboxCredential[],
): Promise<{ ok: true; request: Request } | { ok: false; reason: string }> {
  const headers = new Headers();
  for (const [name, value] of request.headers) {
    if (REQUEST_HEADERS_DROPPED.includes(name) || name === 'accept-encoding') continue;
    const result = substitute(value, target, credentials, 'header');
    if (!result.ok) return result;
    headers.append(name, result.value);
  }
  headers.set('accept-encoding', acceptEncodingFor(request.headers.get('accept-encoding'), WEB_DECODABLE));
  let body: Uint8Array | undefined;
  if (request.body && credentials.some((c) => c.injection.body)) {
    const result = substituteBody(new Uint8Array(await request.arrayBuffer()), target, credentials);
    if (!result.ok) return result;
    body = result.body;
    headers.delete('content-length');
  }
  const init = {
    headers,
    redirect: 'manual',
    // Workers' fetch would otherwise decode gzip and brotli itself and keep the header; the scrubber must know
    encodeResponseBody: 'manual',
    ...(body !== undefined ? { body } : {}),
  } as RequestInit;
  return { ok: true, request: new Request(request, init) };
}

/**
 * The response the container gets: status phrase, headers and body scrubbed of every credential's value, the body
 * decoded first. A body in a coding that cannot be undone is not delivered (502, saying why).
 */
function scrubbed(response: Response, method: string, forms: SecretForms): Response {
  const codings = contentCodings(response.headers.get('content-encoding'));
  const bodyless = !response.body || method === 'HEAD' || response.status === 204 || response.status === 304;
  const undecodable = bodyless ? undefined : undecodableReason(codings, WEB_DECODABLE);
  if (undecodable) {
    void response.body?.cancel();
    return new Response(`edgeharness: ${undecodable}\n`, { status: 502, headers: { 'content-type': 'text/plain; charset=utf-8', [EGRESS_REFUSED_HEADER]: 'refused' } });
  }
  const headers = new Headers();
  for (const [name, value] of scrubbedHeaders(response.headers, forms)) headers.append(name, value);
  const init = { status: response.status, statusText: scrubLatin1(response.statusText, forms), headers };
  if (bodyless) {
    void response.body?.cancel();
    return new Response(null, init);
  }
  return new Response(scrubbedBody(response.body as ReadableStream<Uint8Array>, codings, forms), init);
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

function cloneOf(params: unknown): CloneGrant | undefined {
  if (typeof params !== 'object' || params === null || !('clone' in params)) return undefined;
  const clone = params.clone as Partial<CloneGrant> | null;
  if (!clone || typeof clone.marker !== 'string' || clone.marker.length < 32 || !Array.isArray(clone.urls)) return undefined;
  if (!clone.urls.every((u): u is string => typeof u === 'string')) return undefined;
  return { marker: clone.marker, urls: clone.urls };
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
