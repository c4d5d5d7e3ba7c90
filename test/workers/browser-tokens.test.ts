// Tokens a browser holds instead of an API key: a session token that may also send (allow_send) posts that
// session's events and opens its stream, and nothing else; an access token acts as the key that minted it, on the
// workspace routes, until it expires or the key stops.
import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { allEvents, call, KEY, makeSession, settle } from './api.ts';
import { toBase64Url } from '../../contract/common.ts';
import { createApp } from '../../worker/api/app.ts';

const BASE = 'http://edgeharness.test';
const ADMIN = 'test-admin-key';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const message = (text: string) => ({ events: [{ type: 'user.message', content: [{ type: 'text', text }] }] });

async function streamToken(sessionId: string, body: Record<string, unknown>): Promise<string> {
  const r = await call('POST', `/v1/sessions/${sessionId}/stream_tokens`, body);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.token;
}

/** A token signed with the test runtime's secret (vitest.config.ts), as the runtime signs them, with any payload. */
async function forged(payload: Record<string, unknown>): Promise<string> {
  const body = toBase64Url(new TextEncoder().encode(JSON.stringify(payload)));
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode('test-stream-secret'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return `${body}.${toBase64Url(new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(body))))}`;
}

describe('session tokens with allow_send', () => {
  it('are watch-only unless allow_send is true, and refuse a non-boolean allow_send naming it', async () => {
    const { sessionId } = await makeSession();
    const plain = await call('POST', `/v1/sessions/${sessionId}/stream_tokens`, {});
    expect(plain.body).toMatchObject({ type: 'stream_token', session_id: sessionId, allow_send: false });
    const sending = await call('POST', `/v1/sessions/${sessionId}/stream_tokens`, { allow_send: true });
    expect(sending.body).toMatchObject({ type: 'stream_token', session_id: sessionId, allow_send: true });
    const bad = await call('POST', `/v1/sessions/${sessionId}/stream_tokens`, { allow_send: 'yes' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^allow_send: /);

    const refused = await call('POST', `/v1/sessions/${sessionId}/events`, message('hi'), null, bearer(plain.body.token));
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toMatch(/may only open the stream/);
    expect(await allEvents(sessionId)).toHaveLength(0);
  });

  it('post events to their session, which the agent answers, and open its stream', async () => {
    const { sessionId } = await makeSession();
    const token = await streamToken(sessionId, { allow_send: true });
    const sent = await call('POST', `/v1/sessions/${sessionId}/events`, message('[[reply:from the browser]]'), null, bearer(token));
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    const events = await settle(sessionId);
    expect(events.find((e) => e.type === 'agent.message')?.content[0].text).toBe('from the browser');

    // `?token=` as a browser's WebSocket sends it, and the Bearer header a page's fetch can set.
    for (const [query, headers] of [[`token=${encodeURIComponent(token)}&`, {}], ['', bearer(token)]] as const) {
      const ws = await SELF.fetch(`${BASE}/v1/sessions/${sessionId}/events/stream?${query}after=${events[0].id}`, { headers: { upgrade: 'websocket', ...headers } });
      expect(ws.status).toBe(101);
      ws.webSocket!.accept();
      ws.webSocket!.close();
    }
  });

  it('are refused by every other route, and change nothing there', async () => {
    const { sessionId, agentId, environmentId } = await makeSession();
    const other = await makeSession();
    const token = await streamToken(sessionId, { allow_send: true });
    const before = (await call('GET', `/v1/sessions/${sessionId}`)).body;
    const routes: [string, string, unknown?][] = [
      ['GET', '/v1/agents'],
      ['POST', '/v1/agents', { name: 'x', model: 'claude-sonnet-5-5' }],
      ['GET', `/v1/agents/${agentId}`],
      ['GET', '/v1/environments'],
      ['GET', `/v1/environments/${environmentId}`],
      ['GET', '/v1/sessions'],
      ['POST', '/v1/sessions', { agent: agentId, environment_id: environmentId }],
      ['GET', `/v1/sessions/${sessionId}`],
      ['POST', `/v1/sessions/${sessionId}`, { title: 'renamed' }],
      ['POST', `/v1/sessions/${sessionId}/archive`],
      ['DELETE', `/v1/sessions/${sessionId}`],
      ['GET', `/v1/sessions/${sessionId}/events`],
      ['POST', `/v1/sessions/${sessionId}/stream_tokens`, { allow_send: true }],
      ['GET', `/v1/sessions/${sessionId}/resources`],
      ['GET', `/v1/sessions/${sessionId}/threads`],
      ['POST', `/v1/sessions/${other.sessionId}/events`, message('not yours')],
      ['GET', `/v1/sessions/${other.sessionId}/events/stream`],
      ['POST', '/v1/access_tokens', {}],
      ['GET', '/v1/vaults'],
      ['GET', '/v1/files'],
      ['GET', '/v1/skills'],
      ['GET', '/v1/memory_stores'],
      ['GET', '/v1/deployments'],
      ['GET', '/v1/organizations/workspaces'],
      ['GET', '/v1/organizations/api_keys'],
    ];
    for (const [method, path, body] of routes) {
      for (const headers of [bearer(token), { 'x-api-key': token }]) {
        const r = await call(method, path, body, null, headers);
        expect(r.status, `${method} ${path}`).toBe(401);
        expect(r.body.error.type).toBe('authentication_error');
      }
    }
    expect((await call('GET', `/v1/sessions/${sessionId}`)).body).toEqual(before);
    expect(await allEvents(other.sessionId)).toHaveLength(0);
  });

  it('are refused by each route the API registers, with the token\'s own session in every path', async () => {
    const { sessionId } = await makeSession();
    const token = await streamToken(sessionId, { allow_send: true });
    const allowed = new Set([`POST /v1/sessions/${sessionId}/events`, `GET /v1/sessions/${sessionId}/events/stream`]);
    const routes = new Set(
      createApp()
        .routes.filter((r) => r.method !== 'ALL' && r.path.startsWith('/v1/') && !r.path.includes('*'))
        .map((r) => `${r.method} ${r.path.replace(/:[A-Za-z_]+/g, (param) => (param === ':id' && r.path.startsWith('/v1/sessions/:id') ? sessionId : 'x_1'))}`),
    );
    expect(routes.size).toBeGreaterThan(60);
    for (const route of routes) {
      if (allowed.has(route)) continue;
      const [method, path] = route.split(' ') as [string, string];
      const r = await call(method, path, method === 'GET' || method === 'DELETE' ? undefined : {}, null, bearer(token));
      expect(r.status, route).toBe(401);
    }
    expect(await allEvents(sessionId)).toHaveLength(0);
  });

  it('are refused once expired, saying so', async () => {
    const { sessionId } = await makeSession();
    const token = await forged({ k: 'send', s: sessionId, w: 'wrkspc_default', e: Math.floor(Date.now() / 1000) - 5 });
    const r = await call('POST', `/v1/sessions/${sessionId}/events`, message('late'), null, bearer(token));
    expect(r.status).toBe(401);
    expect(r.body.error.message).toMatch(/expired/);
  });
});

describe('access tokens', () => {
  it('act as the API key that minted them on the workspace routes, and cannot mint more', async () => {
    const minted = await call('POST', '/v1/access_tokens', {});
    expect(minted.status, JSON.stringify(minted.body)).toBe(200);
    expect(minted.body).toMatchObject({ type: 'access_token', workspace_id: 'wrkspc_default' });
    const ttl = (Date.parse(minted.body.expires_at) - Date.now()) / 1000;
    expect(ttl).toBeGreaterThan(800);
    expect(ttl).toBeLessThanOrEqual(900);
    const token = minted.body.token as string;

    const { sessionId } = await makeSession(KEY);
    const listed = await call('GET', '/v1/sessions?limit=100', undefined, null, bearer(token));
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((s: any) => s.id)).toContain(sessionId);
    const stream = await call('POST', `/v1/sessions/${sessionId}/stream_tokens`, { allow_send: true }, null, bearer(token));
    expect(stream.status).toBe(200);

    const again = await call('POST', '/v1/access_tokens', {}, null, bearer(token));
    expect(again.status).toBe(401);
    expect(again.body.error.message).toMatch(/cannot mint access tokens/);
    expect((await call('GET', '/v1/organizations/workspaces', undefined, null, bearer(token))).status).toBe(401);
  });

  it('refuse a ttl_seconds out of range naming it, and end with the key that minted them', async () => {
    for (const ttl_seconds of [59, 3601, 'long']) {
      const r = await call('POST', '/v1/access_tokens', { ttl_seconds });
      expect(r.status).toBe(400);
      expect(r.body.error.message).toMatch(/^ttl_seconds: /);
    }
    const ws = await call('POST', '/v1/organizations/workspaces', { name: 'tokens' }, ADMIN);
    const key = await call('POST', '/v1/organizations/api_keys', { name: 'k', workspace_id: ws.body.id }, ADMIN);
    const token = (await call('POST', '/v1/access_tokens', { ttl_seconds: 60 }, key.body.key)).body.token as string;
    expect((await call('GET', '/v1/agents', undefined, null, bearer(token))).status).toBe(200);
    expect((await call('POST', `/v1/organizations/api_keys/${key.body.id}`, { status: 'inactive' }, ADMIN)).status).toBe(200);
    const after = await call('GET', '/v1/agents', undefined, null, bearer(token));
    expect(after.status).toBe(401);
  });

  it('are refused once expired', async () => {
    const token = await forged({ k: 'access', d: 'f'.repeat(64), w: 'wrkspc_default', e: Math.floor(Date.now() / 1000) - 1 });
    const r = await call('GET', '/v1/agents', undefined, null, bearer(token));
    expect(r.status).toBe(401);
    expect(r.body.error.message).toMatch(/expired/);
  });
});
