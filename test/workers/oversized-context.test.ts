// A session whose context outgrows what one step can read (the 32 MiB limit on a Durable Object's answer) ends
// its turn with a visible error, once, instead of waking a brain that fails the same way at every alarm.
import { expect, it } from 'vitest';
import { allEvents, call, makeSession, settle } from './api.ts';

const send = (sessionId: string, text: string) =>
  call('POST', `/v1/sessions/${sessionId}/events`, { events: [{ type: 'user.message', content: [{ type: 'text', text }] }] });

it('ends the turn with a terminal model_request_failed_error when the session is too large to read, and stays idle', async () => {
  const { sessionId } = await makeSession();
  // each send is within the body limit; together they are more than one step can read
  expect((await send(sessionId, 'a'.repeat(17_000_000))).status).toBe(200);
  await settle(sessionId);
  expect((await send(sessionId, 'b'.repeat(17_000_000))).status).toBe(200);
  const events = await settle(sessionId);
  const tail = events.slice(-3).map((e) => ({ type: e.type, error: e.error?.type, stop: e.stop_reason?.type }));
  expect(tail).toEqual([
    { type: 'user.message', error: undefined, stop: undefined },
    { type: 'session.error', error: 'model_request_failed_error', stop: undefined },
    { type: 'session.status_idle', error: undefined, stop: 'retries_exhausted' },
  ]);
  expect(events.at(-2).error).toMatchObject({ retry_status: { type: 'terminal' } });
  expect(events.at(-2).error.message).toContain('larger than one turn can read');
  expect((await call('GET', `/v1/sessions/${sessionId}`)).body.status).toBe('idle');
  // nothing more happens: no brain keeps waking on it
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  expect((await allEvents(sessionId)).length).toBe(events.length);
}, 120_000);
