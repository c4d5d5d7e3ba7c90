// A session's memory stores as the brain sees them: listed in the system prompt (and the prompt unchanged for a
// session without one), handed to the hands with their memories, and what a tool call wrote saved once per call id.
import { env } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { call, KEY, makeSession, say, settle } from './api.ts';
import type { SessionSpec } from '../../contract/session-spec.ts';
import { workspaceStore } from '../../durable-objects/stubs.ts';
import { filesFor } from '../../worker/brain/files.ts';
import { redactMemoryChanges, saveMemoryChanges } from '../../worker/brain/memory-mounts.ts';
import { placeholderFor } from '../../sandbox/credentials.ts';
import type { Env } from '../../worker/env.ts';

/** The request bodies the scripted model received whose messages mention `marker`. */
async function modelRequestsWith(marker: string): Promise<any[]> {
  const recorded: any = await (await fetch(`${inject('scriptedModelUrl')}/_scripted/requests`)).json();
  return recorded.data.map((r: any) => r.body).filter((b: any) => JSON.stringify(b.messages).includes(marker));
}

async function sessionWithStores(resources: unknown[]): Promise<string> {
  const a = await call('POST', '/v1/agents', { name: 'tester', model: 'claude-sonnet-5-5', system: 'You are terse.' });
  const e = await call('POST', '/v1/environments', { name: 'env' });
  const s = await call('POST', '/v1/sessions', { agent: a.body.id, environment_id: e.body.id, resources });
  if (s.status !== 200) throw new Error(`session create failed: ${JSON.stringify(s.body)}`);
  return s.body.id as string;
}

async function newStore(name: string, description?: string): Promise<string> {
  const r = await call('POST', '/v1/memory_stores', { name, ...(description ? { description } : {}) });
  if (r.status !== 200) throw new Error(`store create failed: ${JSON.stringify(r.body)}`);
  return r.body.id as string;
}

describe('memory stores in the system prompt', () => {
  it("lists each mounted store with its description, mount path, access and instructions, after the agent's system, the same bytes every turn", async () => {
    const prefs = await newStore('User Preferences', 'What the user likes');
    const rules = await newStore('Team Rules');
    const sessionId = await sessionWithStores([
      { type: 'memory_store', memory_store_id: prefs, instructions: 'Record every preference the user states.' },
      { type: 'memory_store', memory_store_id: rules, access: 'read_only' },
    ]);
    const marker = `remember this, ${sessionId}`;
    await say(sessionId, marker);
    await settle(sessionId);
    const [request] = await modelRequestsWith(marker);
    const system = request.system.map((b: any) => b.text);
    expect(system[0]).toBe('You are terse.');
    expect(system[1]).toContain('- User Preferences at /mnt/memory/user-preferences/ (read-write)\n  Description: What the user likes\n  Instructions: Record every preference the user states.');
    expect(system[1]).toContain('- Team Rules at /mnt/memory/team-rules/ (read-only)');
    expect(system[1]).not.toContain('Team Rules at /mnt/memory/team-rules/ (read-only)\n  Description');

    const next = `and this, ${sessionId}`;
    await say(sessionId, next);
    await settle(sessionId);
    const [second] = await modelRequestsWith(next);
    expect(JSON.stringify(second.system)).toBe(JSON.stringify(request.system));
  });

  it('leaves the system prompt as it was for a session without a memory store', async () => {
    const { sessionId } = await makeSession(KEY);
    const marker = `no memory, ${sessionId}`;
    await say(sessionId, marker);
    await settle(sessionId);
    const [request] = await modelRequestsWith(marker);
    expect(request.system).toEqual([{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }]);
  });
});

describe('saving what a tool call wrote under a mount', () => {
  const port = () => filesFor(env as unknown as Env);

  it('hands the sandbox every memory of each store with its mount, and saves a call once however often it is retried', async () => {
    const store = await newStore('Notes');
    await call('POST', `/v1/memory_stores/${store}/memories`, { path: '/a.md', content: 'A' });
    const readOnly = await newStore('Fixed');
    const sessionId = await sessionWithStores([
      { type: 'memory_store', memory_store_id: store },
      { type: 'memory_store', memory_store_id: readOnly, access: 'read_only' },
    ]);
    const mounted = await port().sessionMemoryStores('wrkspc_default', sessionId);
    expect(mounted).toEqual([
      { storeId: store, mountPath: '/mnt/memory/notes', access: 'read_write', memories: [{ path: '/a.md', content: 'A' }] },
      { storeId: readOnly, mountPath: '/mnt/memory/fixed', access: 'read_only', memories: [] },
    ]);

    const spec = { workspaceId: 'wrkspc_default', sessionId } as SessionSpec;
    const changes = [
      { storeId: store, writes: [{ type: 'write' as const, path: '/b.md', content: 'B' }, { type: 'write' as const, path: '/x'.repeat(21), content: 'deep' }], refused: [{ path: '/bin', reason: 'content: not UTF-8 text' }] },
      { storeId: readOnly, writes: [{ type: 'write' as const, path: '/sneaky.md', content: 'no' }], refused: [] },
    ];
    const notes = await saveMemoryChanges(port(), spec, 'sevt_call_1', changes, mounted);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toContain('/mnt/memory/notes/bin: content: not UTF-8 text');
    expect(notes[0]).toMatch(/\/mnt\/memory\/notes\/x\/x.*: path: /);
    expect(notes[0]).toContain('/mnt/memory/fixed: the session does not hold this memory store read_write');
    const versions = (await call('GET', `/v1/memory_stores/${store}/memory_versions`)).body.data;
    expect(versions.map((v: any) => [v.operation, v.path, v.created_by])).toEqual([
      ['created', '/b.md', { type: 'session_actor', session_id: sessionId }],
      ['created', '/a.md', expect.objectContaining({ type: 'api_actor' })],
    ]);
    expect((await call('GET', `/v1/memory_stores/${readOnly}/memory_versions`)).body.data).toEqual([]);
    // another call id is another save
    await saveMemoryChanges(port(), spec, 'sevt_call_2', [{ storeId: store, writes: [{ type: 'write', path: '/b.md', content: 'B2' }], refused: [] }], mounted);
    expect((await call('GET', `/v1/memory_stores/${store}/memory_versions`)).body.data).toHaveLength(3);
    // a retry of the first call (a brain that crashed after saving it): nothing applied again, so the later write
    // stands (a second apply would have put 'B' back over it), and the same notes come back
    expect(await saveMemoryChanges(port(), spec, 'sevt_call_1', changes, mounted)).toEqual(notes);
    expect((await call('GET', `/v1/memory_stores/${store}/memory_versions`)).body.data).toHaveLength(3);
    const b = (await call('GET', `/v1/memory_stores/${store}/memories?path_prefix=/`)).body.data.find((m: any) => m.path === '/b.md');
    expect((await call('GET', `/v1/memory_stores/${store}/memories/${b.id}`)).body.content).toBe('B2');
    await workspaceStore(env, 'wrkspc_default').deleteSession(sessionId);
  });
});

describe('what is saved from a mount', () => {
  it('has every credential value redacted, as a tool result has, so no secret becomes a memory', () => {
    const secret = 'sk-live-memory-secret-1234567890abcdef';
    const credential = {
      credentialId: 'vcrd_1',
      vaultId: 'vlt_1',
      name: 'API_TOKEN',
      placeholder: placeholderFor('vcrd_1'),
      value: secret,
      networking: { type: 'unrestricted' as const },
      injection: { header: true, body: false },
    };
    const [redacted] = redactMemoryChanges(
      [{ storeId: 'memstore_1', writes: [{ type: 'write', path: '/echo.md', content: `the server said ${secret}` }, { type: 'delete', path: '/old.md' }], refused: [] }],
      [credential],
    );
    expect(JSON.stringify(redacted)).not.toContain(secret);
    expect(redacted!.writes).toEqual([
      { type: 'write', path: '/echo.md', content: `the server said ${credential.placeholder}` },
      { type: 'delete', path: '/old.md' },
    ]);
  });
});
