// Who is calling: an API key (`x-api-key`, or `Authorization: Bearer`) resolves to a workspace (an inactive or
// archived key, or one of an archived workspace, to nothing) and is counted against its rate limit; browsers,
// which cannot set headers on EventSource/WebSocket, use a short-lived stream token minted by the API instead.
import type { Context, Next } from 'hono';
import { directory } from '../../durable-objects/stubs.ts';
import { DEFAULT_WORKSPACE_ID, type Env } from '../env.ts';
import { forbidden, rateLimited, unauthenticated } from './errors.ts';
import type { AppEnv } from './app-env.ts';
import { fromBase64Url, toBase64Url } from '../../contract/common.ts';

/** Routes under this prefix (`client.beta.organization.*`) take the admin key, never a workspace's API key. */
export const ORGANIZATION_PREFIX = '/v1/organizations/';

/**
 * What `workspaceId` holds on an admin request: not a workspace, so nothing a workspace owns can be reached with the
 * admin key by mistake; per-request records keyed by it (Idempotency-Key) are the organization's own.
 */
export const ORGANIZATION_SCOPE = 'organization';

export async function authenticate(c: Context<AppEnv>, next: Next): Promise<void> {
  if (c.req.path.startsWith(ORGANIZATION_PREFIX)) return authenticateAdmin(c, next);
  const key = c.req.header('x-api-key') ?? bearer(c.req.header('authorization'));
  const token = c.req.query('token');
  let caller: Caller | null = null;
  if (key) {
    const signed = await readToken(c.env, key);
    if (signed === 'expired') throw unauthenticated('this token has expired; mint a new one');
    caller = signed ? await admitToken(c, signed) : await admitKey(c.env, key);
  } else if (token) {
    const signed = await readToken(c.env, token);
    // `?token=` is for what a browser cannot put a header on: a session's stream.
    if (signed && signed !== 'expired' && signed.k !== 'access' && streamedSession(c.req.path) === signed.s) caller = { workspaceId: signed.w, keyDigest: null };
  }
  if (!caller) {
    throw unauthenticated(
      key ? 'invalid x-api-key' : token ? 'invalid or expired stream token' : 'missing x-api-key header (or ?token= stream token)',
    );
  }
  const asked = c.req.header('anthropic-workspace-id');
  if (asked && asked !== caller.workspaceId) throw forbidden(`anthropic-workspace-id: this key belongs to a different workspace`);
  c.set('workspaceId', caller.workspaceId);
  c.set('keyDigest', caller.keyDigest);
  await next();
}

/** Who a request acts for: the workspace, and the digest of the API key behind it (null for a session token). */
interface Caller {
  workspaceId: string;
  keyDigest: string | null;
}

/** The session whose stream `path` opens, or null when it opens none. */
function streamedSession(path: string): string | null {
  const m = /^\/v1\/sessions\/([^/]+)\/events\/stream$/.exec(path);
  return m ? decodeURIComponent(m[1]!) : null;
}

/**
 * A signed token sent where a key goes. An access token acts as the key that minted it (which must still be good:
 * archiving the key ends its tokens, and they count against its rate limit) on every workspace route but the one
 * that mints more. A session token opens that session's stream; a send-enabled one also posts its events. Any other
 * use is a 401 that says what the token may do.
 */
async function admitToken(c: Context<AppEnv>, t: TokenPayload): Promise<Caller> {
  if (t.k === 'access') {
    if (c.req.path === ACCESS_TOKENS_PATH) throw unauthenticated('an access token cannot mint access tokens; use an API key');
    const workspaceId = await admitDigest(c.env, t.d, await isRuntimeKeyDigest(c.env, t.d));
    if (workspaceId !== t.w) throw unauthenticated('invalid or expired access token: the API key that minted it no longer opens its workspace');
    return { workspaceId, keyDigest: t.d };
  }
  const sessionPath = `/v1/sessions/${t.s}`;
  const sends = t.k === 'send' && c.req.method === 'POST' && c.req.path === `${sessionPath}/events`;
  if (sends || streamedSession(c.req.path) === t.s) return { workspaceId: t.w, keyDigest: null };
  throw unauthenticated(
    t.k === 'send'
      ? `this session token may only send events to session '${t.s}' (POST ${sessionPath}/events) and open its stream`
      : `this session token may only open the stream of session '${t.s}'`,
  );
}

const REFUSALS = {
  inactive: 'this API key is inactive',
  archived: 'this API key is archived',
  workspace_archived: "this API key's workspace is archived",
} as const;

/**
 * The workspace `key` opens, its request counted against the key's rate limit (429 past it); null for an unknown key,
 * 401 for a stopped one. A stored key is resolved and counted in one round trip to the Directory.
 */
async function admitKey(env: Env, key: string): Promise<Caller | null> {
  const digest = await sha256Hex(key);
  const runtimeKey = !!env.EDGEHARNESS_API_KEY && (await timingSafeEqual(key, env.EDGEHARNESS_API_KEY));
  const workspaceId = await admitDigest(env, digest, runtimeKey);
  return workspaceId ? { workspaceId, keyDigest: digest } : null;
}

/** admitKey for a key known by its digest; `runtimeKey` when it is EDGEHARNESS_API_KEY, which the Directory does not hold. */
async function admitDigest(env: Env, digest: string, runtimeKey: boolean): Promise<string | null> {
  const bucket = await apiKeyIdOf(digest);
  if (runtimeKey) {
    const perMinute = defaultLimit(env);
    if (env.RATE_LIMITER) await bindingLimit(env.RATE_LIMITER, bucket);
    else if (perMinute) refuseOver(perMinute, await directory(env).admit(bucket, perMinute));
    return DEFAULT_WORKSPACE_ID;
  }
  const r = await directory(env).authorise(digest, bucket, env.RATE_LIMITER ? null : defaultLimit(env));
  if (!r.key) return null;
  if ('refused' in r.key) throw unauthenticated(`invalid x-api-key: ${REFUSALS[r.key.refused]}`);
  if ('admission' in r && r.perMinute) refuseOver(r.perMinute, r.admission);
  if (r.key.rateLimitPerMinute === null && env.RATE_LIMITER) await bindingLimit(env.RATE_LIMITER, r.key.keyId ?? bucket);
  return r.key.workspaceId;
}

async function isRuntimeKeyDigest(env: Env, digest: string): Promise<boolean> {
  return !!env.EDGEHARNESS_API_KEY && (await timingSafeEqual(digest, await sha256Hex(env.EDGEHARNESS_API_KEY)));
}

/** Requests per minute a key may make when it has no limit of its own; generous, so only a runaway client meets it. */
export const DEFAULT_RATE_LIMIT_PER_MINUTE = 6000;

/** The deployed rate-limiting binding: it says only yes or no; its window is a minute (wrangler.toml), so a minute is when to come back. */
async function bindingLimit(limiter: NonNullable<Env['RATE_LIMITER']>, bucket: string): Promise<void> {
  const { success } = await limiter.limit({ key: bucket });
  if (!success) throw rateLimited('rate limit exceeded for this API key; retry after 60 seconds', 60);
}

/** A 429 with `retry-after` when the Directory's bucket refused the request. */
function refuseOver(perMinute: number, admission: { admitted: true } | { admitted: false; retryAfter: number }): void {
  if (!admission.admitted)
    throw rateLimited(`rate limit exceeded: this API key may make ${perMinute} requests per minute; retry after ${admission.retryAfter} seconds`, admission.retryAfter);
}

function defaultLimit(env: Env): number {
  const text = env.EDGEHARNESS_RATE_LIMIT_PER_MINUTE;
  if (text === undefined || text === '') return DEFAULT_RATE_LIMIT_PER_MINUTE;
  const n = Number(text);
  return Number.isInteger(n) && n >= 0 ? n : DEFAULT_RATE_LIMIT_PER_MINUTE;
}

/** The admin key (`EDGEHARNESS_ADMIN_KEY`) alone opens the organization's routes; a workspace key is a 403 there. */
async function authenticateAdmin(c: Context<AppEnv>, next: Next): Promise<void> {
  const key = c.req.header('x-api-key') ?? bearer(c.req.header('authorization'));
  if (!key) throw unauthenticated('missing x-api-key header (the organization routes take the admin key)');
  const admin = c.env.EDGEHARNESS_ADMIN_KEY;
  if (!admin || !(await timingSafeEqual(key, admin))) {
    if (await workspaceForKey(c.env, key)) throw forbidden('this route takes the admin key (EDGEHARNESS_ADMIN_KEY); a workspace API key cannot use it');
    throw unauthenticated(admin ? 'invalid x-api-key: not the admin key' : 'invalid x-api-key: this runtime has no admin key (EDGEHARNESS_ADMIN_KEY is not set)');
  }
  c.set('workspaceId', ORGANIZATION_SCOPE);
  c.set('keyDigest', null);
  await next();
}

/**
 * The id that memory versions record for the calling key (`apikey_…`, the SDK's `api_actor`): derived from the key's
 * digest, so it names the key without revealing it and is the same on every request made with that key.
 */
export async function callerApiKeyId(c: Context<AppEnv>): Promise<string> {
  // Through an access token, the key that minted it.
  const digest = c.get('keyDigest') ?? (await sha256Hex(c.req.header('x-api-key') ?? bearer(c.req.header('authorization')) ?? ''));
  return apiKeyIdOf(digest);
}

/** An API key's id, from its digest alone: the Directory's keys are given the same id, so versions name them rightly. */
export async function apiKeyIdOf(digest: string): Promise<string> {
  return `apikey_${(await sha256Hex(`api-key-id:${digest}`)).slice(0, 24)}`;
}

function bearer(header: string | undefined): string | undefined {
  const m = header ? /^Bearer\s+(.+)$/i.exec(header) : null;
  return m?.[1];
}

async function workspaceForKey(env: Env, key: string): Promise<string | null> {
  if (env.EDGEHARNESS_API_KEY && (await timingSafeEqual(key, env.EDGEHARNESS_API_KEY))) return DEFAULT_WORKSPACE_ID;
  return directory(env).workspaceForKey(await sha256Hex(key));
}

async function timingSafeEqual(a: string, b: string): Promise<boolean> {
  // Compare digests so the comparison time does not depend on where the strings differ.
  const [da, db] = await Promise.all([sha256Hex(a), sha256Hex(b)]);
  let diff = 0;
  for (let i = 0; i < da.length; i++) diff |= da.charCodeAt(i) ^ db.charCodeAt(i);
  return diff === 0;
}

// ---------- signed tokens: `<base64url(payload)>.<base64url(hmac)>` ----------

/** The extension that exchanges an API key for an access token (worker/api/routes/access-tokens.ts). */
export const ACCESS_TOKENS_PATH = '/v1/access_tokens';

/**
 * What a token carries, expiry `e` in unix seconds. A session token (`k` absent: stream only; `send`: also posts
 * events) names its session and workspace; an access token names the digest of the API key that minted it.
 */
type TokenPayload = { k?: undefined | 'send'; s: string; w: string; e: number } | { k: 'access'; d: string; w: string; e: number };

/** A session token: `allowSend` lets it post that session's events too (worker/api/routes/sessions.ts). */
export async function mintStreamToken(env: Env, sessionId: string, workspaceId: string, ttlSeconds: number, allowSend = false): Promise<{ token: string; expiresAt: Date }> {
  const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
  return sign(env, allowSend ? { k: 'send', s: sessionId, w: workspaceId, e: exp } : { s: sessionId, w: workspaceId, e: exp });
}

/** An access token acting as the calling API key (the console signs in with one). */
export async function mintAccessToken(c: Context<AppEnv>, ttlSeconds: number): Promise<{ token: string; expiresAt: Date }> {
  const digest = c.get('keyDigest');
  if (!digest) throw unauthenticated('an access token is minted with an API key');
  return sign(c.env, { k: 'access', d: digest, w: c.get('workspaceId'), e: Math.floor(Date.now() / 1000) + ttlSeconds });
}

async function sign(env: Env, payload: TokenPayload): Promise<{ token: string; expiresAt: Date }> {
  const body = toBase64Url(new TextEncoder().encode(JSON.stringify(payload)));
  return { token: `${body}.${await hmac(env, body)}`, expiresAt: new Date(payload.e * 1000) };
}

/** The payload of a token this runtime signed, 'expired' past its expiry; null for anything else (an API key included). */
async function readToken(env: Env, token: string): Promise<TokenPayload | 'expired' | null> {
  const [payload, sig, extra] = token.split('.');
  if (!payload || !sig || extra !== undefined) return null;
  if (!(await timingSafeEqual(sig, await hmac(env, payload)))) return null;
  try {
    const p = JSON.parse(new TextDecoder().decode(fromBase64Url(payload))) as TokenPayload;
    if (typeof p.e !== 'number') return null;
    return p.e >= Date.now() / 1000 ? p : 'expired';
  } catch {
    return null;
  }
}

async function hmac(env: Env, data: string): Promise<string> {
  const secret = env.EDGEHARNESS_STREAM_TOKEN_SECRET ?? `stream-token:${env.EDGEHARNESS_API_KEY ?? ''}`;
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return toBase64Url(new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(data))));
}

/** How API keys are kept in the Directory: the hex SHA-256 of the key, never the key. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
