// Prompt caching: the static prefix is byte-identical between turns and carries a breakpoint, the conversation
// carries breakpoints, and over a long session almost all input tokens are cache reads.
import { describe, expect, inject, it } from 'vitest';
import { call, say, settle } from './api.ts';

describe('prompt caching', () => {
  it('reads at least 90% of input tokens from the cache over a 50-turn session', async () => {
    const tools = [{ type: 'custom', name: 'lookup', description: 'Look something up', input_schema: { type: 'object', properties: { q: { type: 'string' } } } }];
    const a = await call('POST', '/v1/agents', { name: 'cached', model: 'claude-sonnet-5-5', system: 'You are a careful assistant. '.repeat(20), tools });
    const e = await call('POST', '/v1/environments', { name: 'env' });
    const id = (await call('POST', '/v1/sessions', { agent: a.body.id, environment_id: e.body.id })).body.id as string;
    for (let turn = 0; turn < 50; turn++) {
      await say(id, `turn ${turn} of session ${id}: tell me something about the number ${turn}`);
      await settle(id);
    }
    const events = (await call('GET', `/v1/sessions/${id}/events?types[]=span.model_request_end&limit=1000`)).body.data;
    expect(events).toHaveLength(50);
    let read = 0;
    let total = 0;
    for (const ev of events) {
      const u = ev.model_usage;
      read += u.cache_read_input_tokens;
      total += u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;
    }
    expect(read / total).toBeGreaterThanOrEqual(0.9);
    const session = (await call('GET', `/v1/sessions/${id}`)).body;
    expect(session.usage.cache_read_input_tokens).toBe(read);

    const recorded: any = await (await fetch(`${inject('scriptedModelUrl')}/_scripted/requests`)).json();
    const mine = recorded.data.filter((r: any) => JSON.stringify(r.body.messages).includes(id));
    const [prev, last] = mine.slice(-2).map((r: any) => r.body);
    expect(last.system.at(-1).cache_control).toEqual({ type: 'ephemeral' });
    expect(last.messages.at(-1).content.at(-1).cache_control).toEqual({ type: 'ephemeral' });
    const marked = last.messages.flatMap((m: any) => m.content).filter((b: any) => b.cache_control);
    expect(marked).toHaveLength(2);
    // The static prefix is byte-identical from one turn to the next.
    expect(JSON.stringify([prev.tools, prev.system])).toBe(JSON.stringify([last.tools, last.system]));
  });
});
