// `npm start` supervises: however it dies (SIGKILL, a closed terminal's SIGHUP) nothing of the runtime outlives
// it, sandboxes included; the next start on the same state directory works, stops what an earlier runtime left
// running, and refuses to run beside a live one; a crashed or hung workerd is noticed and the API comes back.
import Anthropic from '@anthropic-ai/sdk';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findFreePort, startRuntime, type Runtime } from '../../scripts/runtime.ts';
import { descendants, isAlive, processesMentioning, waitFor, type ProcessRef } from '../support/processes.ts';

/** The acceptance criterion: after the supervisor's death, nothing of the runtime is left after 10 s. */
const NOTHING_LEFT_WITHIN_MS = 10_000;
/** "Within a minute", as a deadline to wait for, generous for a loaded machine; never a measured duration. */
const RECOVERY_DEADLINE_MS = 180_000;

/** The user's shell, minus any model configuration: the embedded defaults must do. */
function bareEnv(stateDir: string, port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), EDGEHARNESS_STATE_DIR: stateDir, CI: 'true' };
  for (const k of ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'EDGEHARNESS_API_KEY', 'EDGEHARNESS_STREAM_TOKEN_SECRET', 'EDGEHARNESS_VERBOSE', 'EDGEHARNESS_INSPECTOR_PORT']) delete env[k];
  return env;
}

interface NpmStart {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

const started: NpmStart[] = [];

/** `npm start` as a terminal would run it: its own process group, the foreground job a hangup or Ctrl-C hits. */
function spawnNpmStart(stateDir: string, port: number): NpmStart {
  let out = '';
  const child = spawn('npm', ['start'], { env: bareEnv(stateDir, port), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const run = { child, url: `http://127.0.0.1:${port}`, output: () => out, exited };
  started.push(run);
  return run;
}

async function startNpm(stateDir: string, port: number): Promise<NpmStart> {
  const run = spawnNpmStart(stateDir, port);
  await waitFor('the banner of npm start', () => {
    if (run.child.exitCode !== null) throw new Error(`npm start exited early:\n${run.output()}`);
    return run.output().includes('is running');
  }, 150_000);
  return run;
}

const healthy = (url: string): Promise<boolean> =>
  fetch(`${url}/healthz`, { signal: AbortSignal.timeout(3_000) }).then((r) => r.status === 200, () => false);

/** A session whose tool call is still running in its sandbox (a `sleep` with a marker only it carries). */
async function toolMidCommand(run: NpmStart, apiKey: string, marker: number): Promise<string> {
  const client = new Anthropic({ baseURL: run.url, apiKey, maxRetries: 0 });
  const agent = await client.beta.agents.create({ name: 'hands', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
  const environment = await client.beta.environments.create({ name: 'local' });
  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  await client.beta.sessions.events.send(session.id, {
    events: [{ type: 'user.message', content: [{ type: 'text', text: `[[tool:bash {"command":"sleep ${marker}"}]]` }] }],
  });
  await waitFor('the tool call running in its sandbox', () => descendants(run.child.pid!).some((p) => p.cmdline === `sleep ${marker}`), 90_000);
  return session.id;
}

/** Waits (up to the acceptance deadline) for every process in `tree` to be gone; returns those still alive. */
async function leftAfterDeadline(tree: readonly ProcessRef[], stateDir: string): Promise<string[]> {
  const still = (): string[] => [
    ...tree.filter(isAlive).map((p) => `${p.pid} ${p.cmdline}`),
    ...processesMentioning(stateDir).map((p) => `${p.pid} ${p.cmdline}`),
  ];
  await waitFor('the runtime to be gone', () => still().length === 0, NOTHING_LEFT_WITHIN_MS).catch(() => {});
  return [...new Set(still())];
}

function recorded(stateDir: string): { supervisor: { pid: number }; reaper: { pid: number } } {
  return JSON.parse(readFileSync(path.join(stateDir, 'runtime.json'), 'utf8'));
}

afterAll(async () => {
  // a failed test must not leave a runtime behind
  for (const run of started.splice(0)) {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      try {
        process.kill(-run.child.pid!, 'SIGINT');
      } catch {
        // gone
      }
      await Promise.race([run.exited, new Promise((r) => setTimeout(r, 20_000))]);
    }
  }
});

describe('npm start, however it dies', () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'eh-supervise-'));
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));
  let sessionId = '';

  it('SIGKILL of npm start and its supervisor leaves nothing of the runtime running, not even a sandbox mid-command', async () => {
    const run = await startNpm(stateDir, await findFreePort());
    const apiKey = readFileSync(path.join(stateDir, 'api-key'), 'utf8').trim();
    sessionId = await toolMidCommand(run, apiKey, 6121);
    const tree = descendants(run.child.pid!);
    expect(tree.some((p) => p.cmdline.includes('workerd'))).toBe(true);

    process.kill(-run.child.pid!, 'SIGKILL'); // npm and node scripts/start.ts, at once, with no chance to clean up
    expect(await leftAfterDeadline(tree, stateDir)).toEqual([]);
    expect(await healthy(run.url)).toBe(false);
  });

  let again: NpmStart | undefined;

  it('starts again on the same state directory, the earlier session still readable', async () => {
    again = await startNpm(stateDir, await findFreePort());
    const apiKey = readFileSync(path.join(stateDir, 'api-key'), 'utf8').trim();
    const client = new Anthropic({ baseURL: again.url, apiKey, maxRetries: 0 });
    expect((await client.beta.sessions.retrieve(sessionId)).id).toBe(sessionId);
    const types: string[] = [];
    for await (const event of client.beta.sessions.events.list(sessionId)) types.push(event.type);
    expect(types).toContain('agent.tool_use');
  });

  it('SIGHUP of npm start (a closed terminal) leaves nothing of the runtime running, not even a sandbox mid-command', async () => {
    const run = again!;
    await toolMidCommand(run, readFileSync(path.join(stateDir, 'api-key'), 'utf8').trim(), 6122);
    const tree = descendants(run.child.pid!);
    // a closed terminal: the whole foreground job gets SIGHUP
    process.kill(-run.child.pid!, 'SIGHUP');
    expect(await leftAfterDeadline(tree, stateDir)).toEqual([]);
    expect(await healthy(run.url)).toBe(false);
  });

  it('refuses a second runtime on a state directory in use, on any port, saying which runtime uses it', async () => {
    const first = await startNpm(stateDir, await findFreePort());
    const second = spawnNpmStart(stateDir, await findFreePort());
    expect(await second.exited).not.toBe(0);
    expect(second.output()).toMatch(new RegExp(`in use by another edgeharness \\(pid ${recorded(stateDir).supervisor.pid}, serving ${first.url}\\)`));
    expect(await healthy(first.url)).toBe(true);
    expect(await healthy(second.url)).toBe(false);
    process.kill(-first.child.pid!, 'SIGINT');
    expect(await first.exited).toBe(0);
  });

  it('stops what a runtime left running when its supervisor and reaper were both killed, rather than run beside it', async () => {
    const old = await startNpm(stateDir, await findFreePort());
    const tree = descendants(old.child.pid!);
    const { supervisor, reaper } = recorded(stateDir);
    // "somehow still alive": a hung wrangler cannot notice its parent is gone, and with the reaper killed
    // as well, nothing else stops it or its workerd, which goes on serving the old port
    const wrangler = tree.find((p) => p.cmdline.includes('wrangler-dev.ts'));
    process.kill(wrangler!.pid, 'SIGSTOP');
    process.kill(reaper.pid, 'SIGKILL');
    process.kill(supervisor.pid, 'SIGKILL');
    process.kill(-old.child.pid!, 'SIGKILL');
    const leftovers = tree.filter((p) => p.cmdline.includes('wrangler-dev.ts') || p.cmdline.includes('workerd'));
    await new Promise((r) => setTimeout(r, 2_000)); // the children that watch their parent have gone by now
    expect(leftovers.filter(isAlive).length).toBeGreaterThan(0);
    expect(await healthy(old.url)).toBe(true);

    const next = await startNpm(stateDir, await findFreePort());
    expect(next.output()).toMatch(/stopped \d+ process\(es\) an earlier runtime on .* left running/);
    expect(leftovers.filter(isAlive)).toEqual([]);
    expect(await healthy(old.url)).toBe(false);
    expect(await healthy(next.url)).toBe(true);
    process.kill(-next.child.pid!, 'SIGINT');
    expect(await next.exited).toBe(0);
    expect(processesMentioning(stateDir)).toEqual([]);
  });
});

describe('npm start, when a workerd fails', () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'eh-supervise-'));
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

  /** The workerd that serves the API port (wrangler runs two; this one is the entry). */
  function entryWorkerd(run: NpmStart): ProcessRef {
    const port = new URL(run.url).port;
    const found = descendants(run.child.pid!).find((p) => p.cmdline.includes('workerd') && p.cmdline.includes(`--socket-addr=entry=127.0.0.1:${port}`));
    if (!found) throw new Error(`no workerd serves ${run.url}`);
    return found;
  }

  /** The API answers again and still has its data, or npm start has exited saying why. */
  async function recovered(run: NpmStart, agentId: string): Promise<void> {
    const outcome = await waitFor('the API to answer again or npm start to exit', async () => {
      if (run.child.exitCode !== null) return 'exited';
      return (await healthy(run.url)) && 'answers';
    }, RECOVERY_DEADLINE_MS);
    if (outcome === 'exited') {
      expect(run.output()).toMatch(/edgeharness: .*(healthz|wrangler).*; stopped the rest/);
      return;
    }
    const apiKey = readFileSync(path.join(stateDir, 'api-key'), 'utf8').trim();
    const client = new Anthropic({ baseURL: run.url, apiKey, maxRetries: 0 });
    expect((await client.beta.agents.retrieve(agentId)).id).toBe(agentId);
  }

  it('after kill -9 of the entry workerd the API answers again, or npm start exits saying why', async () => {
    const run = await startNpm(stateDir, await findFreePort());
    const apiKey = readFileSync(path.join(stateDir, 'api-key'), 'utf8').trim();
    const agent = await new Anthropic({ baseURL: run.url, apiKey, maxRetries: 0 }).beta.agents.create({ name: 'before', model: 'claude-sonnet-5-5' });
    process.kill(entryWorkerd(run).pid, 'SIGKILL');
    await recovered(run, agent.id);
    process.kill(-run.child.pid!, 'SIGINT');
    await run.exited;
  }, 300_000);

  it('restarts wrangler when /healthz stops answering (a hung entry workerd), keeping port and state', async () => {
    const run = await startNpm(stateDir, await findFreePort());
    const apiKey = readFileSync(path.join(stateDir, 'api-key'), 'utf8').trim();
    const agent = await new Anthropic({ baseURL: run.url, apiKey, maxRetries: 0 }).beta.agents.create({ name: 'before', model: 'claude-sonnet-5-5' });
    const hung = entryWorkerd(run);
    // alive to wrangler, deaf to every request: only the health check can tell
    process.kill(hung.pid, 'SIGSTOP');
    await waitFor('the supervisor to restart wrangler', () => run.output().includes('restarting wrangler'), RECOVERY_DEADLINE_MS);
    await recovered(run, agent.id);
    expect(run.child.exitCode).toBe(null);
    expect(isAlive(hung)).toBe(false);
    process.kill(-run.child.pid!, 'SIGINT');
    expect(await run.exited).toBe(0);
  }, 300_000);
});

describe('startRuntime without restarts', () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'eh-supervise-'));
  let runtime: Runtime | undefined;
  afterAll(async () => {
    await runtime?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('opens the DevTools inspector only when asked, on 127.0.0.1', async () => {
    runtime = await startRuntime({
      port: 0,
      stateDir,
      inspectorPort: 0,
      health: { intervalMs: 500, timeoutMs: 2_000, failures: 2 },
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
    });
    expect(runtime.inspectorUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    const devtools = await fetch(`${runtime.inspectorUrl!.replace('ws:', 'http:')}/json/version`);
    expect(devtools.status).toBe(200);
  });

  it('stops the whole runtime, saying why, when /healthz stops answering', async () => {
    const port = runtime!.port;
    const entry = descendants(process.pid).find((p) => p.cmdline.includes('workerd') && p.cmdline.includes(`--socket-addr=entry=127.0.0.1:${port}`));
    expect(entry).toBeDefined();
    process.kill(entry!.pid, 'SIGSTOP');
    const exit = await runtime!.exited;
    expect(exit.ok).toBe(false);
    expect(exit.reason).toContain(`${runtime!.url}/healthz`);
    expect(isAlive(entry!)).toBe(false);
    expect(processesMentioning(stateDir)).toEqual([]);
  });
});
