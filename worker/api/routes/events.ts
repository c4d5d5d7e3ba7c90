// /v1/sessions/{id}/events: send, list (paginated, in log order), and stream (SSE, or WebSocket on upgrade),
// resumable after `Last-Event-ID` or `?after=<event id>`.
import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { invalidRequest } from '../errors.ts';
import { checkFileSources, parseQuery, readJson, refusalError } from '../http.ts';
import { logPosition, openLogStream, ownedSession } from '../session-routes.ts';
import { encodeCursor } from '../../../contract/common.ts';
import { EventListQuery, EventSendParams } from '../../../contract/event.ts';
import { sessionLog } from '../../../durable-objects/stubs.ts';
import { resolveRubrics } from '../outcome-rubrics.ts';

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
    const position = logPosition(q.page);
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
    const session = await ownedSession(c);
    return openLogStream(c, session.id);
  });
