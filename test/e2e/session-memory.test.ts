// End to end, through the official SDK: a memory store attached to a session is mounted at /mnt/memory/<slug> when
// the agent's tool calls run; what the agent writes there is a memory by the end of the call, with a version that
// names the session; a read_only mount refuses writes; two sessions writing one path make two versions.
import { describe, expect, it } from 'vitest';
import { faultWorkerEntry, type FaultPoint } from '../support/faults.ts';
import { bashTurn, startScriptedRuntime, toolResultText as resultText } from '../support/scripted-runtime.ts';
import { suiteFixture } from '../support/suite-fixture.ts';

describe('memory stores in a session', () => {
  const e2e = suiteFixture(
    () =>
      startScriptedRuntime('session-memory', {
        apiKey: 'session-memory-key',
        workerVars: { EDGEHARNESS_LEASE_MS: '1500' },
        // the production Worker, whose brain steps can be killed at named points (POST /v1/sessions/{id}/_faults)
        workerEntry: faultWorkerEntry(),
      }),
    (run) => run.stop(),
  );
  const bash = (id: string, command: string) => bashTurn(e2e.client, id, command);

  async function sessionWith(storeId: string, access: 'read_write' | 'read_only' = 'read_write') {
    const environment = await e2e.client.beta.environments.create({ name: `memory-${access}` });
    const agent = await e2e.client.beta.agents.create({ name: 'rememberer', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
    return e2e.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, resources: [{ type: 'memory_store', memory_store_id: storeId, access }] });
  }

  it('shows the store’s memories in the mount and saves what the agent writes as memories versioned by the session', async () => {
    const store = await e2e.client.beta.memoryStores.create({ name: 'User Preferences', description: 'What the user likes' });
    await e2e.client.beta.memoryStores.memories.create(store.id, { path: '/food/likes.md', content: 'Ramen\n' });
    const session = await sessionWith(store.id);
    expect(session.resources).toEqual([expect.objectContaining({ type: 'memory_store', mount_path: '/mnt/memory/user-preferences' })]);

    const read = await bash(session.id, 'cat /mnt/memory/user-preferences/food/likes.md');
    expect(read.filter((e) => e.type === 'session.error')).toEqual([]);
    expect(resultText(read)).toEqual({ text: expect.stringContaining('Ramen'), isError: false });

    const write = await bash(session.id, 'mkdir -p /mnt/memory/user-preferences/drinks && printf "Green tea" > /mnt/memory/user-preferences/drinks/likes.md && echo written');
    expect(resultText(write).text).toContain('written');
    // by the end of the call: the memory is there as soon as the turn's result is
    const listed = [];
    for await (const m of e2e.client.beta.memoryStores.memories.list(store.id, { path_prefix: '/drinks/' })) if (m.type === 'memory') listed.push(m);
    expect(listed).toEqual([expect.objectContaining({ path: '/drinks/likes.md' })]);
    const memory = await e2e.client.beta.memoryStores.memories.retrieve(listed[0]!.id, { memory_store_id: store.id });
    expect(memory.content).toBe('Green tea');
    const versions = [];
    for await (const v of e2e.client.beta.memoryStores.memoryVersions.list(store.id, { memory_id: memory.id })) versions.push(v);
    expect(versions).toEqual([expect.objectContaining({ operation: 'created', created_by: { type: 'session_actor', session_id: session.id } })]);

    // a path that cannot be a memory is refused alone, and the agent is told in the tool result
    const deep = '/mnt/memory/user-preferences' + '/d'.repeat(20);
    const refused = resultText(await bash(session.id, `mkdir -p ${deep} && echo x > ${deep}/f.md && echo x > $'/mnt/memory/user-preferences/bad\\x01name' && echo ok > /mnt/memory/user-preferences/ok.md`));
    expect(refused.text).toMatch(/not saved as memories[\s\S]*\/d\/d[\s\S]*path/);
    expect(refused.text).toMatch(/user-preferences\/bad\u0001name: path: /);
    const paths = [];
    for await (const m of e2e.client.beta.memoryStores.memories.list(store.id)) paths.push(m.path);
    expect(paths).toEqual(['/drinks/likes.md', '/food/likes.md', '/ok.md']);
  });

  it('refuses a write to a read_only mount, and nothing changes in the store', async () => {
    const store = await e2e.client.beta.memoryStores.create({ name: 'Rules' });
    await e2e.client.beta.memoryStores.memories.create(store.id, { path: '/rules.md', content: 'be kind' });
    const session = await sessionWith(store.id, 'read_only');
    const write = resultText(await bash(session.id, 'cat /mnt/memory/rules/rules.md; echo changed > /mnt/memory/rules/rules.md'));
    expect(write.text).toContain('be kind');
    expect(write.text).toMatch(/Permission denied|Read-only/);
    const versions = [];
    for await (const v of e2e.client.beta.memoryStores.memoryVersions.list(store.id)) versions.push(v);
    expect(versions).toHaveLength(1);
  });

  it('gives two sessions writing one path a version each, the last write winning', async () => {
    const store = await e2e.client.beta.memoryStores.create({ name: 'Shared' });
    const first = await sessionWith(store.id);
    const second = await sessionWith(store.id);
    await bash(first.id, 'printf one > /mnt/memory/shared/status.md');
    await bash(second.id, 'printf two > /mnt/memory/shared/status.md');
    const versions = [];
    for await (const v of e2e.client.beta.memoryStores.memoryVersions.list(store.id)) versions.push(v);
    // newest first
    expect(versions.map((v) => [v.operation, v.created_by])).toEqual([
      ['modified', { type: 'session_actor', session_id: second.id }],
      ['created', { type: 'session_actor', session_id: first.id }],
    ]);
    const [memory] = (await e2e.client.beta.memoryStores.memories.list(store.id)).data.filter((m) => m.type === 'memory');
    expect((await e2e.client.beta.memoryStores.memories.retrieve(memory!.id, { memory_store_id: store.id })).content).toBe('two');
    // the first session's next call sees the winner
    expect(resultText(await bash(first.id, 'cat /mnt/memory/shared/status.md')).text).toContain('two');
  });

  /** Makes the session's next brain steps die once at each point (test/support/fault-worker.ts); answers those left. */
  async function faults(id: string, points?: readonly FaultPoint[]): Promise<FaultPoint[]> {
    const r = await fetch(`${e2e.runtime.url}/v1/sessions/${id}/_faults`, {
      method: points ? 'POST' : 'GET',
      headers: { 'x-api-key': e2e.runtime.apiKey, 'content-type': 'application/json' },
      ...(points ? { body: JSON.stringify({ points }) } : {}),
    });
    expect(r.status).toBe(200);
    return points ? [] : ((await r.json()) as { points: FaultPoint[] }).points;
  }

  for (const point of ['after_tool_execution', 'after_memory_save'] as const) {
    it(`saves a call's write, one version and one result, when the brain dies before the tool result is appended (${point})`, async () => {
      const store = await e2e.client.beta.memoryStores.create({ name: `Crash ${point}` });
      const session = await sessionWith(store.id);
      await faults(session.id, [point]);
      const events = await bash(session.id, `printf "$(date +%N)" > /mnt/memory/crash-${point.replaceAll('_', '-')}/once.md; echo done`);
      // the brain did die there, and the retry gave one result
      expect(await faults(session.id)).toEqual([]);
      expect(events.filter((e) => e.type === 'agent.tool_result')).toHaveLength(1);
      const versions = [];
      for await (const v of e2e.client.beta.memoryStores.memoryVersions.list(store.id)) versions.push(v);
      expect(versions.map((v) => [v.operation, v.path, v.created_by])).toEqual([['created', '/once.md', { type: 'session_actor', session_id: session.id }]]);
    });
  }
});
