// Request ids: every answer carries a `request-id` header, as the official API's do, and an error's body repeats
// it as `request_id`; the SDK reads it into `err.requestID`. The id is ours: a client cannot choose it.
import Anthropic, { NotFoundError } from '@anthropic-ai/sdk';
import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, KEY, makeSession, settle, say } from './api.ts';

const BASE = 'http://edgeharness.test';
const REQUEST_ID = /^req_[0-9a-f]{32}$/;

const sdk = () => new Anthropic({ apiKey: KEY, baseURL: BASE, maxRetries: 0, fetch: (input, init) => SELF.fetch(input, init) });

describe('request ids', () => {
  it('answers successes, refusals, unknown routes, oversized bodies and the health check with a request-id', async () => {
    const { sessionId } = await makeSession();
    const replies = [
      await call('GET', '/healthz', undefined, null),
      await call('GET', '/v1/agents?limit=1'),
      await call('GET', '/v1/agents', undefined, null),
      await call('POST', '/v1/agents', { name: 1 }),
      await call('GET', '/v1/agents/agent_nope'),
      await call('GET', '/v1/nothing-here'),
      await call('POST', `/v1/sessions/${sessionId}/events`, 'x'.repeat(32_000_001)),
    ];
    expect(replies.map((r) => r.status)).toEqual([200, 200, 401, 400, 404, 404, 413]);
    for (const r of replies) expect(r.headers.get('request-id')).toMatch(REQUEST_ID);
    const ids = replies.map((r) => r.headers.get('request-id'));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('repeats the header in the body of every error', async () => {
    for (const r of [await call('GET', '/v1/agents', undefined, null), await call('GET', '/v1/agents/agent_nope'), await call('GET', '/v1/nothing-here')]) {
      expect(r.body.type).toBe('error');
      expect(r.body.request_id).toBe(r.headers.get('request-id'));
    }
  });

  it('gives a replayed answer the id of the request it answers, not the first one', async () => {
    const key = `request-id-replay-${Date.now()}`;
    const body = { name: 'replayed', model: 'claude-sonnet-5-5' };
    const first = await call('POST', '/v1/agents', body, KEY, { 'Idempotency-Key': key });
    const replay = await call('POST', '/v1/agents', body, KEY, { 'Idempotency-Key': key });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.headers.get('request-id')).toMatch(REQUEST_ID);
    expect(replay.headers.get('request-id')).not.toBe(first.headers.get('request-id'));
  });

  it('stamps the event stream, served by the session log, with a request-id: SSE and WebSocket', async () => {
    const { sessionId } = await makeSession();
    await say(sessionId, 'hello');
    await settle(sessionId);
    const sse = await SELF.fetch(`${BASE}/v1/sessions/${sessionId}/events/stream`, { headers: { 'x-api-key': KEY } });
    expect(sse.status).toBe(200);
    expect(sse.headers.get('content-type')).toContain('text/event-stream');
    expect(sse.headers.get('request-id')).toMatch(REQUEST_ID);
    await sse.body!.cancel();

    const upgraded = await SELF.fetch(`${BASE}/v1/sessions/${sessionId}/events/stream`, { headers: { 'x-api-key': KEY, upgrade: 'websocket' } });
    expect(upgraded.status).toBe(101);
    expect(upgraded.headers.get('request-id')).toMatch(REQUEST_ID);
    const ws = upgraded.webSocket!;
    ws.accept();
    ws.close();
  });

  it('does not adopt a request-id the client sends', async () => {
    const r = await call('GET', '/v1/agents/agent_nope', undefined, KEY, { 'request-id': 'req_chosen_by_the_client' });
    expect(r.headers.get('request-id')).toMatch(REQUEST_ID);
    expect(r.body.request_id).toBe(r.headers.get('request-id'));
  });

  it("surfaces the id as the SDK's err.requestID, the same one the error body carries", async () => {
    const err = await sdk().beta.agents.retrieve('agent_nope').then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NotFoundError);
    const notFound = err as NotFoundError;
    expect(notFound.requestID).toMatch(REQUEST_ID);
    expect((notFound.error as { request_id?: string }).request_id).toBe(notFound.requestID);
  });

  it('gives a successful SDK call a request id too', async () => {
    const { data, response } = await sdk().beta.agents.list({ limit: 1 }).withResponse();
    expect(Array.isArray(data.data)).toBe(true);
    expect(response.headers.get('request-id')).toMatch(REQUEST_ID);
  });
});
