// `npm start` with nothing configured: generates and keeps an API key, runs the scripted model, answers
// /healthz, the demo agent replies and says how to connect a real model, and one Ctrl-C stops everything.
// What it exposes: every port on 127.0.0.1 only, no DevTools inspector, no scripted-model request log.
import Anthropic from '@anthropic-ai/sdk';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findFreePort as freePort } from '../../scripts/runtime.ts';
import { descendants, listeners } from '../support/processes.ts';

/** The user's shell, minus any model configuration: the embedded defaults must do. */
function bareEnv(stateDir: string, port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), EDGEHARNESS_STATE_DIR: stateDir, CI: 'true' };
  for (const k of ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'EDGEHARNESS_API_KEY', 'EDGEHARNESS_STREAM_TOKEN_SECRET', 'EDGEHARNESS_VERBOSE', 'EDGEHARNESS_INSPECTOR_PORT']) delete env[k];
  return env;
}

async function waitHealthy(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output()}`);
    const ok = await fetch(`${url}/healthz`).then((r) => r.status === 200, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no /healthz within 120 s:\n${output()}`);
}

function leftovers(stateDir: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', stateDir], { encoding: 'utf8' }).split('\n').filter((l) => l && !l.includes('pgrep'));
  } catch {
    return [];
  }
}

describe('npm start', () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'eh-start-'));
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

  async function start(port: number) {
    let out = '';
    const child = spawn('npm', ['start'], { env: bareEnv(stateDir, port), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const url = `http://127.0.0.1:${port}`;
    await waitHealthy(url, child, () => out);
    return { child, url, output: () => out };
  }

  async function ctrlC(child: ChildProcess): Promise<number | null> {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // A terminal's Ctrl-C signals the whole foreground process group.
    process.kill(-child.pid!, 'SIGINT');
    return exited;
  }

  it('comes up with embedded defaults, answers with the demo model, and stops on one Ctrl-C', async () => {
    const port = await freePort();
    const { child, url, output } = await start(port);
    const apiKey = readFileSync(path.join(stateDir, 'api-key'), 'utf8').trim();
    // The banner follows the first healthy answer by a moment.
    for (let i = 0; i < 100 && !output().includes('is running'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(output()).toContain(apiKey);

    const client = new Anthropic({ baseURL: url, apiKey, maxRetries: 0 });
    const agent = await client.beta.agents.create({ name: 'demo', model: 'claude-sonnet-5-5' });
    const environment = await client.beta.environments.create({ name: 'local' });
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    const stream = await client.beta.sessions.events.stream(session.id);
    await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'hello there' }] }] });
    let reply = '';
    for await (const ev of stream) {
      if (ev.type === 'agent.message') reply = ev.content.map((b) => ('text' in b ? b.text : '')).join('');
      if (ev.type === 'session.status_idle') break;
    }
    expect(reply).toContain('ANTHROPIC_API_KEY');

    // The sandbox host came up with everything else: a tool call runs in it.
    const toolAgent = await client.beta.agents.create({ name: 'hands', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
    const toolSession = await client.beta.sessions.create({ agent: toolAgent.id, environment_id: environment.id });
    const toolStream = await client.beta.sessions.events.stream(toolSession.id);
    await client.beta.sessions.events.send(toolSession.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: '[[tool:bash {"command":"echo from-the-sandbox"}]]' }] }] });
    let toolOutput = '';
    for await (const ev of toolStream) {
      if (ev.type === 'agent.tool_result') toolOutput = (ev.content ?? []).map((b) => ('text' in b ? b.text : '')).join('');
      if (ev.type === 'session.status_idle') break;
    }
    expect(toolOutput).toContain('from-the-sandbox');

    expect(await ctrlC(child)).toBe(0);
    expect(await fetch(`${url}/healthz`).then(() => 'up', () => 'down')).toBe('down');
    expect(leftovers(stateDir)).toEqual([]);

    // Started again on the same state: same key, same session and its events.
    const again = await start(port);
    const client2 = new Anthropic({ baseURL: again.url, apiKey, maxRetries: 0 });
    expect((await client2.beta.sessions.retrieve(session.id)).status).toBe('idle');
    const events = [];
    for await (const ev of client2.beta.sessions.events.list(session.id)) events.push(ev.type);
    expect(events.at(-1)).toBe('session.status_idle');
    expect(await ctrlC(again.child)).toBe(0);
    expect(leftovers(stateDir)).toEqual([]);
  });

  it('listens on 127.0.0.1 only, opens no DevTools inspector, and its scripted model keeps its request log to itself', async () => {
    const port = await freePort();
    const { child, output } = await start(port);
    for (let i = 0; i < 100 && !output().includes('is running'); i++) await new Promise((r) => setTimeout(r, 100));
    const modelUrl = /scripted model at (http:\/\/\S+)/.exec(output())?.[1];
    expect(modelUrl).toBeDefined();
    // other sessions' prompts, for anyone (a sandbox allowed onto loopback) that asks
    expect((await fetch(`${modelUrl}/_scripted/requests`)).status).toBe(404);
    expect((await fetch(`${modelUrl}/_scripted/script`, { method: 'POST', body: '{"steps":[]}' })).status).toBe(404);

    const ports = listeners(descendants(child.pid!));
    expect(ports.map((l) => l.port)).toContain(port);
    // a socket on 0.0.0.0 or :: would answer on 127.0.0.2 too, which a sandbox may be allowed to reach
    expect(ports.filter((l) => l.address !== '127.0.0.1')).toEqual([]);
    for (const l of ports) {
      // a DevTools inspector answers /json/version with its protocol version; its Runtime.evaluate reads the Worker's secrets
      const body = await fetch(`http://127.0.0.1:${l.port}/json/version`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.text(), () => '');
      expect(body, `port ${l.port}`).not.toContain('Protocol-Version');
    }
    expect(await ctrlC(child)).toBe(0);
    expect(leftovers(stateDir)).toEqual([]);
  });
});
