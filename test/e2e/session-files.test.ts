// End to end: a file uploaded through the Files API and named by a session's `file` resource is in the sandbox at
// its mount path (under the workspace) when the agent's first tool call runs, read-only; one added with
// sessions.resources.add is there before the next call, and a deleted one's copy is gone.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bashTurn, startScriptedRuntime, toolResultText as resultText } from '../support/scripted-runtime.ts';
import { suiteFixture } from '../support/suite-fixture.ts';

describe('session files', () => {
  const e2e = suiteFixture(() => startScriptedRuntime('session-files', { apiKey: 'session-files-key' }), (run) => run.stop());
  const bash = (id: string, command: string) => bashTurn(e2e.client, id, command);

  it('puts the uploaded file read-only at its mount path, adds a later one before the next call, and drops a deleted one', async () => {
    const uploaded = await e2e.client.beta.files.upload({ file: new File(['quarterly numbers: 42\n'], 'numbers.txt', { type: 'text/plain' }) });
    const environment = await e2e.client.beta.environments.create({ name: 'files' });
    const agent = await e2e.client.beta.agents.create({ name: 'reader', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
    const session = await e2e.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, resources: [{ type: 'file', file_id: uploaded.id }] });
    expect(session.resources).toEqual([expect.objectContaining({ type: 'file', file_id: uploaded.id, mount_path: `/mnt/session/uploads/${uploaded.id}` })]);

    // lazy: nothing is placed (no sandbox exists) until the first tool call
    expect(existsSync(path.join(e2e.stateDir, 'sandboxes', session.id))).toBe(false);
    const read = await bash(session.id, `cat mnt/session/uploads/${uploaded.id} /mnt/session/uploads/${uploaded.id}`);
    expect(read.filter((e) => e.type === 'session.error')).toEqual([]);
    // under the workspace, and at the mount path the API answered
    expect(resultText(read)).toEqual({ text: expect.stringMatching(/quarterly numbers: 42[\s\S]*quarterly numbers: 42/), isError: false });

    const write = resultText(await bash(session.id, `echo x > mnt/session/uploads/${uploaded.id}`));
    expect(write.text).toContain('Permission denied');
    expect(resultText(await bash(session.id, `rm -f mnt/session/uploads/${uploaded.id}; cat mnt/session/uploads/${uploaded.id}`)).text).toContain('quarterly numbers: 42');

    const later = await e2e.client.beta.files.upload({ file: new File(['added later\n'], 'later.txt', { type: 'text/plain' }) });
    const added = await e2e.client.beta.sessions.resources.add(session.id, { type: 'file', file_id: later.id, mount_path: '/data/later.txt' });
    expect(resultText(await bash(session.id, 'cat data/later.txt')).text).toContain('added later');

    await e2e.client.beta.sessions.resources.delete(added.id, { session_id: session.id });
    const after = resultText(await bash(session.id, 'ls data/; echo listed'));
    expect(after.text).toContain('listed');
    expect(after.text).not.toContain('later.txt');
  });
});
