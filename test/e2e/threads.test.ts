// Sub-agent threads through the official SDK against the real runtime (docs/threads.md): a lead agent delegates to a
// predefined helper, which runs a tool in the session's sandbox; the helper's answer comes back to the lead, and
// `sessions.threads` lists, retrieves, streams and archives the threads.
import type Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { startScriptedRuntime } from '../support/scripted-runtime.ts';
import { suiteFixture } from '../support/suite-fixture.ts';

type ThreadEvent = Anthropic.Beta.Sessions.Threads.BetaManagedAgentsStreamSessionThreadEvents;

describe('sub-agent threads through the SDK', () => {
  const e2e = suiteFixture(() => startScriptedRuntime('threads'), (run) => run.stop());

  it('delegates to a predefined helper that runs a tool, and lists, streams and archives the threads', async () => {
    const { client } = e2e;
    const helper = await client.beta.agents.create({
      name: 'helper',
      model: 'claude-sonnet-5-5',
      system: 'You run commands.',
      tools: [{ type: 'agent_toolset_20260401' }],
    });
    const lead = await client.beta.agents.create({
      name: 'lead',
      model: 'claude-sonnet-5-5',
      multiagent: { type: 'multiagent_20261001', subagents: { type: 'enabled', predefined_agents: [{ type: 'agent', id: helper.id }] } },
    });
    expect(lead.multiagent).toMatchObject({ type: 'multiagent_20261001', subagents: { predefined_agents: [{ type: 'agent', id: helper.id, version: 1 }] } });
    const environment = await client.beta.environments.create({ name: 'threads' });
    const session = await client.beta.sessions.create({ agent: lead.id, environment_id: environment.id });

    const before = [];
    for await (const t of client.beta.sessions.threads.list(session.id)) before.push(t);
    expect(before).toHaveLength(1);
    const primary = before[0]!;
    expect(primary).toMatchObject({ type: 'session_thread', parent_thread_id: null, session_id: session.id });

    const stream = await client.beta.sessions.threads.events.stream(primary.id, { session_id: session.id });
    await client.beta.sessions.events.send(session.id, {
      events: [{ type: 'user.message', content: [{ type: 'text', text: '[[delegate:helper:check the box [[tool:bash {"command":"echo from-the-helper"}]]]]' }] }],
    });
    const events: ThreadEvent[] = [];
    for await (const ev of stream) {
      events.push(ev);
      if (ev.type === 'session.status_idle') break;
    }
    // The primary thread's stream: its own events only.
    expect(events.map((e) => e.type)).toEqual([
      'user.message', 'session.status_running', 'span.model_request_start', 'agent.tool_use', 'span.model_request_end',
      'agent.thread_message_sent', 'agent.thread_message_received', 'agent.tool_result',
      'span.model_request_start', 'agent.message', 'span.model_request_end', 'session.status_idle',
    ]);
    const result = events.find((e) => e.type === 'agent.tool_result');
    expect(result?.type === 'agent.tool_result' && JSON.stringify(result.content)).toContain('from-the-helper');
    const reply = events.findLast((e) => e.type === 'agent.message');
    expect(reply?.type === 'agent.message' && reply.content[0]?.type === 'text' && reply.content[0].text).toContain('from-the-helper');

    const threads = [];
    for await (const t of client.beta.sessions.threads.list(session.id)) threads.push(t);
    expect(threads).toHaveLength(2);
    const child = threads[1]!;
    expect(child).toMatchObject({ parent_thread_id: primary.id, status: 'idle', agent: { name: 'helper', id: helper.id } });
    expect(await client.beta.sessions.threads.retrieve(child.id, { session_id: session.id })).toEqual(child);

    const helperEvents = [];
    for await (const e of client.beta.sessions.threads.events.list(child.id, { session_id: session.id })) helperEvents.push(e);
    expect(helperEvents.map((e) => e.type)).toEqual([
      'session.thread_created', 'agent.thread_message_received', 'session.thread_status_running',
      'span.model_request_start', 'agent.tool_use', 'span.model_request_end', 'agent.tool_result',
      'span.model_request_start', 'agent.message', 'span.model_request_end', 'agent.thread_message_sent', 'session.thread_status_idle',
    ]);

    // A second delegation continues the same thread; its live text goes to the thread's stream, not the session's.
    const childStream = await client.beta.sessions.threads.events.stream(child.id, { session_id: session.id, event_deltas: ['agent.message'] });
    const sessionStream = await client.beta.sessions.events.stream(session.id, { event_deltas: ['agent.message'] });
    await client.beta.sessions.events.send(session.id, {
      events: [{ type: 'user.message', content: [{ type: 'text', text: '[[delegate:helper:and once more]]' }] }],
    });
    const childSeen: ThreadEvent[] = [];
    for await (const ev of childStream) {
      childSeen.push(ev);
      if (ev.type === 'session.thread_status_idle') break;
    }
    const sessionSeen: Anthropic.Beta.Sessions.BetaManagedAgentsStreamSessionEvents[] = [];
    for await (const ev of sessionStream) {
      sessionSeen.push(ev);
      if (ev.type === 'session.status_idle') break;
    }
    const helperMessage = childSeen.find((e) => e.type === 'agent.message');
    expect(helperMessage).toBeDefined();
    expect(childSeen.some((e) => e.type === 'event_delta' && e.event_id === helperMessage!.id)).toBe(true);
    expect(sessionSeen.some((e) => (e.type === 'event_delta' && e.event_id === helperMessage!.id) || (e.type === 'event_start' && e.event.id === helperMessage!.id))).toBe(false);
    expect(sessionSeen.filter((e) => e.type === 'session.thread_created')).toEqual([]);
    expect((await client.beta.sessions.threads.retrieve(child.id, { session_id: session.id })).status).toBe('idle');

    const archived = await client.beta.sessions.threads.archive(child.id, { session_id: session.id });
    expect(archived.archived_at).toEqual(expect.any(String));
    await expect(client.beta.sessions.threads.archive(primary.id, { session_id: session.id })).rejects.toMatchObject({ status: 400 });
  });

  it('refuses a multiagent roster naming an agent that does not exist', async () => {
    const { client } = e2e;
    await expect(
      client.beta.agents.create({
        name: 'lead',
        model: 'claude-sonnet-5-5',
        multiagent: { type: 'multiagent_20261001', subagents: { type: 'enabled', predefined_agents: ['agent_missing'] } },
      }),
    ).rejects.toMatchObject({ status: 404, error: { error: { message: expect.stringContaining('multiagent.subagents.predefined_agents[0]') } } });
  });
});
