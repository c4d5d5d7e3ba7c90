// CORS: the origins in EDGEHARNESS_ALLOWED_ORIGINS (vitest.config.ts: https://app.example and
// https://other-app.example) may call the API from a browser; any other origin gets no Access-Control-Allow-Origin,
// a 403 preflight, and no WebSocket. The browser's side of it is test/e2e/browser-origins.test.ts.
import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { allEvents, KEY, makeSession } from './api.ts';

const BASE = 'http://edgeharness.test';
const ALLOWED = 'https://app.example';
const FOREIGN = 'https://evil.example';

function preflight(origin: string, path = '/v1/agents', requestHeaders = 'authorization,content-type,x-stainless-os') {
  return SELF.fetch(`${BASE}${path}`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': requestHeaders },
  });
}

describe('CORS', () => {
  it('answers a preflight from an allowed origin with what it may send, before any credentials', async () => {
    const res = await preflight(ALLOWED);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')).toBe('authorization,content-type,x-stainless-os');
    expect(res.headers.get('access-control-max-age')).toBe('600');
    expect(res.headers.get('vary')).toMatch(/origin/i);
    // The second listed origin too (the setting is comma-separated, spaces allowed).
    expect((await preflight('https://other-app.example')).headers.get('access-control-allow-origin')).toBe('https://other-app.example');
  });

  it('refuses a preflight from any other origin with a 403 envelope and no allow-origin', async () => {
    for (const origin of [FOREIGN, 'https://app.example.evil', 'http://app.example', 'null']) {
      const res = await preflight(origin);
      expect(res.status, origin).toBe(403);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      const body = (await res.json()) as { type: string; error: { type: string; message: string } };
      expect(body).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
      expect(body.error.message).toContain('EDGEHARNESS_ALLOWED_ORIGINS');
    }
  });

  it("marks an allowed origin's answers, errors included, and exposes the request id", async () => {
    const ok = await SELF.fetch(`${BASE}/v1/agents`, { headers: { origin: ALLOWED, 'x-api-key': KEY } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(ok.headers.get('access-control-expose-headers')).toContain('request-id');
    expect(ok.headers.get('vary')).toMatch(/origin/i);

    const unauthenticated = await SELF.fetch(`${BASE}/v1/agents`, { headers: { origin: ALLOWED } });
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get('access-control-allow-origin')).toBe(ALLOWED);

    const bad = await SELF.fetch(`${BASE}/v1/agents`, {
      method: 'POST',
      headers: { origin: ALLOWED, 'x-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 7 }),
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('access-control-allow-origin')).toBe(ALLOWED);
  });

  it("gives another origin's requests no allow-origin, so its page cannot read them", async () => {
    const res = await SELF.fetch(`${BASE}/v1/agents`, { headers: { origin: FOREIGN, 'x-api-key': KEY } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    await res.arrayBuffer();
  });

  it('opens a WebSocket for an allowed origin and the runtime\'s own pages, and refuses any other before it reaches the session', async () => {
    const { sessionId } = await makeSession();
    const url = `${BASE}/v1/sessions/${sessionId}/events/stream`;
    for (const origin of [ALLOWED, BASE]) {
      const ws = await SELF.fetch(url, { headers: { upgrade: 'websocket', origin, 'x-api-key': KEY } });
      expect(ws.status, origin).toBe(101);
      ws.webSocket!.accept();
      ws.webSocket!.close();
    }
    const refused = await SELF.fetch(url, { headers: { upgrade: 'websocket', origin: FOREIGN, 'x-api-key': KEY } });
    expect(refused.status).toBe(403);
    expect(refused.webSocket).toBeNull();
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain(FOREIGN);
    expect(await allEvents(sessionId)).toHaveLength(0);
  });
});
