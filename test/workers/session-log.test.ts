// The session log: large payloads survive the SQLite row limit, positional reads page in order, multi-turn
// context reaches the model.
import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { migrate } from '../../resources/shared/migrations.ts';
import { SESSION_LOG_MIGRATIONS } from '../../durable-objects/session-log-schema.ts';
import { allEvents, call, makeSession, say, settle } from './api.ts';

function log(sessionId: string) {
  return env.SESSION_LOG.get(env.SESSION_LOG.idFromName(sessionId));
}

describe('session log', () => {
  it('stores a 5 MB user message intact and keeps working', async () => {
    const { sessionId } = await makeSession();
    // Multi-byte characters make chunk boundaries fall inside characters, the case that corrupts naive splits.
    const unit = 'edge-harness ✓ λ 🚀 ';
    const big = unit.repeat(Math.ceil((5 * 1024 * 1024) / unit.length));
    const sent = await say(sessionId, big);
    expect(sent.status).toBe(200);
    await settle(sessionId);
    const events = await allEvents(sessionId);
    const msg = events.find((e) => e.type === 'user.message');
    expect(msg.content[0].text.length).toBe(big.length);
    expect(msg.content[0].text === big).toBe(true);
    expect(events.at(-1).stop_reason).toEqual({ type: 'end_turn' });

    await say(sessionId, 'still there?');
    const after = await settle(sessionId);
    expect(after.filter((e) => e.type === 'agent.message')).toHaveLength(2);
  });

  it('reads positionally: pages of one event walk the log in order without gaps', async () => {
    const { sessionId } = await makeSession();
    await say(sessionId, 'one');
    await settle(sessionId);
    await say(sessionId, 'two');
    const all = await settle(sessionId);
    const paged: any[] = [];
    let page: string | null = null;
    do {
      const r: any = await call('GET', `/v1/sessions/${sessionId}/events?limit=1${page ? `&page=${page}` : ''}`);
      expect(r.body.data.length).toBeLessThanOrEqual(1);
      paged.push(...r.body.data);
      page = r.body.next_page;
    } while (page);
    expect(paged.map((e) => e.id)).toEqual(all.map((e) => e.id));

    const desc = await call('GET', `/v1/sessions/${sessionId}/events?order=desc&limit=3`);
    expect(desc.body.data.map((e: any) => e.id)).toEqual(all.slice(-3).reverse().map((e) => e.id));

    const typed = await call('GET', `/v1/sessions/${sessionId}/events?types[]=agent.message`);
    expect(typed.body.data.map((e: any) => e.type)).toEqual(['agent.message', 'agent.message']);

    const direct: any = await log(sessionId).getEvents({ afterSeq: 2, limit: 2, order: 'asc' });
    expect(direct.events.map((e: any) => e.event.id)).toEqual(all.slice(2, 4).map((e) => e.id));
    expect(direct.hasMore).toBe(true);
  });

  it('records usage from the model on the session', async () => {
    const { sessionId } = await makeSession();
    await say(sessionId, 'count my tokens');
    const events = await settle(sessionId);
    const end = events.find((e) => e.type === 'span.model_request_end');
    expect(end.model_usage.output_tokens).toBeGreaterThan(0);
    const s = await call('GET', `/v1/sessions/${sessionId}`);
    expect(s.body.usage.output_tokens).toBe(end.model_usage.output_tokens);
    expect(s.body.usage.input_tokens).toBe(end.model_usage.input_tokens);
  });
});

describe('session log migrations', () => {
  it('moves an older log onto the session spec, giving fields it lacks the values they were read as', async () => {
    const { sessionId } = await makeSession();
    await runInDurableObject(log(sessionId), async (_obj, state) => {
      const sql = state.storage.sql;
      const spec = JSON.parse(sql.exec<{ v: string }>(`SELECT v FROM meta WHERE k = 'spec'`).one().v);
      // The one flat state row of a log written before networking, vaults, budgets, limits and compaction existed.
      const old = {
        sessionId: spec.sessionId, workspaceId: spec.workspaceId, agent: spec.agent, environmentId: spec.environmentId,
        createdAt: spec.createdAt, status: 'idle', epoch: 3, lease: null, inputSeq: 4, consumedSeq: 4,
        usage: { input_tokens: 7, output_tokens: 8, cache_read_input_tokens: 0, cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 }, list_cost: { amount: '0', currency: 'USD' } },
        activeMs: 10, runningSince: null, faults: ['after_running'],
      };
      sql.exec(`DELETE FROM meta`);
      sql.exec(`INSERT INTO meta (k, v) VALUES ('state', ?)`, JSON.stringify(old));
      sql.exec(`DELETE FROM _migrations WHERE id = 'session-log/2-session-spec'`);
      migrate(state.storage, SESSION_LOG_MIGRATIONS);
      const rows = Object.fromEntries(sql.exec<{ k: string; v: string }>(`SELECT k, v FROM meta`).toArray().map((r) => [r.k, JSON.parse(r.v)]));
      expect(rows.spec).toEqual({
        sessionId: spec.sessionId, workspaceId: spec.workspaceId, agent: spec.agent, environmentId: spec.environmentId,
        networking: { type: 'unrestricted' }, vaultIds: [], budget: null, limits: {}, compaction: {}, createdAt: spec.createdAt,
      });
      expect(rows.state).toEqual({
        status: 'idle', epoch: 3, lease: null, inputSeq: 4, consumedSeq: 4, usage: old.usage, spentUsd: 0,
        wallDeadline: null, wallFired: false, activeMs: 10, runningSince: null,
      });
    });
  });

  it('gives an older log’s copy of the agent the model effort and speed it lacks, as agents got them', async () => {
    const { sessionId } = await makeSession();
    await runInDurableObject(log(sessionId), async (_obj, state) => {
      const sql = state.storage.sql;
      const spec = JSON.parse(sql.exec<{ v: string }>(`SELECT v FROM meta WHERE k = 'spec'`).one().v);
      // The log's copy of the agent as a session created before agents stored `effort` and `speed` has it.
      const old = { ...spec, agent: { ...spec.agent, model: { id: spec.agent.model.id } } };
      sql.exec(`UPDATE meta SET v = ? WHERE k = 'spec'`, JSON.stringify(old));
      sql.exec(`DELETE FROM _migrations WHERE id = 'session-log/3-agent-model-speed-and-effort'`);
      migrate(state.storage, SESSION_LOG_MIGRATIONS);
      const migrated = JSON.parse(sql.exec<{ v: string }>(`SELECT v FROM meta WHERE k = 'spec'`).one().v);
      expect(migrated).toEqual({ ...old, agent: { ...old.agent, model: { id: 'claude-sonnet-5-5', effort: { type: 'high' }, speed: 'standard' } } });
    });
  });
});

describe('session list', () => {
  it('pages forward with next_page and back with prev_page', async () => {
    const created: string[] = [];
    const { agentId, environmentId } = await makeSession();
    for (let i = 0; i < 5; i++) created.push((await call('POST', '/v1/sessions', { agent: agentId, environment_id: environmentId })).body.id);
    const mine = (r: any) => r.body.data.map((s: any) => s.id).filter((id: string) => created.includes(id));
    const p1 = await call('GET', `/v1/sessions?agent_id=${agentId}&limit=2`);
    expect(mine(p1)).toEqual([created[4], created[3]]);
    const p2 = await call('GET', `/v1/sessions?agent_id=${agentId}&limit=2&page=${p1.body.next_page}`);
    expect(mine(p2)).toEqual([created[2], created[1]]);
    const back = await call('GET', `/v1/sessions?agent_id=${agentId}&limit=2&page=${p2.body.prev_page}`);
    expect(mine(back)).toEqual([created[4], created[3]]);
    const asc = await call('GET', `/v1/sessions?agent_id=${agentId}&order=asc&limit=10`);
    expect(mine(asc).slice(-5)).toEqual(created);
    const idle = await call('GET', `/v1/sessions?agent_id=${agentId}&statuses[]=running`);
    expect(idle.body.data).toEqual([]);
  });
});
