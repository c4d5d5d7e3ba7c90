// Idempotency-Key through the API: a POST repeated with one key is done once and answered the same; the key is
// bound to its first request and to the caller's workspace; failures and crashes do not pin it forever.
import { env, runInDurableObject } from 'cloudflare:test';
import { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import { IN_FLIGHT_TTL_MS, IdempotencyKeys } from '../../resources/idempotency-keys/idempotency-keys.ts';
import type { AppEnv } from '../../worker/api/app-env.ts';
import { ApiError } from '../../worker/api/errors.ts';
import { idempotency } from '../../worker/api/idempotency.ts';
import { DEFAULT_WORKSPACE_ID } from '../../worker/env.ts';
import { allEvents, call, KEY, makeSession, registerKey, settle, type Reply } from './api.ts';

const OTHER_KEY = 'test-key-idempotency-second';
let keyCount = 0;
const newKey = () => `key-${Date.now()}-${keyCount++}`;
const withKey = (key: string) => ({ 'Idempotency-Key': key });
const message = (text: string) => ({ events: [{ type: 'user.message', content: [{ type: 'text', text }] }] });
const count = (events: Array<{ type: string }>, type: string) => events.filter((e) => e.type === type).length;

function expectReplayOf(replay: Reply, first: Reply) {
  expect(replay.status).toBe(first.status);
  expect(replay.body).toEqual(first.body);
  expect(replay.headers.get('idempotent-replayed')).toBe('true');
  expect(first.headers.get('idempotent-replayed')).toBeNull();
}

async function ids(path: string, key = KEY): Promise<string[]> {
  return (await call('GET', `${path}?limit=100&include_archived=true`, undefined, key)).body.data.map((x: { id: string }) => x.id);
}

/** The fingerprint the middleware computes for a body `call()` sends. */
async function identity(path: string, body: unknown) {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return { method: 'POST', path, bodySha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('') };
}

function defaultWorkspace() {
  return env.WORKSPACE.get(env.WORKSPACE.idFromName(DEFAULT_WORKSPACE_ID));
}

describe('Idempotency-Key', () => {
  beforeAll(async () => {
    await registerKey(OTHER_KEY, 'wrkspc_idem_second');
  });

  it('creates one session for a create repeated with one key, and answers both the same', async () => {
    const { agentId, environmentId } = await makeSession();
    const before = await ids('/v1/sessions');
    const key = newKey();
    const body = { agent: agentId, environment_id: environmentId, title: 'once' };
    const first = await call('POST', '/v1/sessions', body, KEY, withKey(key));
    expect(first.status).toBe(200);
    const again = await call('POST', '/v1/sessions', body, KEY, withKey(key));
    expectReplayOf(again, first);
    expect(await ids('/v1/sessions')).toEqual([first.body.id, ...before]);
  });

  it('stores one user.message and runs one turn for an event send repeated with one key', async () => {
    const { sessionId } = await makeSession();
    const key = newKey();
    const first = await call('POST', `/v1/sessions/${sessionId}/events`, message('only once'), KEY, withKey(key));
    expect(first.status).toBe(200);
    const again = await call('POST', `/v1/sessions/${sessionId}/events`, message('only once'), KEY, withKey(key));
    expectReplayOf(again, first);
    await settle(sessionId);
    // A retry after the turn is still the same answer, and still no new turn.
    expectReplayOf(await call('POST', `/v1/sessions/${sessionId}/events`, message('only once'), KEY, withKey(key)), first);
    const events = await settle(sessionId);
    expect(count(events, 'user.message')).toBe(1);
    expect(count(events, 'span.model_request_start')).toBe(1);
    expect(count(events, 'agent.message')).toBe(1);
    expect(count(events, 'session.status_idle')).toBe(1);
    expect(events.find((e) => e.type === 'user.message').id).toBe(first.body.data[0].id);
  });

  it('converges on one turn when the same send arrives twice at once', async () => {
    const { sessionId } = await makeSession();
    const key = newKey();
    const send = () => call('POST', `/v1/sessions/${sessionId}/events`, message('raced'), KEY, withKey(key));
    const replies = await Promise.all([send(), send()]);
    for (const r of replies) {
      // Either answered (first or replay), or told to retry because the other is still being answered.
      expect([200, 409]).toContain(r.status);
      if (r.status === 409) expect(r.headers.get('x-should-retry')).toBe('true');
    }
    const answered = replies.find((r) => r.status === 200)!;
    expectReplayOf(await send(), answered);
    const events = await settle(sessionId);
    expect(count(events, 'user.message')).toBe(1);
    expect(count(events, 'agent.message')).toBe(1);
  });

  it('refuses the same key with a different body, path or method of the first request with a 409, storing nothing', async () => {
    const key = newKey();
    const first = await call('POST', '/v1/agents', { name: 'first', model: 'claude-sonnet-5-5' }, KEY, withKey(key));
    expect(first.status).toBe(200);
    const agentsBefore = await ids('/v1/agents');
    const environmentsBefore = await ids('/v1/environments');

    const otherBody = await call('POST', '/v1/agents', { name: 'second', model: 'claude-sonnet-5-5' }, KEY, withKey(key));
    expect(otherBody.status).toBe(409);
    expect(otherBody.body.error).toMatchObject({ type: 'conflict_error', details: { error_code: 'idempotency_key_reused' } });
    expect(otherBody.body.error.message).toContain('different body');
    // The client sent a different request: retrying it will not help.
    expect(otherBody.headers.get('x-should-retry')).toBe('false');

    const otherPath = await call('POST', '/v1/environments', { name: 'first' }, KEY, withKey(key));
    expect(otherPath.status).toBe(409);
    expect(otherPath.body.error.message).toContain('first used for POST /v1/agents');

    expect(await ids('/v1/agents')).toEqual(agentsBefore);
    expect(await ids('/v1/environments')).toEqual(environmentsBefore);
    // And the first answer is still what the key replays.
    expectReplayOf(await call('POST', '/v1/agents', { name: 'first', model: 'claude-sonnet-5-5' }, KEY, withKey(key)), first);
  });

  it('scopes keys to the workspace: another workspace’s request with the same key runs on its own', async () => {
    const key = newKey();
    const body = { name: 'shared key', model: 'claude-sonnet-5-5' };
    const ours = await call('POST', '/v1/agents', body, KEY, withKey(key));
    const theirs = await call('POST', '/v1/agents', body, OTHER_KEY, withKey(key));
    expect(theirs.status).toBe(200);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
    expect(theirs.body.id).not.toBe(ours.body.id);
    expect(await ids('/v1/agents', OTHER_KEY)).toContain(theirs.body.id);
    expect(await ids('/v1/agents')).not.toContain(theirs.body.id);
  });

  it('refuses a key longer than 255 characters with a 400 naming the header, creating nothing', async () => {
    const before = await ids('/v1/agents');
    const r = await call('POST', '/v1/agents', { name: 'long key', model: 'claude-sonnet-5-5' }, KEY, withKey('k'.repeat(256)));
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/^Idempotency-Key: /);
    expect(await ids('/v1/agents')).toEqual(before);
  });

  it('answers a request whose key is still in flight with a 409 the SDK retries, and runs nothing', async () => {
    const key = newKey();
    const body = { name: 'in flight', model: 'claude-sonnet-5-5' };
    const claim = await defaultWorkspace().claimIdempotencyKey(key, await identity('/v1/agents', body));
    expect(claim.kind).toBe('claimed');
    const before = await ids('/v1/agents');
    const r = await call('POST', '/v1/agents', body, KEY, withKey(key));
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ type: 'conflict_error', details: { error_code: 'idempotency_key_in_flight' } });
    expect(r.headers.get('x-should-retry')).toBe('true');
    expect(r.headers.get('retry-after')).toBe('1');
    expect(await ids('/v1/agents')).toEqual(before);
  });

  it('runs the request again once the attempt holding its key has been silent past the in-flight window (a crash)', async () => {
    const key = newKey();
    const body = { name: 'after a crash', model: 'claude-sonnet-5-5' };
    const request = await identity('/v1/agents', body);
    // An attempt that claimed the key and died before answering, IN_FLIGHT_TTL_MS ago.
    await runInDurableObject(defaultWorkspace(), (_obj, state) => {
      new IdempotencyKeys(state.storage).claim(key, request, Date.now() - IN_FLIGHT_TTL_MS - 1);
    });
    const r = await call('POST', '/v1/agents', body, KEY, withKey(key));
    expect(r.status).toBe(200);
    expectReplayOf(await call('POST', '/v1/agents', body, KEY, withKey(key)), r);
  });

  it('does not store a 5xx: the retry runs, and its answer is the one replayed', async () => {
    let runs = 0;
    const app = new Hono<AppEnv>()
      .use(async (c, next) => {
        c.set('workspaceId', 'wrkspc_idem_flaky');
        await next();
      })
      .use(idempotency)
      .post('/flaky', (c) => {
        runs++;
        if (runs === 1) throw new ApiError('api_error', 'the first attempt fails');
        return c.json({ run: runs });
      })
      .onError((err) => (err instanceof ApiError ? err.toResponse('req_test') : new Response('unexpected', { status: 500 })));
    const send = () => app.request('/flaky', { method: 'POST', headers: withKey('flaky-key'), body: '{}' }, env);
    expect((await send()).status).toBe(500);
    const second = await send();
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual({ run: 2 });
    const third = await send();
    expect(await third.json()).toEqual({ run: 2 });
    expect(third.headers.get('idempotent-replayed')).toBe('true');
    expect(runs).toBe(2);
  });

  it('keeps only a success: a refused request changed nothing, so the key is free for the corrected retry', async () => {
    const key = newKey();
    const refused = await call('POST', '/v1/agents', { name: 'x'.repeat(300), model: 'claude-sonnet-5-5' }, KEY, withKey(key));
    expect(refused.status).toBe(400);
    const corrected = await call('POST', '/v1/agents', { name: 'corrected', model: 'claude-sonnet-5-5' }, KEY, withKey(key));
    expect(corrected.status).toBe(200);
    expect(corrected.headers.get('idempotent-replayed')).toBeNull();
    expectReplayOf(await call('POST', '/v1/agents', { name: 'corrected', model: 'claude-sonnet-5-5' }, KEY, withKey(key)), corrected);
  });

  it('mints a fresh stream token for every request, key or not: a replayed token would have expired', async () => {
    const { sessionId } = await makeSession();
    const key = newKey();
    const first = await call('POST', `/v1/sessions/${sessionId}/stream_tokens`, {}, KEY, withKey(key));
    const second = await call('POST', `/v1/sessions/${sessionId}/stream_tokens`, { ttl_seconds: 60 }, KEY, withKey(key));
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.headers.get('idempotent-replayed')).toBeNull();
    expect(second.body.token).not.toBe(first.body.token);
  });

  it('replays a 5 MB event send whole, from an answer stored in chunks', async () => {
    const { sessionId } = await makeSession();
    const key = newKey();
    const big = 'edge-harness ✓ λ 🚀 '.repeat(300_000);
    const first = await call('POST', `/v1/sessions/${sessionId}/events`, message(big), KEY, withKey(key));
    expect(first.status).toBe(200);
    const again = await call('POST', `/v1/sessions/${sessionId}/events`, message(big), KEY, withKey(key));
    // Compared as strings: a failing deep comparison of 5 MB would print all of it.
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(JSON.stringify(again.body) === JSON.stringify(first.body)).toBe(true);
    expect(again.body.data[0].content[0].text === big).toBe(true);
    await settle(sessionId);
    expect(count(await allEvents(sessionId), 'user.message')).toBe(1);
  });

  it('holds on every create, update and archive route: agents, versions, environments, vaults, credentials, sessions', async () => {
    const { agentId, environmentId, sessionId } = await makeSession();
    const vault = (await call('POST', '/v1/vaults', { display_name: 'idem' })).body.id as string;
    const routes: Array<[string, unknown, () => Promise<unknown>]> = [
      ['/v1/agents', { name: 'a', model: 'claude-sonnet-5-5' }, () => ids('/v1/agents')],
      [`/v1/agents/${agentId}`, { version: 1, system: 'second version' }, async () => (await call('GET', `/v1/agents/${agentId}/versions`)).body.data.length],
      [`/v1/agents/${agentId}/archive`, undefined, () => ids('/v1/agents')],
      ['/v1/environments', { name: 'e' }, () => ids('/v1/environments')],
      [`/v1/environments/${environmentId}`, { description: 'changed' }, () => ids('/v1/environments')],
      ['/v1/vaults', { display_name: 'v' }, () => ids('/v1/vaults')],
      [
        `/v1/vaults/${vault}/credentials`,
        { auth: { type: 'environment_variable', secret_name: 'IDEM', secret_value: 'x', networking: { type: 'unrestricted' } } },
        () => ids(`/v1/vaults/${vault}/credentials`),
      ],
      [`/v1/sessions/${sessionId}`, { title: 'renamed' }, () => ids('/v1/sessions')],
      [`/v1/sessions/${sessionId}/archive`, undefined, () => ids('/v1/sessions')],
    ];
    for (const [path, body, observe] of routes) {
      const key = newKey();
      const first = await call('POST', path, body, KEY, withKey(key));
      expect(first.status, `${path}: ${JSON.stringify(first.body)}`).toBe(200);
      const seen = await observe();
      expectReplayOf(await call('POST', path, body, KEY, withKey(key)), first);
      expect(await observe(), path).toEqual(seen);
    }
  });
});
