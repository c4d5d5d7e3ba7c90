// The local sandbox host through its HTTP API (via the Worker's client): the agent toolset runs in the session's
// sandbox, the workspace persists, a call runs at most once per key, and long or slow calls end as they should.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newKey, newRoot, removeRoot, startHost, text, useHost, waitFor, type TestHost } from './fixture.ts';

describe('the agent toolset in a local sandbox', () => {
  const host = useHost();

  it('bash writes a file and a later call reads it back', async () => {
    const wrote = await host.call('sesn_bash', 'bash', { command: 'mkdir -p notes && echo "first line" > notes/a.txt && echo done' });
    expect(wrote).toEqual({ content: [{ type: 'text', text: 'done' }], isError: false, sandboxStart: 'cold' });
    const read = await host.call('sesn_bash', 'bash', { command: 'cat notes/a.txt' });
    expect(text(read)).toBe('first line');
    expect(readFileSync(path.join(host.workspace('sesn_bash'), 'notes', 'a.txt'), 'utf8')).toBe('first line\n');
  });

  it("says whether a call started the session's sandbox: the first is cold, the next warm, a repeat as it first ran", async () => {
    const key = newKey();
    const first = await host.call('sesn_start', 'bash', { command: 'echo one' }, { key });
    const second = await host.call('sesn_start', 'bash', { command: 'echo two' });
    expect([text(first), first.sandboxStart]).toEqual(['one', 'cold']);
    expect([text(second), second.sandboxStart]).toEqual(['two', 'warm']);
    expect(await host.call('sesn_start', 'bash', { command: 'echo one' }, { key })).toEqual(first);
  });

  it('keeps the shell between calls: cd and variables persist', async () => {
    await host.call('sesn_shell', 'bash', { command: 'mkdir -p sub && cd sub && export GREETING=hi' });
    const outcome = await host.call('sesn_shell', 'bash', { command: 'echo "$GREETING from $(basename "$PWD")"' });
    expect(text(outcome)).toBe('hi from sub');
  });

  it('git works in the sandbox, with a global config of its own although $HOME/.gitconfig is hidden', async () => {
    const outcome = await host.call('sesn_git', 'bash', {
      command:
        'git config --global user.email agent@example.com && git config --global user.name agent && git init -q r && cd r && ' +
        'git commit -q --allow-empty -m first && git log --format=%s -1 && git config --global --get user.email',
    });
    expect(outcome).toEqual({ content: [{ type: 'text', text: 'first\nagent@example.com' }], isError: false, sandboxStart: 'cold' });
  });

  it('a failing command is an error result with its output', async () => {
    const outcome = await host.call('sesn_bash', 'bash', { command: 'echo oops >&2; exit 3' });
    expect(outcome.isError).toBe(true);
  });

  it('write, read, edit, glob and grep each work', async () => {
    const id = 'sesn_files';
    const write = await host.call(id, 'write', { file_path: 'src/hello.txt', content: 'hello world\nsecond line\n' });
    expect(write.isError).toBe(false);
    expect(text(await host.call(id, 'read', { file_path: 'src/hello.txt' }))).toBe('hello world\nsecond line\n');

    const edit = await host.call(id, 'edit', { file_path: 'src/hello.txt', old_string: 'world', new_string: 'sandbox' });
    expect(edit.isError).toBe(false);
    expect(text(await host.call(id, 'read', { file_path: 'src/hello.txt', view_range: [1, 1] }))).toBe('hello sandbox');

    const glob = await host.call(id, 'glob', { pattern: '**/*.txt' });
    expect(glob.isError).toBe(false);
    expect(text(glob)).toContain(path.join('src', 'hello.txt'));

    const grep = await host.call(id, 'grep', { pattern: 'sec.nd' });
    expect(grep.isError).toBe(false);
    expect(text(grep)).toMatch(/hello\.txt:2:second line/);
  });

  it('an unknown tool is an error result naming the tools there are', async () => {
    const outcome = await host.call('sesn_files', 'web_fetch', { url: 'https://example.com' });
    expect(outcome.isError).toBe(true);
    expect(text(outcome)).toMatch(/unknown tool "web_fetch".*bash, read, write, edit, glob, grep/);
  });

  it('the same idempotency key runs once and returns the recorded outcome', async () => {
    const key = newKey();
    const command = 'echo run >> runs.txt; wc -l < runs.txt';
    const first = await host.call('sesn_once', 'bash', { command }, { key });
    const again = await host.call('sesn_once', 'bash', { command }, { key });
    expect(again).toEqual(first);
    expect(readFileSync(path.join(host.workspace('sesn_once'), 'runs.txt'), 'utf8')).toBe('run\n');
  });

  it('two requests with one key at the same time run it once', async () => {
    const key = newKey();
    const command = 'echo run >> together.txt; sleep 1; wc -l < together.txt';
    const [a, b] = await Promise.all([
      host.call('sesn_once', 'bash', { command }, { key }),
      host.call('sesn_once', 'bash', { command }, { key }),
    ]);
    expect(a).toEqual(b);
    expect(readFileSync(path.join(host.workspace('sesn_once'), 'together.txt'), 'utf8')).toBe('run\n');
  });

  it('a call past its timeout is an error, and the command and its children are stopped', async () => {
    const outcome = await host.call('sesn_slow', 'bash', { command: 'echo started; (sleep 3; echo late > late.txt) & sleep 3; echo finished > finished.txt' }, { timeoutMs: 500 });
    expect(outcome.isError).toBe(true);
    expect(text(outcome)).toContain('timed out after 500 ms');
    expect(text(outcome)).toContain('started'); // what it printed before it was stopped
    await new Promise((r) => setTimeout(r, 4_000));
    const workspace = host.workspace('sesn_slow');
    expect(existsSync(path.join(workspace, 'finished.txt'))).toBe(false);
    expect(existsSync(path.join(workspace, 'late.txt'))).toBe(false);
    // the next call gets a working shell
    expect(text(await host.call('sesn_slow', 'bash', { command: 'echo alive' }))).toBe('alive');
  });

  it('output over 100,000 characters is truncated, and the whole of it is saved in the workspace', async () => {
    const outcome = await host.call('sesn_big', 'bash', { command: 'seq 1 60000' });
    const result = text(outcome);
    expect(outcome.isError).toBe(false);
    expect(result.length).toBeLessThanOrEqual(100_000);
    expect(result.startsWith('1\n2\n3\n')).toBe(true);
    expect(result.endsWith('59999\n60000')).toBe(true);
    const saved = /The whole output is saved in (\S+) /.exec(result)?.[1];
    expect(saved).toBeDefined();
    expect(saved!.startsWith(`${host.workspace('sesn_big')}/.edgeharness/outputs/`)).toBe(true);
    const whole = Array.from({ length: 60_000 }, (_, i) => String(i + 1)).join('\n');
    expect(readFileSync(saved!, 'utf8').trimEnd()).toBe(whole);
  });

  it('a long file read is truncated the same way', async () => {
    const line = `${'x'.repeat(99)}\n`;
    writeFileSync(path.join(host.workspace('sesn_big'), 'long.txt'), line.repeat(2_000)); // 200,000 characters
    const result = text(await host.call('sesn_big', 'read', { file_path: 'long.txt' }));
    expect(result.length).toBeLessThanOrEqual(100_000);
    const saved = /The whole output is saved in (\S+) /.exec(result)?.[1];
    expect(readFileSync(saved!, 'utf8')).toBe(line.repeat(2_000));
  });

  it('a short output leaves no saved copy behind', async () => {
    await host.call('sesn_short', 'bash', { command: 'echo short' });
    const outputs = path.join(host.workspace('sesn_short'), '.edgeharness', 'outputs');
    const left = existsSync(outputs) ? readdirSync(outputs) : [];
    expect(left).toEqual([]);
  });
});

describe('the sandbox host', () => {
  let host: TestHost;
  beforeAll(async () => { host = await startHost(newRoot(), { idleMs: 1_000 }); });
  afterAll(async () => {
    await host.close();
    removeRoot(host.root);
  });

  it('refuses every request without the bearer secret', async () => {
    for (const [method, route] of [['GET', '/healthz'], ['GET', '/v1/sandboxes'], ['GET', '/v1/sandboxes/sesn_x'], ['DELETE', '/v1/sandboxes/sesn_x'], ['POST', '/v1/sandboxes/sesn_x/execute'], ['POST', '/v1/sandboxes/sesn_x/provision']] as const) {
      expect((await host.api(method, route, undefined, null)).status, `${method} ${route}`).toBe(401);
      expect((await host.api(method, route, undefined, 'wrong-secret')).status, `${method} ${route}`).toBe(401);
    }
    expect((await host.api('GET', '/healthz')).status).toBe(200);
  });

  it('starts nothing for a session until its first call, then lists it as running', async () => {
    expect((await host.api('GET', '/v1/sandboxes')).body).toEqual({ data: [] });
    expect((await host.api('GET', '/v1/sandboxes/sesn_lazy')).body).toMatchObject({ status: 'none', executions: 0, workspace: null });
    await host.call('sesn_lazy', 'bash', { command: 'true' });
    const listed = (await host.api('GET', '/v1/sandboxes')).body as { data: Array<{ session_id: string; status: string; executions: number }> };
    expect(listed.data).toEqual([expect.objectContaining({ session_id: 'sesn_lazy', status: 'running', executions: 1 })]);
  });

  it('stops a sandbox that has been idle, keeping its workspace', async () => {
    await host.call('sesn_idle', 'write', { file_path: 'kept.txt', content: 'still here' });
    await waitFor('the idle sandbox to stop', async () => ((await host.api('GET', '/v1/sandboxes/sesn_idle')).body as { status: string }).status === 'none');
    const after = await host.call('sesn_idle', 'read', { file_path: 'kept.txt' });
    expect(text(after)).toBe('still here');
    expect(after.sandboxStart).toBe('cold'); // the call after an idle stop starts the sandbox again
  });

  it('provision starts the sandbox; DELETE stops it and removes the workspace', async () => {
    const provisioned = await host.api('POST', '/v1/sandboxes/sesn_del/provision', { sessionId: 'sesn_del', workspaceId: 'w', environmentId: 'e', networking: { type: 'unrestricted' } });
    expect(provisioned).toMatchObject({ status: 200, body: { status: 'running' } });
    expect((await host.call('sesn_del', 'write', { file_path: 'gone.txt', content: 'soon' })).sandboxStart).toBe('warm'); // provisioned already
    expect((await host.api('DELETE', '/v1/sandboxes/sesn_del')).status).toBe(200);
    expect((await host.api('GET', '/v1/sandboxes/sesn_del')).body).toMatchObject({ status: 'none', executions: 0, workspace: null });
    expect(existsSync(path.join(host.sandboxesDir, 'sesn_del'))).toBe(false);
  });

  it('rejects a body that does not match, naming the field', async () => {
    const wrongSession = await host.api('POST', '/v1/sandboxes/sesn_a/execute', {
      spec: { sessionId: 'sesn_b', workspaceId: 'w', environmentId: 'e', networking: { type: 'unrestricted' } },
      call: { name: 'bash', input: { command: 'true' }, idempotencyKey: 'k' },
    });
    expect(wrongSession.status).toBe(400);
    expect(JSON.stringify(wrongSession.body)).toContain('spec.sessionId');
    const noKey = await host.api('POST', '/v1/sandboxes/sesn_a/execute', {
      spec: { sessionId: 'sesn_a', workspaceId: 'w', environmentId: 'e', networking: { type: 'unrestricted' } },
      call: { name: 'bash', input: { command: 'true' } },
    });
    expect(noKey.status).toBe(400);
    expect(JSON.stringify(noKey.body)).toContain('body.call.idempotencyKey');
  });

  it('keeps workspaces and recorded outcomes across a restart of the host', async () => {
    const key = newKey();
    const first = await host.call('sesn_restart', 'bash', { command: 'echo persisted > p.txt; echo once >> count.txt; cat p.txt' }, { key });
    await host.close();
    host = await startHost(host.root, { idleMs: 1_000 });
    expect(text(await host.call('sesn_restart', 'read', { file_path: 'p.txt' }))).toBe('persisted\n');
    expect(await host.call('sesn_restart', 'bash', { command: 'ignored: the key decides' }, { key })).toEqual(first);
    expect(readFileSync(path.join(host.workspace('sesn_restart'), 'count.txt'), 'utf8')).toBe('once\n');
  });
});
