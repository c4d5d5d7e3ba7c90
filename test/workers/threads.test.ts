// Sub-agent threads (docs/threads.md): a lead agent with a predefined helper delegates through the `delegate` tool
// (driven by the scripted model's [[delegate:NAME:MESSAGE]] directive), the helper's answer reaches the lead, the
// session lists two threads, a brain killed mid-thread leaves the same transcript, and a budget stops both threads.
import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { faultLog, injectFaults, MODEL_FAULT_POINTS, type FaultPoint } from '../support/faults.ts';
import { allEvents, call, say, settle } from './api.ts';

const TASK = 'count the vowels in banana';

async function leadWithHelper(sessionExtra: Record<string, unknown> = {}) {
  const helper = await call('POST', '/v1/agents', { name: 'helper', model: 'claude-sonnet-5-5', system: 'You help.' });
  expect(helper.status).toBe(200);
  const lead = await call('POST', '/v1/agents', {
    name: 'lead',
    model: 'claude-sonnet-5-5',
    multiagent: { type: 'multiagent_20261001', subagents: { type: 'enabled', predefined_agents: [helper.body.id] } },
  });
  expect(lead.status).toBe(200);
  const e = await call('POST', '/v1/environments', { name: 'env' });
  const s = await call('POST', '/v1/sessions', { agent: lead.body.id, environment_id: e.body.id, ...sessionExtra });
  expect(s.status).toBe(200);
  return { helper: helper.body, lead: lead.body, session: s.body, sessionId: s.body.id as string };
}

async function threadEvents(sessionId: string, threadId: string): Promise<any[]> {
  const r = await call('GET', `/v1/sessions/${sessionId}/threads/${threadId}/events?limit=1000`);
  expect(r.status).toBe(200);
  return r.body.data;
}

/** The run as a comparable transcript: each thread's event types, and the texts of its messages. */
async function transcript(sessionId: string) {
  const threads = (await call('GET', `/v1/sessions/${sessionId}/threads`)).body.data as any[];
  const out: Record<string, { types: string[]; texts: string[] }> = {};
  for (const t of threads) {
    const events = await threadEvents(sessionId, t.id);
    const key = t.parent_thread_id === null ? 'primary' : t.agent.name;
    out[key] = {
      types: events.map((e) => e.type),
      texts: events.flatMap((e) => (e.type === 'agent.message' || e.type === 'agent.tool_result' ? e.content.map((b: any) => b.text) : [])),
    };
  }
  return out;
}

async function delegatedRun(faults: FaultPoint[] = []) {
  const run = await leadWithHelper();
  if (faults.length) await injectFaults(env, run.sessionId, faults);
  expect((await say(run.sessionId, `[[delegate:helper:${TASK}]]`)).status).toBe(200);
  const events = await settle(run.sessionId);
  return { ...run, events };
}

describe('sub-agent threads', () => {
  it('pins the helper on the agent and the session, and the lead delegates to it', async () => {
    const { helper, lead, session, sessionId, events } = await delegatedRun();
    expect(lead.multiagent).toEqual({
      type: 'multiagent_20261001',
      advisor: { type: 'disabled' },
      subagents: { type: 'enabled', inline_agents: { type: 'enabled' }, predefined_agents: [{ type: 'agent', id: helper.id, version: 1 }] },
      workflows: { type: 'enabled', inline_agents: { type: 'enabled' }, predefined_agents: [] },
    });
    expect(session.agent.multiagent.subagents.predefined_agents).toMatchObject([{ type: 'agent', id: helper.id, version: 1, name: 'helper', system: 'You help.' }]);

    const threads = await call('GET', `/v1/sessions/${sessionId}/threads`);
    expect(threads.status).toBe(200);
    expect(threads.body.data).toHaveLength(2);
    const [primary, child] = threads.body.data;
    expect(primary).toMatchObject({ type: 'session_thread', session_id: sessionId, parent_thread_id: null, status: 'idle', agent: { name: 'lead' } });
    expect(child).toMatchObject({ type: 'session_thread', parent_thread_id: primary.id, status: 'idle', agent: { name: 'helper', id: helper.id, version: 1 } });
    expect(child.id).toMatch(/^sthr_/);
    expect(child.usage.output_tokens).toBeGreaterThan(0);
    expect((await call('GET', `/v1/sessions/${sessionId}/threads/${child.id}`)).body).toEqual(child);

    // The session's stream: the lead's turn, with the helper's lifecycle cross-posted.
    expect(events.map((e) => e.type)).toEqual([
      'user.message', 'session.status_running', 'span.model_request_start', 'agent.tool_use', 'span.model_request_end',
      'session.thread_created', 'agent.thread_message_sent', 'session.thread_status_running',
      'session.thread_status_idle', 'agent.thread_message_received', 'agent.tool_result',
      'span.model_request_start', 'agent.message', 'span.model_request_end', 'session.status_idle',
    ]);
    const use = events.find((e) => e.type === 'agent.tool_use');
    expect(use).toMatchObject({ name: 'delegate', input: { agent_name: 'helper', message: TASK } });
    for (const e of events.filter((e) => e.type.startsWith('session.thread_'))) expect(e).toMatchObject({ session_thread_id: child.id, agent_name: 'helper' });
    expect(events.filter((e) => !e.type.startsWith('session.thread_')).every((e) => e.session_thread_id === undefined)).toBe(true);

    // The helper's thread: its own context (the task as its user turn), model request and answer.
    const helperEvents = await threadEvents(sessionId, child.id);
    expect(helperEvents.map((e) => e.type)).toEqual([
      'session.thread_created', 'agent.thread_message_received', 'session.thread_status_running', 'span.model_request_start',
      'agent.message', 'span.model_request_end', 'agent.thread_message_sent', 'session.thread_status_idle',
    ]);
    expect(helperEvents.every((e) => e.session_thread_id === child.id)).toBe(true);
    const answer = helperEvents.find((e) => e.type === 'agent.message').content[0].text as string;
    expect(answer).toContain(TASK);

    // The answer reaches the lead: as the delegate call's result, as a received message, and in its final reply.
    const result = events.find((e) => e.type === 'agent.tool_result');
    expect(result).toMatchObject({ tool_use_id: use.id, is_error: false, content: [{ type: 'text', text: answer }] });
    expect(events.find((e) => e.type === 'agent.thread_message_received')).toMatchObject({ from_session_thread_id: child.id, from_agent_name: 'helper' });
    expect(events.findLast((e) => e.type === 'agent.message').content[0].text).toContain(TASK);

    // The primary thread's events are the session's own, less the cross-posts.
    expect((await threadEvents(sessionId, primary.id)).map((e) => e.type)).toEqual(events.filter((e) => !e.type.startsWith('session.thread_')).map((e) => e.type));
    // Usage covers both threads.
    const s = (await call('GET', `/v1/sessions/${sessionId}`)).body;
    expect(s.usage.output_tokens).toBe(primary.usage.output_tokens + child.usage.output_tokens);
  });

  it('messages the same thread again on a second delegation, and archives it once idle', async () => {
    const { sessionId } = await delegatedRun();
    await say(sessionId, '[[delegate:helper:now count the consonants]]');
    await settle(sessionId);
    const threads = (await call('GET', `/v1/sessions/${sessionId}/threads`)).body.data;
    expect(threads).toHaveLength(2);
    const helperEvents = await threadEvents(sessionId, threads[1].id);
    expect(helperEvents.filter((e) => e.type === 'agent.thread_message_received')).toHaveLength(2);
    expect(helperEvents.filter((e) => e.type === 'agent.message')).toHaveLength(2);

    const archived = await call('POST', `/v1/sessions/${sessionId}/threads/${threads[1].id}/archive`);
    expect(archived.status).toBe(200);
    expect(archived.body.archived_at).toEqual(expect.any(String));
    const primary = await call('POST', `/v1/sessions/${sessionId}/threads/${threads[0].id}/archive`);
    expect(primary.status).toBe(400);
    expect(primary.body.error.message).toContain('primary thread');
    expect((await call('GET', `/v1/sessions/${sessionId}/threads/sthr_nope`)).status).toBe(404);
  });

  it('answers a delegation to an unknown agent with an error result', async () => {
    const { sessionId } = await leadWithHelper();
    await say(sessionId, '[[delegate:nobody:do it]]');
    const events = await settle(sessionId);
    expect(events.filter((e) => e.type === 'agent.tool_result')).toMatchObject([{ is_error: true, content: [{ text: expect.stringContaining("no agent named 'nobody'") }] }]);
    expect((await call('GET', `/v1/sessions/${sessionId}/threads`)).body.data).toHaveLength(1);
  });

  // The helper's own model request start, and a text delta of its answer (the lead's first answer is a tool call,
  // which streams no text): both are reached mid-thread.
  for (const faults of [['after_model_request_start', 'after_model_request_start'], ['mid_stream'], ['after_model_response', 'after_model_response', 'after_model_response']] as FaultPoint[][]) {
    it(`gives the same transcript as an uninterrupted run after a kill at ${faults.join(', ')}`, async () => {
      const clean = await delegatedRun();
      const killed = await delegatedRun(faults);
      expect(await faultLog(env, killed.sessionId).pendingFaults()).toEqual([]);
      expect(await transcript(killed.sessionId)).toEqual(await transcript(clean.sessionId));
      expect(killed.events.map((e) => e.type)).toEqual(clean.events.map((e) => e.type));
    });
  }

  it('gives the same transcript when the brain is killed at every model fault point, in the lead and the helper alike', async () => {
    const clean = await delegatedRun();
    // Each point three times: kills land in the lead's first step, the helper's steps and the lead's last.
    const killed = await delegatedRun(MODEL_FAULT_POINTS.flatMap((p) => [p, p, p]));
    // Every kill fired but those of a point one turn reaches only once (the session says it is running once).
    expect((await faultLog(env, killed.sessionId).pendingFaults()).filter((p) => p !== 'after_running')).toEqual([]);
    expect(await transcript(killed.sessionId)).toEqual(await transcript(clean.sessionId));
    expect(killed.events.map((e) => e.type)).toEqual(clean.events.map((e) => e.type));
  });

  it('ends the thread at work when the user interrupts, and answers the delegate call so the next turn starts clean', async () => {
    const { sessionId } = await leadWithHelper();
    await say(sessionId, '[[delegate:helper:take your time [[delay 5000]]]]');
    for (let i = 0; ; i++) {
      const events = await allEvents(sessionId);
      if (events.some((e) => e.type === 'span.model_request_start' && e.session_thread_id)) break;
      const threads = (await call('GET', `/v1/sessions/${sessionId}/threads`)).body.data;
      if (threads[1] && (await threadEvents(sessionId, threads[1].id)).some((e) => e.type === 'span.model_request_start')) break;
      if (i > 600) throw new Error('the helper never started');
      await new Promise((r) => setTimeout(r, 50));
    }
    const r = await call('POST', `/v1/sessions/${sessionId}/events`, { events: [{ type: 'user.interrupt' }] });
    expect(r.status).toBe(200);
    const events = await settle(sessionId);
    const threads = (await call('GET', `/v1/sessions/${sessionId}/threads`)).body.data;
    expect(threads.map((t: any) => t.status)).toEqual(['idle', 'idle']);
    expect((await threadEvents(sessionId, threads[1].id)).at(-1)).toMatchObject({ type: 'session.thread_status_idle', stop_reason: { type: 'end_turn' } });
    expect(events.find((e) => e.type === 'agent.tool_result')).toMatchObject({ is_error: true, content: [{ text: expect.stringContaining('interrupted') }] });
    // The interrupted helper's late answer never lands, and the next turn runs.
    await say(sessionId, 'and now?');
    const after = await settle(sessionId);
    expect(after.at(-1)).toMatchObject({ type: 'session.status_idle', stop_reason: { type: 'end_turn' } });
    expect((await threadEvents(sessionId, threads[1].id)).some((e) => e.type === 'agent.message')).toBe(false);
  });

  it('refuses an interrupt naming a thread the session does not have, and a delegation to an archived thread', async () => {
    const { sessionId } = await delegatedRun();
    const bad = await call('POST', `/v1/sessions/${sessionId}/events`, { events: [{ type: 'user.interrupt', session_thread_id: 'sthr_nope' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('events[0].session_thread_id');
    const [, child] = (await call('GET', `/v1/sessions/${sessionId}/threads`)).body.data;
    expect((await call('POST', `/v1/sessions/${sessionId}/threads/${child.id}/archive`)).status).toBe(200);
    await say(sessionId, '[[delegate:helper:once more]]');
    const events = await settle(sessionId);
    expect(events.findLast((e) => e.type === 'agent.tool_result')).toMatchObject({ is_error: true, content: [{ text: expect.stringContaining('archived') }] });
  });

  it('stops both threads at the session budget', async () => {
    const { sessionId } = await leadWithHelper({ limits: { max_model_requests: 1 } });
    await say(sessionId, `[[delegate:helper:${TASK}]]`);
    const events = await settle(sessionId);
    expect(events.at(-1)).toMatchObject({ type: 'session.status_idle', stop_reason: { type: 'budget_reached' }, limit: 'max_model_requests' });
    const threads = (await call('GET', `/v1/sessions/${sessionId}/threads`)).body.data;
    expect(threads.map((t: any) => t.status)).toEqual(['idle', 'idle']);
    const helperEvents = await threadEvents(sessionId, threads[1].id);
    expect(helperEvents.at(-1)).toMatchObject({ type: 'session.thread_status_idle', stop_reason: { type: 'budget_reached' } });
    expect(helperEvents.some((e) => e.type === 'span.model_request_start')).toBe(false);
    expect(events.find((e) => e.type === 'agent.tool_result')).toMatchObject({ is_error: true, content: [{ text: expect.stringContaining('max_model_requests') }] });
  });
});

describe('multiagent on agents', () => {
  const create = (multiagent: unknown) => call('POST', '/v1/agents', { name: 'lead', model: 'claude-sonnet-5-5', multiagent });

  it('refuses bad input, naming the field', async () => {
    const helper = (await call('POST', '/v1/agents', { name: 'helper', model: 'claude-sonnet-5-5' })).body;
    const lead = (await create({ type: 'coordinator', agents: [helper.id] })).body;
    const cases: Array<[unknown, number, string]> = [
      [{ type: 'multiagent_20261002' }, 400, 'multiagent'],
      [{ type: 'multiagent_20261001', subagents: { type: 'enabled', predefined_agents: [42] } }, 400, 'multiagent.subagents.predefined_agents'],
      [{ type: 'multiagent_20261001', subagents: { type: 'enabled', predefined_agents: ['agent_missing'] } }, 404, 'multiagent.subagents.predefined_agents[0]'],
      [{ type: 'multiagent_20261001', subagents: { type: 'enabled', predefined_agents: [helper.id, helper.id] } }, 400, 'multiagent.subagents.predefined_agents[1]'],
      [{ type: 'multiagent_20261001', subagents: { type: 'enabled', predefined_agents: [lead.id] } }, 400, 'depth limit 1'],
      [{ type: 'multiagent_20261001', subagents: { type: 'enabled', inline_agents: { type: 'disabled' } } }, 400, 'multiagent.subagents.predefined_agents'],
      [{ type: 'coordinator', agents: [] }, 400, 'multiagent.agents'],
      [{ type: 'coordinator', agents: [{ type: 'agent', id: helper.id, version: 9 }] }, 404, 'multiagent.agents[0].version'],
    ];
    for (const [multiagent, status, field] of cases) {
      const r = await create(multiagent);
      expect(r.status, JSON.stringify(multiagent)).toBe(status);
      expect(r.body.type).toBe('error');
      expect(r.body.error.message, JSON.stringify(multiagent)).toContain(field);
    }
    expect(lead.multiagent).toEqual({ type: 'coordinator', agents: [{ type: 'agent', id: helper.id, version: 1 }] });
  });

  it('refuses a session of an agent whose multiagent was stored before it was validated, until it is updated', async () => {
    const helper = (await call('POST', '/v1/agents', { name: 'helper', model: 'claude-sonnet-5-5' })).body;
    const lead = (await create({ type: 'coordinator', agents: [helper.id] })).body;
    // As an older version stored it: the roster as it was sent.
    await runInDurableObject(env.WORKSPACE.get(env.WORKSPACE.idFromName('wrkspc_default')), (_obj, state) => {
      const row = state.storage.sql.exec<{ body: string }>(`SELECT body FROM agent_versions WHERE agent_id = ?`, lead.id).one();
      const body = { ...JSON.parse(row.body), multiagent: { type: 'coordinator', agents: [helper.id] } };
      state.storage.sql.exec(`UPDATE agent_versions SET body = ? WHERE agent_id = ?`, JSON.stringify(body), lead.id);
    });
    const e = await call('POST', '/v1/environments', { name: 'env' });
    const refused = await call('POST', '/v1/sessions', { agent: lead.id, environment_id: e.body.id });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toContain('agent.multiagent');
    expect((await call('POST', `/v1/agents/${lead.id}`, { multiagent: { type: 'coordinator', agents: [helper.id] } })).status).toBe(200);
    expect((await call('POST', '/v1/sessions', { agent: lead.id, environment_id: e.body.id })).status).toBe(200);
  });

  it('merges an update into the stored configuration, level by level', async () => {
    const a = (await call('POST', '/v1/agents', { name: 'a', model: 'claude-sonnet-5-5' })).body;
    const b = (await call('POST', '/v1/agents', { name: 'b', model: 'claude-sonnet-5-5' })).body;
    const lead = (await create({ type: 'multiagent_20261001', subagents: { type: 'enabled', predefined_agents: [a.id] }, workflows: { type: 'disabled' } })).body;
    const r = await call('POST', `/v1/agents/${lead.id}`, { multiagent: { type: 'multiagent_20261001', subagents: { type: 'enabled', predefined_agents: [b.id, { type: 'self' }] } } });
    expect(r.status).toBe(200);
    expect(r.body.multiagent).toEqual({
      type: 'multiagent_20261001',
      advisor: { type: 'disabled' },
      subagents: { type: 'enabled', inline_agents: { type: 'enabled' }, predefined_agents: [{ type: 'agent', id: b.id, version: 1 }, { type: 'agent', id: lead.id, version: 2 }] },
      workflows: { type: 'disabled' },
    });
  });
});
