// Model faults: overload, rate limits (honouring retry-after) and streams cut mid-way are retried, each retry
// visible as a session.error; a model that keeps failing ends the turn with retries_exhausted after a bounded
// number of attempts; a retry never duplicates an agent.message.
import { describe, expect, it } from 'vitest';
import { makeSession, say, settle } from './api.ts';

const types = (events: any[]) => events.map((e) => e.type);

describe('model faults', () => {
  it('recovers from two 529s with two visible retries and one answer', async () => {
    const { sessionId } = await makeSession();
    await say(sessionId, 'overloaded twice [[fault:529 x2]] then fine');
    const events = await settle(sessionId);
    const errors = events.filter((e) => e.type === 'session.error');
    expect(errors.map((e) => [e.error.type, e.error.retry_status.type])).toEqual([
      ['model_overloaded_error', 'retrying'],
      ['model_overloaded_error', 'retrying'],
    ]);
    expect(events.filter((e) => e.type === 'agent.message')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'span.model_request_start')).toHaveLength(1);
    expect(events.at(-1).stop_reason).toEqual({ type: 'end_turn' });
  });

  // Parallel to the overload case above, deliberately: each fault read as its own story.
  it('waits as retry-after asks on a 429', async () => {
    const { sessionId } = await makeSession();
    await say(sessionId, 'rate limited [[fault:429 retry-after=1]]');
    const events = await settle(sessionId);
    const error = events.find((e) => e.type === 'session.error');
    expect(error.error.type).toBe('model_rate_limited_error');
    expect(error.error.message).toContain('in 1.0 s (as retry-after asks)');
    expect(events.filter((e) => e.type === 'agent.message')).toHaveLength(1);
    expect(events.at(-1).stop_reason).toEqual({ type: 'end_turn' });
  });

  it('retries a stream cut mid-way without a duplicate agent.message', async () => {
    const { sessionId } = await makeSession();
    await say(sessionId, 'cut me off [[fault:cut after=10]] [[reply:the whole answer, delivered once]]');
    const events = await settle(sessionId);
    expect(types(events).filter((t) => t === 'session.error')).toHaveLength(1);
    const messages = events.filter((e) => e.type === 'agent.message');
    expect(messages).toHaveLength(1);
    expect(messages[0].content[0].text).toBe('the whole answer, delivered once');
  });

  it('ends with retries_exhausted after a bounded number of attempts when the model keeps failing', async () => {
    const { sessionId } = await makeSession();
    await say(sessionId, 'always broken [[fault:500 x99]]');
    const events = await settle(sessionId);
    const errors = events.filter((e) => e.type === 'session.error');
    // EDGEHARNESS_MODEL_MAX_ATTEMPTS is 4 in the test configuration: three retries, then the breaker opens.
    expect(errors.map((e) => e.error.retry_status.type)).toEqual(['retrying', 'retrying', 'retrying', 'exhausted']);
    expect(events.filter((e) => e.type === 'agent.message')).toHaveLength(0);
    expect(events.find((e) => e.type === 'span.model_request_end').is_error).toBe(true);
    expect(events.at(-1).stop_reason).toEqual({ type: 'retries_exhausted' });
  });
});
