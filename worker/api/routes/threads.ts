// /v1/sessions/{id}/threads: a session's threads (docs/threads.md) — list, retrieve, archive, and each thread's
// events, listed (paginated, in log order) and streamed (SSE, or WebSocket on upgrade), as sessions.threads does.
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../app-env.ts';
import { notFound } from '../errors.ts';
import { parseQuery, refusalError } from '../http.ts';
import { logPosition, openLogStream, ownedSession } from '../session-routes.ts';
import { encodeCursor } from '../../../contract/common.ts';
import { primaryThreadId, type EventView } from '../../../contract/threads.ts';
import { sessionLog } from '../../../durable-objects/stubs.ts';

const STATUSES = ['running', 'idle', 'rescheduling', 'terminated'] as const;
const ThreadListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  page: z.string().min(1).optional(),
  'statuses[]': z.array(z.enum(STATUSES)).optional(),
});
const ThreadEventsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  page: z.string().min(1).optional(),
});

async function threadsOf(c: Context<AppEnv>, sessionId: string) {
  const threads = await sessionLog(c.env, sessionId).threads();
  if (!threads) throw notFound(`session '${sessionId}' not found`);
  return threads;
}

/** The thread the path names, as the log's event view: the primary thread's events are the ones without a thread. */
async function threadView(c: Context<AppEnv>, sessionId: string): Promise<EventView> {
  const id = c.req.param('thread_id')!;
  const threads = await threadsOf(c, sessionId);
  if (!threads.some((t) => t.id === id)) throw notFound(`thread '${id}' not found in session '${sessionId}'`);
  return { kind: 'thread', thread: id === primaryThreadId(sessionId) ? null : id };
}

export const threads = new Hono<AppEnv>()
  .get('/:id/threads', async (c) => {
    const q = parseQuery(c, ThreadListQuery);
    const session = await ownedSession(c);
    const all = (await threadsOf(c, session.id)).filter((t) => !q['statuses[]'] || q['statuses[]'].includes(t.status));
    const from = logPosition(q.page) ?? 0;
    const data = all.slice(from, from + q.limit);
    return c.json({ data, next_page: from + q.limit < all.length ? encodeCursor({ s: from + q.limit }) : null });
  })
  .get('/:id/threads/:thread_id', async (c) => {
    const session = await ownedSession(c);
    const id = c.req.param('thread_id');
    const thread = (await threadsOf(c, session.id)).find((t) => t.id === id);
    if (!thread) throw notFound(`thread '${id}' not found in session '${session.id}'`);
    return c.json(thread);
  })
  .post('/:id/threads/:thread_id/archive', async (c) => {
    const session = await ownedSession(c);
    const result = await sessionLog(c.env, session.id).archiveThread(c.req.param('thread_id'));
    if (!result.ok) throw refusalError(result.error);
    return c.json(result.thread);
  })
  .get('/:id/threads/:thread_id/events', async (c) => {
    const q = parseQuery(c, ThreadEventsQuery);
    const session = await ownedSession(c);
    const view = await threadView(c, session.id);
    const position = logPosition(q.page);
    const page = await sessionLog(c.env, session.id).getEvents({ limit: q.limit, order: 'asc', view, ...(position !== undefined ? { afterSeq: position } : {}) });
    const last = page.events[page.events.length - 1];
    return c.json({ data: page.events.map((e) => e.event), next_page: page.hasMore && last ? encodeCursor({ s: last.seq }) : null });
  })
  .get('/:id/threads/:thread_id/stream', async (c) => {
    const session = await ownedSession(c);
    await threadView(c, session.id);
    return openLogStream(c, session.id, c.req.param('thread_id'));
  });
