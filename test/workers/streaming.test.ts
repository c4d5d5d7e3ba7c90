// Live streams resume exactly after a cursor: SSE with Last-Event-ID (or ?after=), WebSocket with ?after=,
// then carry live events; browsers authenticate with a stream token.
import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, KEY, makeSession, say, settle } from './api.ts';

const BASE = 'http://edgeharness.test';

/** Reads SSE frames (skipping pings and comments) until `until` says stop. */
async function readSse(res: Response, until: (events: any[]) => boolean): Promise<{ events: any[]; ids: string[] }> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  const events: any[] = [];
  const ids: string[] = [];
  while (!until(events)) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      const fields = Object.fromEntries(
        frame
          .split('\n')
          .filter((l) => l && !l.startsWith(':'))
          .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trimStart()]),
      );
      if (!fields.event || fields.event === 'ping') continue;
      const data = JSON.parse(fields.data ?? "null");
      events.push(data);
      if (fields.id) ids.push(fields.id);
    }
  }
  await reader.cancel();
  return { events, ids };
}

async function firstTurn() {
  const s = await makeSession();
  await say(s.sessionId, 'first turn');
  const events = await settle(s.sessionId);
  return { ...s, events };
}

describe('streaming', () => {
  it('replays exactly the events after Last-Event-ID over SSE, then streams live ones', async () => {
    const { sessionId, events } = await firstTurn();
    const cursor = events[2];
    const res = await SELF.fetch(`${BASE}/v1/sessions/${sessionId}/events/stream`, {
      headers: { 'x-api-key': KEY, 'last-event-id': cursor.id },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reading = readSse(res, (evs) => evs.filter((e) => e.type === 'session.status_idle').length >= 2);
    await say(sessionId, 'second turn');
    const { events: got, ids } = await reading;
    const all = await settle(sessionId);
    const expected = all.slice(3);
    expect(got.map((e) => e.id)).toEqual(expected.map((e) => e.id));
    expect(ids).toEqual(expected.map((e) => e.id));
  });

  it('accepts the cursor as ?after= too, and rejects an unknown cursor', async () => {
    const { sessionId, events } = await firstTurn();
    const res = await SELF.fetch(`${BASE}/v1/sessions/${sessionId}/events/stream?after=${events[3].id}`, { headers: { 'x-api-key': KEY } });
    const { events: got } = await readSse(res, (evs) => evs.length >= events.length - 4);
    expect(got.map((e) => e.id)).toEqual(events.slice(4).map((e) => e.id));
    const bad = await call('GET', `/v1/sessions/${sessionId}/events/stream?after=sevt_unknown`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('after');
  });

  it('streams live events only when no cursor is given', async () => {
    const { sessionId } = await firstTurn();
    const res = await SELF.fetch(`${BASE}/v1/sessions/${sessionId}/events/stream`, { headers: { 'x-api-key': KEY } });
    const reading = readSse(res, (evs) => evs.some((e) => e.type === 'session.status_idle'));
    await say(sessionId, 'live only');
    const { events: got } = await reading;
    expect(got[0].type).toBe('user.message');
    expect(got.filter((e) => e.type === 'user.message')).toHaveLength(1);
  });

  it('streams agent.message deltas when asked, ahead of the full event', async () => {
    const { sessionId } = await firstTurn();
    const res = await SELF.fetch(`${BASE}/v1/sessions/${sessionId}/events/stream?event_deltas[]=agent.message`, { headers: { 'x-api-key': KEY } });
    const reading = readSse(res, (evs) => evs.some((e) => e.type === 'session.status_idle'));
    await say(sessionId, 'please stream this reply in pieces');
    const { events: got } = await reading;
    const message = got.find((e) => e.type === 'agent.message');
    const start = got.findIndex((e) => e.type === 'event_start');
    expect(start).toBeGreaterThanOrEqual(0);
    expect(start).toBeLessThan(got.indexOf(message));
    const text = got.filter((e) => e.type === 'event_delta' && e.event_id === message.id).map((e) => e.delta.content.text).join('');
    expect(text).toBe(message.content.map((b: any) => b.text).join(''));
  });

  it('replays after ?after= over a WebSocket, then streams live events', async () => {
    const { sessionId, events } = await firstTurn();
    const res = await SELF.fetch(`${BASE}/v1/sessions/${sessionId}/events/stream?after=${events[1].id}`, {
      headers: { 'x-api-key': KEY, upgrade: 'websocket' },
    });
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    const got: any[] = [];
    const done = new Promise<void>((resolve) => {
      ws.addEventListener('message', (m) => {
        got.push(JSON.parse(m.data as string));
        if (got.filter((e) => e.type === 'session.status_idle').length >= 2) resolve();
      });
    });
    ws.accept();
    await say(sessionId, 'over the socket');
    await done;
    ws.close();
    const all = await settle(sessionId);
    expect(got.map((e) => e.id)).toEqual(all.slice(2).map((e) => e.id));
  });

  it('lets a browser in with a stream token for that session only', async () => {
    const { sessionId, events } = await firstTurn();
    const other = await makeSession();
    const minted = await call('POST', `/v1/sessions/${sessionId}/stream_tokens`, {});
    expect(minted.status).toBe(200);
    const token = minted.body.token as string;
    const ok = await SELF.fetch(`${BASE}/v1/sessions/${sessionId}/events/stream?after=${events[0].id}&token=${encodeURIComponent(token)}`);
    expect(ok.status).toBe(200);
    const { events: got } = await readSse(ok, (evs) => evs.length >= events.length - 1);
    expect(got.map((e) => e.id)).toEqual(events.slice(1).map((e) => e.id));
    const wrongSession = await SELF.fetch(`${BASE}/v1/sessions/${other.sessionId}/events/stream?token=${encodeURIComponent(token)}`);
    expect(wrongSession.status).toBe(401);
    const notForApi = await SELF.fetch(`${BASE}/v1/sessions/${sessionId}?token=${encodeURIComponent(token)}`);
    expect(notForApi.status).toBe(401);
    const forged = await SELF.fetch(`${BASE}/v1/sessions/${sessionId}/events/stream?token=${encodeURIComponent(token.slice(0, -2) + 'xx')}`);
    expect(forged.status).toBe(401);
  });
});
