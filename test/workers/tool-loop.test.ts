// The tool loop's decisions that need no sandbox: custom tools go to the client, always_ask tools wait for a
// confirmation (a denial is an error result and nothing runs), input that violates the schema is refused.
import { describe, expect, inject, it } from 'vitest';
import { call, settle } from './api.ts';

async function sessionWith(tools: unknown[]) {
  const a = await call('POST', '/v1/agents', { name: 'tools', model: 'claude-sonnet-5-5', tools });
  expect(a.status, JSON.stringify(a.body)).toBe(200);
  const e = await call('POST', '/v1/environments', { name: 'env' });
  return (await call('POST', '/v1/sessions', { agent: a.body.id, environment_id: e.body.id })).body.id as string;
}

const send = (id: string, events: unknown[]) => call('POST', `/v1/sessions/${id}/events`, { events });
const say = (id: string, text: string) => send(id, [{ type: 'user.message', content: [{ type: 'text', text }] }]);
const weather = { type: 'custom', name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };

describe('tool loop', () => {
  it('hands a custom tool call to the client and resumes on user.custom_tool_result', async () => {
    const id = await sessionWith([weather]);
    await say(id, '[[tool:get_weather {"city":"Oslo"}]]');
    let events = await settle(id);
    const use = events.find((e) => e.type === 'agent.custom_tool_use');
    expect(use).toMatchObject({ name: 'get_weather', input: { city: 'Oslo' } });
    expect(events.at(-1).stop_reason).toEqual({ type: 'requires_action', event_ids: [use.id] });

    const ok = await send(id, [{ type: 'user.custom_tool_result', custom_tool_use_id: use.id, content: [{ type: 'text', text: 'snow' }] }]);
    expect(ok.status).toBe(200);
    events = await settle(id);
    expect(events.at(-1).stop_reason).toEqual({ type: 'end_turn' });
    expect(events.filter((e) => e.type === 'agent.message')).toHaveLength(1);

    const twice = await send(id, [{ type: 'user.custom_tool_result', custom_tool_use_id: use.id, content: [{ type: 'text', text: 'again' }] }]);
    expect(twice.status).toBe(400);
    expect(twice.body.error.message).toContain('already has a result');
  });

  it('waits for confirmation of an always_ask tool and records a denial without running it', async () => {
    const id = await sessionWith([{ type: 'agent_toolset_20260401', default_config: { permission_policy: { type: 'always_ask' } } }]);
    await say(id, '[[tool:bash {"command":"rm -rf /"}]]');
    let events = await settle(id);
    const use = events.find((e) => e.type === 'agent.tool_use');
    expect(use.evaluated_permission).toBe('ask');
    expect(events.at(-1).stop_reason).toEqual({ type: 'requires_action', event_ids: [use.id] });

    await send(id, [{ type: 'user.tool_confirmation', tool_use_id: use.id, result: 'deny', deny_message: 'Absolutely not.' }]);
    events = await settle(id);
    const result = events.find((e) => e.type === 'agent.tool_result');
    expect(result).toMatchObject({ tool_use_id: use.id, is_error: true, content: [{ type: 'text', text: 'Absolutely not.' }] });
    expect(events.at(-1).stop_reason).toEqual({ type: 'end_turn' });

    const again = await send(id, [{ type: 'user.tool_confirmation', tool_use_id: use.id, result: 'allow' }]);
    expect(again.status).toBe(400);
  });

  it('answers input that violates the tool schema with an error result naming the field', async () => {
    const id = await sessionWith([weather]);
    await say(id, '[[bad-tool-input:get_weather]]');
    const events = await settle(id);
    const result = events.find((e) => e.type === 'agent.tool_result');
    expect(result.is_error).toBe(true);
    expect(result.content[0].text).toContain('input');
    expect(result.content[0].text).toContain('city');
    expect(events.at(-1).stop_reason).toEqual({ type: 'end_turn' });
  });

  it('refuses a call to a tool the agent does not have', async () => {
    const id = await sessionWith([]);
    await say(id, '[[tool:bash {"command":"echo hi"}]]');
    const events = await settle(id);
    const result = events.find((e) => e.type === 'agent.tool_result');
    expect(result.is_error).toBe(true);
    expect(result.content[0].text).toContain("'bash' is not available");
  });

  it('offers the agent toolset and custom tools to the model, and only the enabled ones', async () => {
    const id = await sessionWith([
      { type: 'agent_toolset_20260401', configs: [{ name: 'bash', enabled: false }] },
      weather,
    ]);
    await say(id, `which tools do you have? (${id})`);
    await settle(id);
    const recorded: any = await (await fetch(`${inject('scriptedModelUrl')}/_scripted/requests`)).json();
    const request = recorded.data.filter((r: any) => JSON.stringify(r.body).includes(id)).at(-1);
    expect(request.body.tools.map((t: any) => t.name).sort()).toEqual(['edit', 'get_weather', 'glob', 'grep', 'read', 'write']);
    expect(request.body.tools.find((t: any) => t.name === 'read').input_schema.required).toContain('file_path');
    // A disabled tool is refused like an unknown one.
    await say(id, '[[tool:bash {"command":"echo hi"}]]');
    const events = await settle(id);
    const result = events.filter((e) => e.type === 'agent.tool_result').at(-1);
    expect(result.content[0].text).toContain("'bash' is not available");
  });
});
