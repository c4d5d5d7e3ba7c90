// Compaction: past compaction.trigger_tokens older turns are summarised into agent.thread_context_compacted;
// the next model request no longer carries the first turn verbatim; events.list still does. A summariser that
// fails falls back to trimming instead of failing the session.
import { env } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { compactionSpan, summarize } from '../../worker/brain/compactor.ts';
import type { SessionEvent } from '../../contract/events.ts';
import type { ModelPort } from '../../worker/brain/model-client.ts';
import { allEvents, call, say, settle } from './api.ts';

/**
 * Waits until the session has answered its input and the step that ended the turn has let go of its lease: it
 * compacts in idle time after the idle event, and releases the lease only then, so its compaction is in the log.
 */
async function settleAndRelease(sessionId: string, timeoutMs = 30_000): Promise<void> {
  await settle(sessionId, timeoutMs);
  const log = env.SESSION_LOG.get(env.SESSION_LOG.idFromName(sessionId));
  const deadline = Date.now() + timeoutMs;
  while ((await log.leaseInfo())?.lease) {
    if (Date.now() > deadline) throw new Error('the step that ended the turn kept its lease');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('compaction', () => {
  it('keeps an outcome being worked on verbatim: the cut falls before the latest user turn, a define_outcome included', () => {
    const at = '2026-12-01T00:00:00Z';
    const events = [
      { id: 'sevt_1', processed_at: at, type: 'user.message', content: [{ type: 'text', text: 'first task' }] },
      { id: 'sevt_2', processed_at: at, type: 'agent.message', content: [{ type: 'text', text: 'done' }] },
      { id: 'sevt_3', processed_at: at, type: 'user.define_outcome', outcome_id: 'outc_1', description: 'write the report', rubric: { type: 'text', content: 'has a title' }, max_iterations: null },
      { id: 'sevt_4', processed_at: at, type: 'agent.message', content: [{ type: 'text', text: 'working' }] },
    ] as unknown as SessionEvent[];
    const span = compactionSpan(events);
    expect(span?.through.id).toBe('sevt_2');
    expect(span?.fold.map((e) => e.id)).toEqual(['sevt_1', 'sevt_2']);
  });

  it('summarises older turns past the threshold and keeps every event in the log', async () => {
    const a = await call('POST', '/v1/agents', { name: 'compact', model: 'claude-sonnet-5-5', system: 'Be brief.' });
    const e = await call('POST', '/v1/environments', { name: 'env' });
    const s = await call('POST', '/v1/sessions', { agent: a.body.id, environment_id: e.body.id, compaction: { trigger_tokens: 1500 } });
    expect(s.status, JSON.stringify(s.body)).toBe(200);
    expect(s.body.compaction).toEqual({ trigger_tokens: 1500 });
    const id = s.body.id as string;
    const tag = `tag-${id}`;
    const filler = 'lorem ipsum dolor sit amet '.repeat(60);
    // Each next message waits for the last turn's idle-time compaction: sent during it, it would land before it.
    await say(id, `FIRST-TURN-MARKER ${tag} ${filler} [[reply:ack one]]`);
    await settleAndRelease(id);
    for (let i = 2; i <= 5; i++) {
      await say(id, `turn ${i} ${tag} ${filler} [[reply:ack ${i}]]`);
      await settleAndRelease(id);
    }
    const events = await allEvents(id);
    const compactions = events.filter((ev) => ev.type === 'agent.thread_context_compacted');
    expect(compactions.length).toBeGreaterThan(0);
    expect(compactions[0].summary.length).toBeGreaterThan(0);
    // Compaction ran in idle time: right after a turn went idle, not while the next turn waited.
    const i = events.indexOf(compactions[0]);
    expect(events[i - 1].type).toBe('session.status_idle');
    // The log keeps the first turn verbatim.
    expect(JSON.stringify(events)).toContain('FIRST-TURN-MARKER');

    await say(id, `one more ${tag} [[reply:ack last]]`);
    await settle(id);
    const recorded: any = await (await fetch(`${inject('scriptedModelUrl')}/_scripted/requests`)).json();
    const last = recorded.data.filter((r: any) => JSON.stringify(r.body.messages).includes(`one more ${tag}`)).at(-1);
    const sent = JSON.stringify(last.body.messages);
    expect(sent).not.toContain('FIRST-TURN-MARKER');
    expect(sent).toContain('<conversation-summary>');
    expect(last.body.messages[0].role).toBe('user');
  });

  it('falls back to trimming when the summary request fails', async () => {
    const failing: ModelPort = {
      stream: async () => {
        throw new Error('overloaded');
      },
    };
    const agent = { type: 'agent', id: 'agent_x', version: 1, name: 'x', description: null, model: { id: 'claude-sonnet-5-5' }, system: null, tools: [], mcp_servers: [], skills: [], execution_identity: { type: 'service_account' }, multiagent: null } as const;
    const long = 'x'.repeat(5000);
    const summary = await summarize(failing, agent as never, null, [
      { id: 'sevt_1', type: 'user.message', processed_at: '', content: [{ type: 'text', text: `please ${long}` }] },
      { id: 'sevt_2', type: 'agent.tool_use', processed_at: '', name: 'bash', input: { command: 'ls' } },
      { id: 'sevt_3', type: 'agent.tool_result', processed_at: '', tool_use_id: 'sevt_2', content: [{ type: 'text', text: long }] },
    ]);
    expect(summary.method).toBe('trim');
    expect(summary.error).toContain('overloaded');
    expect(summary.text).toContain('User: please');
    expect(summary.text).toContain('Agent called bash');
    expect(summary.text).toContain('[omitted]');
    expect(summary.text.length).toBeLessThan(1000);
  });
});
