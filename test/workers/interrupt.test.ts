// user.interrupt ends the running turn at once: the session idles in the same append and the working brain's
// epoch is fenced out, so the slow answer never lands. (The brain also aborts its model call when it sees the
// lease gone; this test shows the outcome a user sees, not the abort itself.)
import { describe, expect, it } from 'vitest';
import { allEvents, call, makeSession, say } from './api.ts';

describe('user.interrupt', () => {
  it('idles the session immediately during a 10 s model call; the slow answer never appears', async () => {
    const { sessionId } = await makeSession();
    await say(sessionId, 'take your time [[slow-first-token 10000]]');
    // Wait until the model request is under way.
    for (let i = 0; i < 200; i++) {
      if ((await allEvents(sessionId)).some((e) => e.type === 'span.model_request_start')) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const sent = await call('POST', `/v1/sessions/${sessionId}/events`, { events: [{ type: 'user.interrupt' }] });
    expect(sent.status).toBe(200);
    const now = await allEvents(sessionId);
    const i = now.findIndex((e) => e.type === 'user.interrupt');
    // The idle is part of the interrupt's own append, not something a brain gets round to later.
    expect(now[i + 1]).toMatchObject({ type: 'session.status_idle', stop_reason: { type: 'end_turn' } });
    expect((await call('GET', `/v1/sessions/${sessionId}`)).body.status).toBe('idle');

    // Well past the slow first token: nothing from the interrupted call has landed.
    await new Promise((r) => setTimeout(r, 10_500));
    const later = await allEvents(sessionId);
    expect(later.filter((e) => e.type === 'agent.message')).toEqual([]);
    expect(later.at(-1).type).toBe('session.status_idle');

    // The session is usable again.
    await say(sessionId, 'and now quickly');
    for (let n = 0; n < 400; n++) {
      const evs = await allEvents(sessionId);
      if (evs.at(-1).type === 'session.status_idle' && evs.some((e) => e.type === 'agent.message')) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect((await allEvents(sessionId)).filter((e) => e.type === 'agent.message')).toHaveLength(1);
  });
});
