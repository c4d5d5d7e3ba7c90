// Budgets stop a runaway tool loop: the official USD budget, max_tool_calls and max_wall_seconds each end the
// turn with budget_reached and a complete trace; the 80% wrap-up notice reaches the model once.
import type Anthropic from '@anthropic-ai/sdk';
import { beforeAll, describe, expect, it } from 'vitest';
import { startScriptedRuntime } from '../support/scripted-runtime.ts';
import { suiteFixture } from '../support/suite-fixture.ts';

type Event = Anthropic.Beta.Sessions.BetaManagedAgentsSessionEvent;

describe('budgets and limits', () => {
  const e2e = suiteFixture(() => startScriptedRuntime('budget'), (run) => run.stop());
  let agentId: string;
  let environmentId: string;

  beforeAll(async () => {
    agentId = (await e2e.client.beta.agents.create({ name: 'runaway', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] })).id;
    environmentId = (await e2e.client.beta.environments.create({ name: 'budget' })).id;
  });

  /** A model that never stops calling tools (each call a little different, so it is not a loop of one call). */
  function runaway() {
    e2e.model.model.reset();
    for (let i = 0; i < 2_000; i++) e2e.model.model.enqueue({ type: 'tool_use', name: 'bash', input: { command: `echo x >> runs.log; wc -l < runs.log # ${i}` } });
  }

  async function runTurn(extra: Record<string, unknown>): Promise<{ id: string; events: Event[] }> {
    const session = await e2e.client.beta.sessions.create({ agent: agentId, environment_id: environmentId, ...extra } as Anthropic.Beta.SessionCreateParams);
    const stream = await e2e.client.beta.sessions.events.stream(session.id);
    await e2e.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'loop forever' }] }] });
    const events: Event[] = [];
    for await (const ev of stream) {
      events.push(ev as Event);
      if (ev.type === 'session.status_idle') break;
    }
    return { id: session.id, events };
  }

  const texts = (evs: Event[], type: 'agent.tool_result') =>
    evs.filter((e) => e.type === type).map((e) => (e.type === type ? (e.content ?? []).map((b) => ('text' in b ? b.text : '')).join('') : ''));

  it('stops after max_tool_calls tool runs with tool_use_limit_reached, and notices at 80% once', async () => {
    runaway();
    const { events } = await runTurn({ limits: { max_tool_calls: 5 } });
    const ran = texts(events, 'agent.tool_result').filter((t) => !t.startsWith('Not run'));
    expect(events.some((e) => (e as unknown as { stopped_by?: string }).stopped_by)).toBe(false);
    expect(ran.map((t) => t.trim())).toEqual(['1', '2', '3', '4', '5']);
    const error = events.find((e) => e.type === 'session.error');
    expect(error && error.type === 'session.error' && error.error.type).toBe('tool_use_limit_reached_error');
    const idle = events.at(-1)!;
    expect(idle.type === 'session.status_idle' && idle.stop_reason.type).toBe('budget_reached');
    const notices = events.filter((e) => e.type === 'system.message');
    expect(notices).toHaveLength(1);
    // The notice reached the model.
    expect(JSON.stringify(e2e.model.model.requests.at(-1)!.body)).toContain('Budget notice: 80%');
  });

  it('stops at the USD budget (list prices) with budget_reached and exact usage', async () => {
    runaway();
    const { id, events } = await runTurn({ budget: { type: 'limit', max_list_cost: { amount: '0.002', currency: 'USD' } } });
    const idle = events.at(-1)!;
    expect(idle.type === 'session.status_idle' && idle.stop_reason.type).toBe('budget_reached');
    const session = await e2e.client.beta.sessions.retrieve(id);
    const spent = Number(session.usage.list_cost?.amount);
    expect(spent).toBeGreaterThanOrEqual(0.002);
    // Stopped before the next request: the spend before the last request was still under budget.
    const requests = events.filter((e) => e.type === 'span.model_request_end');
    expect(requests.length).toBeGreaterThan(1);
    expect(requests.length).toBeLessThan(200);
    expect(events.filter((e) => e.type === 'system.message')).toHaveLength(1);
    const usage = requests.reduce((n, e) => n + (e.type === 'span.model_request_end' ? e.model_usage.output_tokens : 0), 0);
    expect(session.usage.output_tokens).toBe(usage);
  });

  it('stops a running loop at max_wall_seconds, from the session’s own alarm', async () => {
    runaway();
    const { id, events } = await runTurn({ limits: { max_wall_seconds: 3 } });
    const idle = events.at(-1)!;
    expect(idle.type === 'session.status_idle' && idle.stop_reason.type).toBe('budget_reached');
    expect((idle as unknown as { limit: string }).limit).toBe('max_wall_seconds');
    // Nothing from the fenced-off brain lands afterwards.
    await new Promise((r) => setTimeout(r, 1500));
    const all = [];
    for await (const e of e2e.client.beta.sessions.events.list(id, { limit: 1000 })) all.push(e);
    expect(all.at(-1)!.id).toBe(idle.id);
  });

  it('nudges a model that repeats the same call, then stops the turn with a visible reason', async () => {
    e2e.model.model.reset();
    e2e.model.model.enqueue({ type: 'tool_use', name: 'bash', input: { command: 'echo same' }, repeat: 50 });
    const { events } = await runTurn({});
    expect(events.filter((e) => e.type === 'agent.tool_use')).toHaveLength(3);
    expect(events.filter((e) => e.type === 'system.message')).toHaveLength(1);
    const error = events.find((e) => e.type === 'session.error');
    expect(error && error.type === 'session.error' && error.error.message).toContain('loop detected');
    const idle = events.at(-1)! as unknown as { type: string; stopped_by: string; stop_reason: { type: string } };
    expect(idle).toMatchObject({ type: 'session.status_idle', stopped_by: 'loop_detection', stop_reason: { type: 'end_turn' } });
  });
});
