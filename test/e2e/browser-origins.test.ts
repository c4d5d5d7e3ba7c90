// A web app in a real browser (Debian's chromium through playwright-core) against a running runtime: a page served
// from an origin in EDGEHARNESS_ALLOWED_ORIGINS sends a message with a send-enabled session token and sees the
// answer arrive over a WebSocket; the same page from another origin is blocked by the browser (no allow-origin) and
// by the runtime (no WebSocket), and nothing it tried reaches the session. Screenshots: test-artifacts/browser-origins/.
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScriptedRuntime, type ScriptedRuntime } from '../support/scripted-runtime.ts';

const ARTIFACTS = 'test-artifacts/browser-origins';

// The web app: given the runtime, a session and a send-enabled token (in the URL's fragment, as a server that
// minted it might hand it over), it opens the session's stream, sends one message, and shows the agent's answer.
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A web app</title></head>
<body><main><h1>A web app</h1><p id="socket">connecting</p><p id="sent">not sent</p><p id="answer"></p><p id="other">not tried</p></main>
<script type="module">
  const params = new URLSearchParams(location.hash.slice(1));
  const api = params.get('api'), session = params.get('session'), token = params.get('token'), text = params.get('text');
  const show = (id, value) => { document.getElementById(id).textContent = value; };
  const ws = new WebSocket(api.replace(/^http/, 'ws') + '/v1/sessions/' + session + '/events/stream?token=' + encodeURIComponent(token));
  ws.onerror = () => show('socket', 'error');
  ws.onclose = () => { if (document.getElementById('socket').textContent !== 'open') show('socket', 'refused'); };
  ws.onmessage = (m) => {
    const event = JSON.parse(m.data);
    if (event.type === 'agent.message') show('answer', event.content.map((b) => b.text).join(''));
  };
  const send = async () => {
    try {
      const res = await fetch(api + '/v1/sessions/' + session + '/events', {
        method: 'POST',
        headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' },
        body: JSON.stringify({ events: [{ type: 'user.message', content: [{ type: 'text', text }] }] }),
      });
      show('sent', 'status ' + res.status);
      return true;
    } catch (err) {
      show('sent', 'blocked: ' + err.name);
      return false;
    }
  };
  ws.onopen = async () => {
    show('socket', 'open');
    if (!(await send())) return;
    const other = await fetch(api + '/v1/agents', { headers: { authorization: 'Bearer ' + token } });
    show('other', 'status ' + other.status);
  };
  // A page whose socket is refused never opens: it still tries to send, and the browser stops it.
  setTimeout(() => { if (document.getElementById('socket').textContent !== 'open') send(); }, 1000);
</script></body></html>`;

async function pageServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('a web app on another origin', () => {
  let allowed: { server: Server; origin: string };
  let foreign: { server: Server; origin: string };
  let run: ScriptedRuntime;
  let browser: Browser;
  let agentId: string;
  let environmentId: string;

  beforeAll(async () => {
    allowed = await pageServer();
    foreign = await pageServer();
    run = await startScriptedRuntime('origins', { workerVars: { EDGEHARNESS_ALLOWED_ORIGINS: allowed.origin } });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    agentId = (await run.client.beta.agents.create({ name: 'web app agent', model: 'claude-sonnet-5-5' })).id;
    environmentId = (await run.client.beta.environments.create({ name: 'web app env' })).id;
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await run?.stop();
    allowed?.server.close();
    foreign?.server.close();
  });

  /** A session and a send-enabled token for it, as the web app's own server would mint them with the API key. */
  async function sessionWithToken(): Promise<{ sessionId: string; token: string }> {
    const session = await run.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    const res = await fetch(`${run.runtime.url}/v1/sessions/${session.id}/stream_tokens`, {
      method: 'POST',
      headers: { 'x-api-key': run.runtime.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ allow_send: true, ttl_seconds: 300 }),
    });
    expect(res.status).toBe(200);
    return { sessionId: session.id, token: ((await res.json()) as { token: string }).token };
  }

  async function openPage(origin: string, sessionId: string, token: string, text: string) {
    const page = await browser.newPage();
    const fragment = new URLSearchParams({ api: run.runtime.url, session: sessionId, token, text });
    await page.goto(`${origin}/#${fragment}`);
    return page;
  }

  async function eventTypes(sessionId: string): Promise<string[]> {
    const types: string[] = [];
    for await (const e of run.client.beta.sessions.events.list(sessionId)) types.push(e.type);
    return types;
  }

  it('sends a message from an allowed origin and sees the answer over the WebSocket; the token opens nothing else', async () => {
    const { sessionId, token } = await sessionWithToken();
    const page = await openPage(allowed.origin, sessionId, token, '[[reply:hello, web app]]');
    await expect.poll(() => page.textContent('#answer'), { timeout: 30_000 }).toBe('hello, web app');
    expect(await page.textContent('#socket')).toBe('open');
    expect(await page.textContent('#sent')).toBe('status 200');
    // Another route with the same token: the runtime answers 401, and the page may read that it did.
    await expect.poll(() => page.textContent('#other'), { timeout: 10_000 }).toBe('status 401');
    await page.screenshot({ path: `${ARTIFACTS}/allowed-origin.png` });
    await page.close();
    expect(await eventTypes(sessionId)).toEqual(expect.arrayContaining(['user.message', 'agent.message']));
  });

  it('blocks the same page from an origin that is not allowed, and nothing reaches the session', async () => {
    const { sessionId, token } = await sessionWithToken();
    const page = await openPage(foreign.origin, sessionId, token, '[[reply:should never be asked]]');
    await expect.poll(() => page.textContent('#sent'), { timeout: 30_000 }).toBe('blocked: TypeError');
    expect(await page.textContent('#socket')).toBe('refused');
    expect(await page.textContent('#answer')).toBe('');
    await page.screenshot({ path: `${ARTIFACTS}/foreign-origin.png` });
    await page.close();
    expect(await eventTypes(sessionId)).toEqual([]);
  });
});
