// Sandboxes are cattle: one killed mid-command is an error result and the next call gets a fresh one with the same
// workspace; a call whose run was cut off by the host itself dying is reported, never run again.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { newKey, newRoot, processesMentioning, removeRoot, runnerPids, startHostProcess, text, useHost, waitFor } from './fixture.ts';

describe('a sandbox killed mid-command', () => {
  const host = useHost();

  it('killing the tool runner: that call is an error saying so, and the next call succeeds in the same workspace', async () => {
    const id = 'sesn_kill_runner';
    const workspace = host.workspace(id);
    const running = host.call(id, 'bash', { command: 'echo before > before.txt; sleep 30; echo after > after.txt' }, { timeoutMs: 60_000 });
    await waitFor('the command to start', () => existsSync(path.join(workspace, 'before.txt')));
    const [runner] = runnerPids(workspace);
    expect(runner).toBeDefined();
    process.kill(runner!, 'SIGKILL');

    const outcome = await running;
    expect(outcome.isError).toBe(true);
    expect(text(outcome)).toContain('the sandbox process died while this tool call was running');

    const next = await host.call(id, 'bash', { command: 'cat before.txt; ls' });
    expect(next.isError).toBe(false);
    expect(text(next)).toMatch(/^before\n/);
    expect(text(next)).not.toContain('after.txt'); // the killed command did not go on running
    expect(runnerPids(workspace)).toHaveLength(1);
  });

  it('killing the whole sandbox (the launcher and bubblewrap under it): the same', async () => {
    const id = 'sesn_kill_sandbox';
    const workspace = host.workspace(id);
    const running = host.call(id, 'bash', { command: 'touch started; sleep 30' }, { timeoutMs: 60_000 });
    await waitFor('the command to start', () => existsSync(path.join(workspace, 'started')));
    const { pid } = (await host.api('GET', `/v1/sandboxes/${id}`)).body as { pid: number };
    process.kill(pid, 'SIGKILL');

    const outcome = await running;
    expect(outcome.isError).toBe(true);
    expect(text(outcome)).toContain('the sandbox process died while this tool call was running (was killed by SIGKILL)');
    const next = await host.call(id, 'bash', { command: 'ls started' });
    expect(text(next)).toBe('started');
    expect(next.sandboxStart).toBe('cold'); // the call after the death started a fresh sandbox
  });

  it('DELETE leaves no process of the sandbox behind', async () => {
    const id = 'sesn_no_leftovers';
    await host.call(id, 'bash', { command: 'sleep 300 &' });
    expect(processesMentioning(host.workspace(id)).length).toBeGreaterThan(0);
    await host.api('DELETE', `/v1/sandboxes/${id}`);
    await waitFor('the sandbox processes to end', () => processesMentioning(host.workspace(id)).length === 0, 10_000);
  });
});

describe('the host killed while a call runs', () => {
  it('after a restart the interrupted key is reported and not run again; its workspace is kept', async () => {
    const root = newRoot();
    const first = await startHostProcess(root);
    const id = 'sesn_host_killed';
    const workspace = first.workspace(id);
    const key = newKey();
    const command = 'echo run >> runs.txt; sleep 30';
    const cutOff = first.call(id, 'bash', { command }, { key, timeoutMs: 60_000 });
    await waitFor('the command to start', () => existsSync(path.join(workspace, 'runs.txt')));
    await first.kill();
    expect(text(await cutOff)).toMatch(/^sandbox host unreachable/);

    // the orphaned sandbox notices its host is gone (its stdin closes) and stops
    await waitFor('the orphaned sandbox to stop', () => runnerPids(workspace).length === 0, 15_000);

    const second = await startHostProcess(root);
    try {
      const again = await second.call(id, 'bash', { command }, { key });
      expect(again.isError).toBe(true);
      expect(text(again)).toMatch(/^This tool call was interrupted: it was started earlier and never finished.*It was not re-run/s);
      // the verdict is recorded: every later repeat gets it too, and nothing runs
      expect(await second.call(id, 'bash', { command }, { key })).toEqual(again);
      expect(readFileSync(path.join(workspace, 'runs.txt'), 'utf8')).toBe('run\n');
      expect(text(await second.call(id, 'bash', { command: 'cat runs.txt' }))).toBe('run');
    } finally {
      await second.close();
      removeRoot(root);
    }
  });
});
