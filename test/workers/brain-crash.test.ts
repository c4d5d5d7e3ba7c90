// A brain killed mid-step is re-woken by the session's alarm and the turn completes exactly once.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { injectFaults, MODEL_FAULT_POINTS } from '../support/faults.ts';
import { allEvents, call, makeSession, say, settle } from './api.ts';

const TURN = ['user.message', 'session.status_running', 'span.model_request_start', 'agent.message', 'span.model_request_end', 'session.status_idle'];

function log(sessionId: string) {
  return env.SESSION_LOG.get(env.SESSION_LOG.idFromName(sessionId));
}

describe('brain crash recovery', () => {
  // The tool-execution points are exercised end to end with a real sandbox (test/e2e/tools.test.ts).
  for (const point of MODEL_FAULT_POINTS) {
    it(`completes the turn with no duplicate event after a crash at ${point}`, async () => {
      const { sessionId } = await makeSession();
      await injectFaults(env, sessionId, [point]);
      expect((await say(sessionId, 'hello after a crash')).status).toBe(200);
      const events = await settle(sessionId);
      expect(events.map((e) => e.type)).toEqual(TURN);
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
      const end = events.find((e) => e.type === 'span.model_request_end');
      expect(end.model_request_start_id).toBe(events.find((e) => e.type === 'span.model_request_start').id);
      expect(end.is_error).toBe(false);
      // The crashed brain's epoch was replaced by a newer one.
      expect((await log(sessionId).leaseInfo())!.epoch).toBeGreaterThanOrEqual(2);
      const session = await call('GET', `/v1/sessions/${sessionId}`);
      expect(session.body.status).toBe('idle');
    });
  }

  it('refuses an append from a stale epoch and leaves the log unchanged', async () => {
    const { sessionId } = await makeSession();
    await injectFaults(env, sessionId, ['after_running']);
    await say(sessionId, 'first');
    await settle(sessionId);
    const before = await allEvents(sessionId);
    const { epoch } = (await log(sessionId).leaseInfo())!;
    expect(epoch).toBeGreaterThanOrEqual(2);
    const stale = await log(sessionId).emit(epoch - 1, [{ type: 'agent.message', content: [{ type: 'text', text: 'late' }] }]);
    expect(stale.ok).toBe(false);
    if (!stale.ok) expect(stale.error.type).toBe('stale_epoch');
    // The current epoch has released its lease too: a finished step cannot append either.
    const finished = await log(sessionId).emit(epoch, [{ type: 'agent.message', content: [{ type: 'text', text: 'late' }] }]);
    expect(finished.ok).toBe(false);
    expect(await allEvents(sessionId)).toEqual(before);
  });
});
