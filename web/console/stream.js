// A session's events, live: the stored backlog first, then a WebSocket on the event stream that reconnects by
// itself. Every stored event reaches `onEvent` exactly once and in log order: a reconnect mints a fresh stream
// token and resumes with `?after=<last stored event id>`, and ids already seen are dropped.
import { ApiError, api } from './api.js';

const MAX_BACKOFF_MS = 10_000;
/** A ping keeps the socket from being closed as idle by something between the browser and the runtime. */
const PING_EVERY_MS = 20_000;

/**
 * Opens `sessionId`'s events. Handlers: `onEvent(event, live)` for each stored event (`live` when it arrived
 * over the socket); `onStart(event)` and
 * `onDelta(frame)` for the live frames of an agent.message being written; `onConnection(state, detail)` with
 * state 'connecting' | 'live' | 'reconnecting' (detail: seconds until the next try) | 'closed'.
 * Answers `close()`.
 */
export function openSessionEvents(sessionId, { onEvent, onStart, onDelta, onConnection }) {
  const seen = new Set();
  let lastId = null;
  let socket = null;
  let closed = false;
  let attempt = 0;
  let retryTimer = 0;
  let pingTimer = 0;

  /** `live`: the event came over the socket as it happened, not from the stored backlog. */
  const deliver = (event, live) => {
    if (!event?.id || seen.has(event.id)) return;
    seen.add(event.id);
    lastId = event.id;
    onEvent(event, live);
  };

  async function loadBacklog() {
    let page;
    do {
      const query = new URLSearchParams({ limit: '1000', order: 'asc' });
      if (page) query.set('page', page);
      const answer = await api('GET', `/v1/sessions/${encodeURIComponent(sessionId)}/events?${query}`);
      if (closed) return;
      for (const event of answer.data) deliver(event, false);
      page = answer.next_page;
    } while (page);
  }

  async function connect() {
    onConnection('connecting');
    try {
      if (attempt === 0 && lastId === null) await loadBacklog();
      const minted = await api('POST', `/v1/sessions/${encodeURIComponent(sessionId)}/stream_tokens`, { ttl_seconds: 300 });
      if (closed) return;
      const url = new URL(`/v1/sessions/${encodeURIComponent(sessionId)}/events/stream`, location.href);
      url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
      url.searchParams.set('token', minted.token);
      url.searchParams.append('event_deltas[]', 'agent.message');
      if (lastId) url.searchParams.set('after', lastId);
      openSocket(url, lastId === null);
    } catch (err) {
      // Signed out: the app has shown the sign-in form and this page is being torn down.
      if (err instanceof ApiError && err.status === 401) return;
      retry();
    }
  }

  function openSocket(url, fromNow) {
    const ws = new WebSocket(url);
    socket = ws;
    // With no cursor the stream starts when it opens: what was appended between the backlog and then is read
    // once more, and the socket's events wait until it has been, so they are shown after it, in log order.
    let held = fromNow ? [] : null;
    const release = () => {
      const waiting = held ?? [];
      held = null;
      for (const event of waiting) deliver(event, true);
    };
    ws.onopen = () => {
      attempt = 0;
      onConnection('live');
      pingTimer = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send('{"type":"ping"}'), PING_EVERY_MS);
      if (held) loadBacklog().catch(() => {}).finally(release);
    };
    ws.onmessage = (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (frame.type === 'pong') return;
      if (frame.type === 'event_start') onStart(frame.event);
      else if (frame.type === 'event_delta') onDelta(frame);
      else if (held) held.push(frame);
      else deliver(frame, true);
    };
    ws.onclose = () => {
      clearInterval(pingTimer);
      if (socket !== ws || closed) return;
      socket = null;
      retry();
    };
  }

  function retry() {
    if (closed) return;
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempt) * (0.75 + Math.random() / 2);
    attempt++;
    onConnection('reconnecting', Math.max(1, Math.round(delay / 1000)));
    retryTimer = setTimeout(connect, delay);
  }

  connect();
  return {
    close() {
      closed = true;
      clearTimeout(retryTimer);
      clearInterval(pingTimer);
      socket?.close();
      onConnection('closed');
    },
  };
}
