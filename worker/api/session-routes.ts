// What the routes under /v1/sessions/{id}/… share: the session the path names (in the caller's workspace), the
// position a page cursor of the log holds, and opening the log's live stream (the session's, or one thread's).
import type { Context } from 'hono';
import { z } from 'zod';
import type { AppEnv } from './app-env.ts';
import { invalidRequest } from './errors.ts';
import { parseQuery, unwrap, workspace } from './http.ts';
import { decodeCursor } from '../../contract/common.ts';
import { DELTA_TYPES } from '../../contract/event.ts';
import { sessionLog } from '../../durable-objects/stubs.ts';

const StreamQuery = z.object({
  'event_deltas[]': z.array(z.enum(DELTA_TYPES)).optional(),
  after: z.string().min(1).optional(),
  token: z.string().optional(),
});

/** The session `:id` names, 404 when it is not the caller workspace's. */
export async function ownedSession(c: Context<AppEnv>) {
  return unwrap(await workspace(c).getSession(c.req.param('id')!));
}

/** The log position a `page` cursor holds; a cursor this API did not hand out is a 400 naming `page`. */
export function logPosition(page: string | undefined): number | undefined {
  if (!page) return undefined;
  const cur = decodeCursor(page);
  if (!cur || typeof cur.s !== 'number') throw invalidRequest('page: not a cursor returned by this API');
  return cur.s;
}

/**
 * The log's live stream (SSE, or WebSocket on upgrade) for the session or, with `thread`, one of its threads:
 * resumed after `Last-Event-ID` or `?after=` (an id not in the session is a 400 naming which), with
 * `agent.message` deltas when `event_deltas[]` asks for them.
 */
export async function openLogStream(c: Context<AppEnv>, sessionId: string, thread?: string): Promise<Response> {
  const q = parseQuery(c, StreamQuery);
  const log = sessionLog(c.env, sessionId);
  const cursor = c.req.header('last-event-id') ?? q.after;
  let afterSeq: number | null = null;
  if (cursor) {
    afterSeq = await log.getEventSeq(cursor);
    if (afterSeq === null) throw invalidRequest(`${q.after ? 'after' : 'Last-Event-ID'}: no event '${cursor}' in this session`);
  }
  const url = new URL('https://session-log/stream');
  if (thread !== undefined) url.searchParams.set('thread', thread);
  if (afterSeq !== null) url.searchParams.set('after_seq', String(afterSeq));
  if (q['event_deltas[]']?.includes('agent.message')) url.searchParams.set('deltas', '1');
  return log.fetch(new Request(url, { headers: c.req.raw.headers }));
}
