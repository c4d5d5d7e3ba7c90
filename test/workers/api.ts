// Test helpers for the workerd project: call the Worker's HTTP API as a client would.
import { env, runInDurableObject, SELF } from 'cloudflare:test';
import { expect } from 'vitest';
import { sha256Hex } from '../../worker/api/auth.ts';

export const KEY = 'test-key-default';
const BASE = 'http://edgeharness.test';

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export async function call<T = any>(method: string, path: string, body?: unknown, key: string | null = KEY, headers: Record<string, string> = {}): Promise<Reply<T>> {
  const init: RequestInit = { method, headers: { ...(key ? { 'x-api-key': key } : {}), ...headers } };
  if (body !== undefined) {
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await SELF.fetch(`${BASE}${path}`, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

/** An update (a POST to the resource's path) that must succeed and that a retrieve then reads back as answered. */
export async function updated(path: string, body: unknown): Promise<any> {
  const r = await call('POST', path, body);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect((await call('GET', path)).body).toEqual(r.body);
  return r.body;
}

/**
 * Gives `apiKey` its own workspace, quickly: the key's digest is written into the Directory's table
 * (durable-objects/directory-schema.ts) with no workspace row and no key object (such a key opens its workspace and
 * is never listed). test/workers/workspaces.test.ts makes workspaces and keys through the admin API instead.
 */
export async function registerKey(apiKey: string, workspaceId: string): Promise<void> {
  const digest = await sha256Hex(apiKey);
  await runInDurableObject(env.DIRECTORY.get(env.DIRECTORY.idFromName('directory')), async (_obj, state) => {
    state.storage.sql.exec(
      `INSERT OR REPLACE INTO api_keys (key_sha256, workspace_id, created_at) VALUES (?, ?, ?)`,
      digest,
      workspaceId,
      new Date().toISOString(),
    );
  });
}

export async function makeSession(key = KEY, agent: Record<string, unknown> = {}) {
  const a = await call('POST', '/v1/agents', { name: 'tester', model: 'claude-sonnet-5-5', system: 'You are terse.', ...agent }, key);
  if (a.status !== 200) throw new Error(`agent create failed: ${JSON.stringify(a.body)}`);
  const e = await call('POST', '/v1/environments', { name: 'env' }, key);
  const s = await call('POST', '/v1/sessions', { agent: a.body.id, environment_id: e.body.id }, key);
  if (s.status !== 200) throw new Error(`session create failed: ${JSON.stringify(s.body)}`);
  return { agentId: a.body.id as string, environmentId: e.body.id as string, sessionId: s.body.id as string };
}

export async function say(sessionId: string, text: string, key = KEY) {
  return call('POST', `/v1/sessions/${sessionId}/events`, { events: [{ type: 'user.message', content: [{ type: 'text', text }] }] }, key);
}

export async function allEvents(sessionId: string, key = KEY): Promise<any[]> {
  const out: any[] = [];
  let page: string | null = null;
  do {
    const r: Reply = await call('GET', `/v1/sessions/${sessionId}/events?limit=1000${page ? `&page=${page}` : ''}`, undefined, key);
    if (r.status !== 200) throw new Error(`events list failed: ${JSON.stringify(r.body)}`);
    out.push(...r.body.data);
    page = r.body.next_page;
  } while (page);
  return out;
}

/** Waits until the session has answered every user message it was sent (the log ends idle). */
export async function settle(sessionId: string, timeoutMs = 30_000): Promise<any[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = await allEvents(sessionId);
    // Settled: the session went idle after the last thing the client sent. Idle-time work (compaction) may
    // append after that idle event; the status is what counts.
    const lastInput = events.findLastIndex((e) => e.type.startsWith('user.'));
    const lastStatus = events.findLastIndex((e) => e.type.startsWith('session.status_'));
    if (lastStatus > lastInput && events[lastStatus].type === 'session.status_idle') return events;
    if (Date.now() > deadline) throw new Error(`session did not settle: ${events.map((e) => e.type).join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
