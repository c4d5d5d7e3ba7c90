// Bad input gets the right status and the official envelope naming the field, and changes nothing.
import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { allEvents, call, KEY, makeSession } from './api.ts';

function expectEnvelope(r: { status: number; body: any; headers: Headers }, status: number, type: string, mentions?: string) {
  expect(r.status).toBe(status);
  expect(r.body.type).toBe('error');
  expect(r.body.error.type).toBe(type);
  expect(typeof r.body.error.message).toBe('string');
  if (mentions) expect(r.body.error.message).toContain(mentions);
  expect(r.headers.get('request-id')).toMatch(/^req_/);
}

describe('API errors', () => {
  it('rejects a missing or wrong key with authentication_error', async () => {
    expectEnvelope(await call('GET', '/v1/agents', undefined, null), 401, 'authentication_error', 'x-api-key');
    expectEnvelope(await call('GET', '/v1/agents', undefined, 'wrong-key'), 401, 'authentication_error');
  });

  it('names the field of a wrongly typed body and creates nothing', async () => {
    const before = (await call('GET', '/v1/agents?limit=100')).body.data.length;
    const wrongType = await call('POST', '/v1/agents', { name: 123, model: 'claude-sonnet-5-5' });
    expectEnvelope(wrongType, 400, 'invalid_request_error', 'name');
    // a present field of the wrong type is not reported as missing
    expect(wrongType.body.error.message).toContain('received number');
    expectEnvelope(await call('POST', '/v1/agents', { name: 'x' }), 400, 'invalid_request_error', 'model');
    const missing = await call('POST', '/v1/agents', { model: 'claude-sonnet-5-5' });
    expectEnvelope(missing, 400, 'invalid_request_error', 'name');
    expect(missing.body.error.message).toContain('required field is missing');
    expectEnvelope(await call('POST', '/v1/agents', { name: 'x', model: 'm', bogus: 1 }), 400, 'invalid_request_error', 'bogus');
    expectEnvelope(await call('POST', '/v1/environments', { name: 'x', config: { type: 'cloud', networking: { type: 'sideways' } } }), 400, 'invalid_request_error', 'config.networking');
    expect((await call('GET', '/v1/agents?limit=100')).body.data.length).toBe(before);
  });

  it('rejects malformed JSON and non-object bodies', async () => {
    expectEnvelope(await call('POST', '/v1/agents', '{"name": "x",'), 400, 'invalid_request_error', 'malformed JSON');
    expectEnvelope(await call('POST', '/v1/agents', '[1,2]'), 400, 'invalid_request_error', 'JSON object');
    expectEnvelope(await call('POST', '/v1/agents', ''), 400, 'invalid_request_error');
  });

  it('answers unknown ids and routes with not_found_error', async () => {
    expectEnvelope(await call('GET', '/v1/agents/agent_nope'), 404, 'not_found_error', 'agent_nope');
    expectEnvelope(await call('GET', '/v1/environments/env_nope'), 404, 'not_found_error');
    expectEnvelope(await call('GET', '/v1/sessions/sesn_nope'), 404, 'not_found_error');
    expectEnvelope(await call('GET', '/v1/sessions/sesn_nope/events'), 404, 'not_found_error');
    expectEnvelope(await call('POST', '/v1/sessions/sesn_nope/events', { events: [{ type: 'user.message', content: [{ type: 'text', text: 'hi' }] }] }), 404, 'not_found_error');
    expectEnvelope(await call('GET', '/v1/nothing-here'), 404, 'not_found_error');
    const { environmentId } = await makeSession();
    expectEnvelope(await call('POST', '/v1/sessions', { agent: 'agent_nope', environment_id: environmentId }), 404, 'not_found_error', 'agent');
  });

  it('rejects an oversized body with request_too_large', async () => {
    const huge = JSON.stringify({ events: [{ type: 'user.message', content: [{ type: 'text', text: 'x'.repeat(33 * 1024 * 1024) }] }] });
    const { sessionId } = await makeSession();
    const res = await SELF.fetch(`http://edgeharness.test/v1/sessions/${sessionId}/events`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      body: huge,
    });
    const body: any = await res.json();
    expect(res.status).toBe(413);
    expect(body.error).toEqual({ type: 'request_too_large', message: `request body is ${new TextEncoder().encode(huge).length} bytes; the limit is 32000000` });
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect(await allEvents(sessionId)).toEqual([]);
  });

  it('refuses a streamed body of unknown length once it passes the limit, without reading the rest', async () => {
    const { sessionId } = await makeSession();
    const chunk = 1024 * 1024;
    const total = 96 * chunk;
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled >= total) return controller.close();
        pulled += chunk;
        controller.enqueue(new Uint8Array(chunk).fill(0x20));
      },
    });
    const res = await SELF.fetch(`http://edgeharness.test/v1/sessions/${sessionId}/events`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      body,
    });
    const reply: any = await res.json();
    expect(res.status).toBe(413);
    expect(reply.error).toEqual({ type: 'request_too_large', message: 'request body exceeds the limit of 32000000 bytes' });
    expect(pulled).toBeLessThan(total);
    expect(await allEvents(sessionId)).toEqual([]);
  });

  it('reads a streamed body of unknown length within the limit', async () => {
    const bytes = new TextEncoder().encode(JSON.stringify({ name: 'streamed', model: 'claude-sonnet-5-5' }));
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let off = 0; off < bytes.length; off += 8) controller.enqueue(bytes.slice(off, off + 8));
        controller.close();
      },
    });
    const res = await SELF.fetch('http://edgeharness.test/v1/agents', { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body });
    const created: any = await res.json();
    expect(res.status).toBe(200);
    expect(created.name).toBe('streamed');
  });

  it('rejects bad events and leaves the log unchanged', async () => {
    const { sessionId } = await makeSession();
    const cases: Array<[unknown, string]> = [
      [{ events: [{ type: 'user.message', content: 'hi' }] }, 'events[0].content'],
      [{ events: [{ type: 'user.nonsense' }] }, 'events[0].type'],
      [{ events: [] }, 'events'],
      [{ events: [{ type: 'user.message', content: [{ type: 'text', text: 'ok' }] }, { type: 'user.tool_confirmation', tool_use_id: 'sevt_missing', result: 'allow' }] }, 'events[1].tool_use_id'],
    ];
    for (const [body, field] of cases) expectEnvelope(await call('POST', `/v1/sessions/${sessionId}/events`, body), 400, 'invalid_request_error', field);
    expect(await allEvents(sessionId)).toEqual([]);
  });

  it('refuses a stale agent version with a 409 the SDK will not retry', async () => {
    const a = await call('POST', '/v1/agents', { name: 'v', model: 'claude-sonnet-5-5' });
    const ok = await call('POST', `/v1/agents/${a.body.id}`, { version: 1, system: 'new prompt' });
    expect(ok.body.version).toBe(2);
    const stale = await call('POST', `/v1/agents/${a.body.id}`, { version: 1, system: 'other prompt' });
    expectEnvelope(stale, 409, 'conflict_error', 'version');
    expect(stale.headers.get('x-should-retry')).toBe('false');
    expect((await call('GET', `/v1/agents/${a.body.id}`)).body.system).toBe('new prompt');
  });
});
