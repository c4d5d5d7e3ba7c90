// /v1/sessions/{id}/events: send, list (paginated, in log order), and stream (SSE, or WebSocket on upgrade),
// resumable after `Last-Event-ID` or `?after=<event id>`.
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../app-env.ts';
import { invalidRequest } from '../errors.ts';
import { checkFileSources, parseQuery, readJson, refusalError, unwrap, workspace } from '../http.ts';
import { decodeCursor, encodeCursor } from '../../../contract/common.ts';
import { DELTA_TYPES, EventListQuery, EventSendParams } from '../../../contract/event.ts';
import { sessionLog } from '../../../durable-objects/stubs.ts';
import { resolveRubrics } from '../outcome-rubrics.ts';

const StreamQuery = z.object({
  'event_deltas[]': z.array(z.enum(DELTA_TYPES)).optional(),
  after: z.string().min(1).optional(),
  token: z.string().optional(),
});

async function ownedSession(c: Context<AppEnv>) {
  return unwrap(await workspace(c).getSession(c.req.param('id')!));
}

export const events = new Hono<AppEnv>()
  .post('/:id/events', async (c) => {
    const body = await readJson(c, EventSendParams);
    const session = await ownedSession(c);
    if (session.archived_at) throw invalidRequest(`session '${session.id}' is archived and accepts no events`);
    await checkFileSources(c, body.events);
    const result = await sessionLog(c.env, session.id).appendInput(await resolveRubrics(c, body.events));
    if (!result.ok) throw refusalError(result.error);
    return c.json({ data: result.events });
  })
  .get('/:id/events', async (c) => {
    const q = parseQuery(c, EventListQuery);
    const session = await ownedSession(c);
    let position: number | undefined;
    if (q.page) {
      const cur = decodeCursor(q.page);
      if (!cur || typeof cur.s !== 'number') throw invalidRequest('page: not a cursor returned by this API');
      position = cur.s;
    }
    const asc = q.order === 'asc';
    const page = await sessionLog(c.env, session.id).getEvents({
      limit: q.limit,
      order: q.order,
      ...(position !== undefined ? (asc ? { afterSeq: position } : { beforeSeq: position }) : {}),
      ...(q['types[]'] ? { types: q['types[]'] } : {}),
    });
    const last = page.events[page.events.length - 1];
    return c.json({
      data: page.events.map((e) => e.event),
      next_page: page.hasMore && last ? encodeCursor({ s: last.seq }) : null,
    });
  })
  .get('/:id/events/stream', async (c) => {
    const q = parseQuery(c, StreamQuery);
    const session = await ownedSession(c);
    const log = sessionLog(c.env, session.id);
    const cursor = c.req.header('last-event-id') ?? q.after;
    let afterSeq: number | null = null;
    if (cursor) {
      afterSeq = await log.getEventSeq(cursor);
      if (afterSeq === null) throw invalidRequest(`${q.after ? 'after' : 'Last-Event-ID'}: no event '${cursor}' in this session`);
    }
    const url = new URL('https://session-log/stream');
    if (afterSeq !== null) url.searchParams.set('after_seq', String(afterSeq));
    if (q['event_deltas[]']?.includes('agent.message')) url.searchParams.set('deltas', '1');
    return log.fetch(new Request(url, { headers: c.req.raw.headers }));
  });
