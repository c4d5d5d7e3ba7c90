// End to end: tools in the loop through the official SDK — the agent toolset running in the local sandbox
// (bubblewrap), permissions, custom tools, schema checks, and at-most-once execution across a brain crash.
import Anthropic from '@anthropic-ai/sdk';
import { beforeAll, describe, expect, it } from 'vitest';
import { faultWorkerEntry, SANDBOX_FAULT_POINTS, type FaultPoint } from '../support/faults.ts';
import { startScriptedRuntime } from '../support/scripted-runtime.ts';
import { suiteFixture } from '../support/suite-fixture.ts';

type Event = Anthropic.Beta.Sessions.BetaManagedAgentsSessionEvent;

describe('tools through the loop', () => {
  const e2e = suiteFixture(
    () =>
      startScriptedRuntime('tools', {
        workerVars: { EDGEHARNESS_LEASE_MS: '1500' },
        // the production Worker, whose brain steps can be killed at named points (POST /v1/sessions/{id}/_faults)
        workerEntry: faultWorkerEntry(),
      }),
    (run) => run.stop(),
  );
  let environmentId: string;

  beforeAll(async () => {
    environmentId = (await e2e.client.beta.environments.create({ name: 'tools' })).id;
  });

  async function session(tools: Anthropic.Beta.AgentCreateParams['tools']): Promise<string> {
    const agent = await e2e.client.beta.agents.create({ name: 'tool user', model: 'claude-sonnet-5-5', tools });
    return (await e2e.client.beta.sessions.create({ agent: agent.id, environment_id: environmentId })).id;
  }

  /** Sends events and waits for the session to go idle; returns the events of this turn. */
  async function turn(id: string, events: Anthropic.Beta.Sessions.EventSendParams['events']): Promise<Event[]> {
    const stream = await e2e.client.beta.sessions.events.stream(id);
    await e2e.client.beta.sessions.events.send(id, { events });
    const seen: Event[] = [];
    for await (const ev of stream) {
      seen.push(ev as Event);
      if (ev.type === 'session.status_idle') break;
    }
    return seen;
  }

  const say = (text: string) => [{ type: 'user.message' as const, content: [{ type: 'text' as const, text }] }];
  const toolset = [{ type: 'agent_toolset_20260401' as const }];
  const resultText = (ev: Event | undefined) =>
    ev && ev.type === 'agent.tool_result' ? (ev.content ?? []).map((b) => ('text' in b ? b.text : '')).join('') : '';
  const find = <T extends Event['type']>(evs: Event[], type: T) => evs.filter((e) => e.type === type) as Array<Extract<Event, { type: T }>>;

  it('runs bash in the sandbox and reads the file back in a later turn', async () => {
    const id = await session(toolset);
    const first = await turn(id, say('[[tool:bash {"command":"echo hello-from-bash > note.txt && echo written"}]]'));
    expect(first.map((e) => e.type)).toEqual([
      'user.message', 'session.status_running', 'span.model_request_start', 'agent.tool_use', 'span.model_request_end',
      'agent.tool_result', 'span.model_request_start', 'agent.message', 'span.model_request_end', 'session.status_idle',
    ]);
    const result = find(first, 'agent.tool_result')[0]!;
    expect(result.tool_use_id).toBe(find(first, 'agent.tool_use')[0]!.id);
    expect(result.is_error).toBeFalsy();
    expect(resultText(result)).toContain('written');
    const idle = find(first, 'session.status_idle')[0]!;
    expect(idle.stop_reason.type).toBe('end_turn');

    const second = await turn(id, say('[[tool:read {"file_path":"note.txt"}]]'));
    const read = find(second, 'agent.tool_result')[0];
    expect(resultText(read)).toContain('hello-from-bash');
    // extension: the session's first call started its sandbox, the second found it running, in the log as streamed
    const stored: Event[] = [];
    for await (const e of e2e.client.beta.sessions.events.list(id, { limit: 1000 })) if (e.type === 'agent.tool_result') stored.push(e);
    for (const events of [[result, read], stored]) expect(events.map((e) => (e as { sandbox_start?: string }).sandbox_start)).toEqual(['cold', 'warm']);
  });

  it('runs write, edit, read, glob and grep through the loop', async () => {
    const id = await session(toolset);
    const run = async (name: string, input: object) => {
      const evs = await turn(id, say(`[[tool:${name} ${JSON.stringify(input)}]]`));
      const r = find(evs, 'agent.tool_result')[0]!;
      expect(r.is_error, `${name}: ${resultText(r)}`).toBeFalsy();
      return resultText(r);
    };
    await run('write', { file_path: 'src/app.txt', content: 'alpha\nbeta\n' });
    await run('edit', { file_path: 'src/app.txt', old_string: 'beta', new_string: 'gamma' });
    expect(await run('read', { file_path: 'src/app.txt' })).toContain('gamma');
    expect(await run('glob', { pattern: 'src/*.txt' })).toContain('app.txt');
    expect(await run('grep', { pattern: 'gam+a' })).toContain('app.txt');
  });

  it('waits for confirmation of an always_ask tool: allow runs it, deny records the deny message', async () => {
    const id = await session([{ type: 'agent_toolset_20260401', default_config: { permission_policy: { type: 'always_ask' } } }]);
    const asked = await turn(id, say('[[tool:bash {"command":"echo allowed-run"}]]'));
    const use = find(asked, 'agent.tool_use')[0]!;
    expect(use.evaluated_permission).toBe('ask');
    const idle = find(asked, 'session.status_idle')[0]!;
    expect(idle.stop_reason).toEqual({ type: 'requires_action', event_ids: [use.id] });
    expect(find(asked, 'agent.tool_result')).toEqual([]);

    const allowed = await turn(id, [{ type: 'user.tool_confirmation', tool_use_id: use.id, result: 'allow' }]);
    expect(resultText(find(allowed, 'agent.tool_result')[0])).toContain('allowed-run');
    expect(find(allowed, 'session.status_idle')[0]!.stop_reason.type).toBe('end_turn');

    const asked2 = await turn(id, say('[[tool:bash {"command":"echo must-not-run > denied.txt"}]]'));
    const use2 = find(asked2, 'agent.tool_use')[0]!;
    const denied = await turn(id, [{ type: 'user.tool_confirmation', tool_use_id: use2.id, result: 'deny', deny_message: 'Not on my machine.' }]);
    const r = find(denied, 'agent.tool_result')[0]!;
    expect(r.is_error).toBe(true);
    expect(resultText(r)).toBe('Not on my machine.');
    // Denied means never run: the file does not exist.
    const check = await turn(id, say('[[tool:bash {"command":"test -e denied.txt && echo present || echo absent"}]]'));
    const use3 = find(check, 'agent.tool_use')[0]!;
    const confirmed = await turn(id, [{ type: 'user.tool_confirmation', tool_use_id: use3.id, result: 'allow' }]);
    expect(resultText(find(confirmed, 'agent.tool_result')[0])).toContain('absent');
  });

  it('round-trips a custom tool through user.custom_tool_result', async () => {
    const id = await session([
      { type: 'custom', name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
    ]);
    const asked = await turn(id, say('[[tool:get_weather {"city":"Paris"}]]'));
    const use = find(asked, 'agent.custom_tool_use')[0]!;
    expect(use).toMatchObject({ name: 'get_weather', input: { city: 'Paris' } });
    expect(find(asked, 'session.status_idle')[0]!.stop_reason).toEqual({ type: 'requires_action', event_ids: [use.id] });

    const answered = await turn(id, [{ type: 'user.custom_tool_result', custom_tool_use_id: use.id, content: [{ type: 'text', text: 'sunny, 21 C' }] }]);
    expect(find(answered, 'session.status_idle')[0]!.stop_reason.type).toBe('end_turn');
    const sent = JSON.stringify(e2e.model.model.requests.at(-1)!.body);
    expect(sent).toContain('sunny, 21 C');
    expect(sent).toContain('"tool_result"');

    const again = await e2e.client.beta.sessions.events
      .send(id, { events: [{ type: 'user.custom_tool_result', custom_tool_use_id: use.id, content: [{ type: 'text', text: 'twice' }] }] })
      .catch((e: unknown) => e);
    expect(again).toBeInstanceOf(Anthropic.BadRequestError);
  });

  it('answers tool input that violates the schema with an error result naming the field', async () => {
    const id = await session(toolset);
    const evs = await turn(id, say('[[bad-tool-input:bash]]'));
    const r = find(evs, 'agent.tool_result')[0]!;
    expect(r.is_error).toBe(true);
    expect(resultText(r)).toMatch(/input(\.command)?:/);
    expect(r).not.toHaveProperty('sandbox_start'); // refused before it ran: no sandbox behind it
    expect(find(evs, 'session.status_idle')[0]!.stop_reason.type).toBe('end_turn');
  });

  it('starts no sandbox for a session that calls no tool, one on the first call, none after deletion', async () => {
    const sandboxes = async (): Promise<string[]> => {
      const r = await fetch(`${e2e.runtime.sandboxHost.url}/v1/sandboxes`, { headers: { authorization: `Bearer ${e2e.runtime.sandboxHost.secret}` } });
      expect(r.status).toBe(200);
      return JSON.stringify(await r.json()).match(/sesn_[A-Za-z0-9]+/g) ?? [];
    };
    const id = await session(toolset);
    await turn(id, say('just talk, no tools'));
    await turn(id, say('still no tools'));
    expect(await sandboxes()).not.toContain(id);
    await turn(id, say('[[tool:bash {"command":"echo now"}]]'));
    expect(await sandboxes()).toContain(id);
    await e2e.client.beta.sessions.delete(id);
    expect(await sandboxes()).not.toContain(id);
  });

  /** Makes the session's next brain steps die once at each point (test/support/fault-worker.ts). */
  async function injectFaults(id: string, points: readonly FaultPoint[]): Promise<void> {
    const r = await fetch(`${e2e.runtime.url}/v1/sessions/${id}/_faults`, {
      method: 'POST',
      headers: { 'x-api-key': e2e.runtime.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ points }),
    });
    expect(r.status).toBe(200);
  }

  /** The injected kills that have not happened yet. */
  async function pendingFaults(id: string): Promise<FaultPoint[]> {
    const r = await fetch(`${e2e.runtime.url}/v1/sessions/${id}/_faults`, { headers: { 'x-api-key': e2e.runtime.apiKey } });
    expect(r.status).toBe(200);
    return ((await r.json()) as { points: FaultPoint[] }).points;
  }

  for (const point of ['after_tool_use', 'after_tool_execution'] as const) {
    it(`runs a tool once when the brain dies between agent.tool_use and agent.tool_result (${point})`, async () => {
      const id = await session(toolset);
      await injectFaults(id, [point]);
      const evs = await turn(id, say('[[tool:bash {"command":"echo ran >> runs.log; wc -l < runs.log"}]]'));
      // the brain did die there
      expect(await pendingFaults(id)).toEqual([]);
      const results = find(evs, 'agent.tool_result');
      expect(results).toHaveLength(1);
      expect(resultText(results[0]).trim()).toBe('1');
      const count = await turn(id, say('[[tool:bash {"command":"wc -l < runs.log"}]]'));
      expect(resultText(find(count, 'agent.tool_result')[0]).trim()).toBe('1');
    });
  }
  it('gives the same transcript with random brain kills around tool runs, and runs each tool once (seeded)', async () => {
    const points: readonly FaultPoint[] = SANDBOX_FAULT_POINTS;
    let state = 7;
    const random = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
    const run = async (faults: FaultPoint[]) => {
      const id = await session(toolset);
      if (faults.length) await injectFaults(id, faults);
      const evs = await turn(id, say('[[tool:bash {"command":"echo ran >> runs.log; wc -l < runs.log"}]]'));
      // every kill happened: a turn with a tool call passes every point
      expect(await pendingFaults(id), `faults ${JSON.stringify(faults)}`).toEqual([]);
      return { types: evs.map((e) => e.type), results: find(evs, 'agent.tool_result').map((r) => resultText(r).trim()) };
    };
    const clean = await run([]);
    expect(clean.results).toEqual(['1']);
    for (let seed = 0; seed < 5; seed++) {
      const faults = points.filter(() => random() < 0.35);
      const got = await run(faults);
      expect(got, `faults ${JSON.stringify(faults)}`).toEqual(clean);
    }
  });
});
