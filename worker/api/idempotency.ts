// `Idempotency-Key` on POST: a request retried with the same key (the SDK retries on network errors and 5xx) gets
// the first answer instead of running twice. Keys live in the caller's workspace store (resources/
// idempotency-keys/); the rules are in docs/api-extensions.md.
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-env.ts';
import { conflict, invalidRequest, stillInFlight } from './errors.ts';
import { workspace } from './http.ts';
import type { WorkspaceStub } from '../../durable-objects/stubs.ts';
import { CHUNK_BYTES, type RequestIdentity, type StoredAnswer } from '../../contract/idempotency.ts';

const MAX_KEY_LENGTH = 255;
/** Headers of an answer that a replay repeats; the rest (request-id) belong to the request being answered. */
const REPLAYED_HEADERS = ['content-type', 'x-should-retry'];

/**
 * POSTs a retry runs again rather than replays: a stream token is minted fresh (a replayed one would have
 * expired), a credential check reports the present state; and an upload, whose body (up to 500 MB) would have to
 * be held whole to be hashed (docs/files.md: a retried upload may store a second file); and a new API key, whose
 * answer holds the key itself, which is kept nowhere but as a digest (a retry makes a second key).
 */
const NOT_REPLAYED = [/^\/v1\/sessions\/[^/]+\/stream_tokens$/, /\/mcp_oauth_validate$/, /^\/v1\/files$/, /^\/v1\/organizations\/api_keys$/, /^\/v1\/access_tokens$/];

export const idempotency: MiddlewareHandler<AppEnv> = async (c, next) => {
  const key = c.req.header('idempotency-key');
  if (c.req.method !== 'POST' || key === undefined || NOT_REPLAYED.some((route) => route.test(c.req.path))) return next();
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !/^[\x20-\x7e]+$/.test(key))
    throw invalidRequest(`Idempotency-Key: expected 1 to ${MAX_KEY_LENGTH} printable ASCII characters, got ${key.length} characters`);
  const request = await identify(c);
  const store = workspace(c);
  const claim = await store.claimIdempotencyKey(key, request);
  switch (claim.kind) {
    case 'answered':
      return replay(store, key, claim.answer);
    case 'in_flight':
      throw stillInFlight(
        `Idempotency-Key '${key}': a request with this key is still being answered; retry shortly to get its answer`,
        'idempotency_key_in_flight',
        1,
      );
    case 'mismatch':
      throw conflict(
        `Idempotency-Key '${key}' was first used for ${claim.first.method} ${claim.first.path}${
          claim.first.method === request.method && claim.first.path === request.path ? ' with a different body' : ''
        }; a key names one request, so send a new key for a new request`,
        'idempotency_key_reused',
      );
    case 'claimed':
      break;
  }
  await next();
  // Only a success is kept. A refused request changed nothing (bad input, a conflict with a concurrent change, a
  // missing object), and a 5xx almost always did nothing: forget the key, so a retry runs, perhaps once the cause
  // is gone, instead of being told the same refusal for a day.
  if (c.res.status >= 300) {
    await store.releaseIdempotencyKey(key, claim.token).catch((err: unknown) => console.error('idempotency key release failed', err));
    return;
  }
  const bytes = new Uint8Array(await c.res.arrayBuffer());
  c.res = new Response(bytes, c.res);
  try {
    await save(store, key, claim.token, c.res, bytes);
  } catch (err) {
    // The caller still gets its answer; the key stays claimed until IN_FLIGHT_TTL_MS, as if this Worker had died.
    console.error('idempotency key answer not stored', err);
  }
};

/** What the key is bound to: method, path and a digest of the body (the same bytes the route parses). */
async function identify(c: Context<AppEnv>): Promise<RequestIdentity> {
  const body = await c.req.bytes();
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', body));
  return { method: c.req.method, path: c.req.path, bodySha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('') };
}

/** Small answers go in the key's row; large ones (an events send echoes up to 32 MB) in chunk rows first. */
async function save(store: WorkspaceStub, key: string, token: string, res: Response, bytes: Uint8Array): Promise<void> {
  const headers: Record<string, string> = {};
  for (const name of REPLAYED_HEADERS) {
    const value = res.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  let chunks = 0;
  if (bytes.byteLength > CHUNK_BYTES) {
    for (let off = 0; off < bytes.byteLength; off += CHUNK_BYTES, chunks++) {
      if (!(await store.putIdempotentChunk(key, token, chunks, bytes.slice(off, off + CHUNK_BYTES)))) return;
    }
  }
  const answer: StoredAnswer = { status: res.status, headers, size: bytes.byteLength, chunks, body: chunks === 0 ? bytes : null };
  await store.completeIdempotencyKey(key, token, answer);
}

async function replay(store: WorkspaceStub, key: string, answer: StoredAnswer): Promise<Response> {
  let body = answer.body;
  if (!body) {
    body = new Uint8Array(answer.size);
    for (let i = 0, off = 0; i < answer.chunks; i++) {
      const chunk = await store.idempotentChunk(key, i);
      // Only an answer that expired between two reads: the key is free now, and the retry will run.
      if (!chunk) throw stillInFlight(`Idempotency-Key '${key}': its stored answer has just expired; retry to run the request`, 'idempotency_key_expired', 1);
      body.set(chunk, off);
      off += chunk.byteLength;
    }
  }
  return new Response(body, { status: answer.status, headers: { ...answer.headers, 'idempotent-replayed': 'true' } });
}
