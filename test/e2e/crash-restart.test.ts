// Whole-runtime crash: kill -9 of the Worker runtime (wrangler + workerd) mid-turn and mid-tool. After a
// restart on the same state, the session's Durable Object alarm re-wakes a brain and the turn completes; a tool
// cut off by the crash is reported, never run a second time.
import Anthropic from '@anthropic-ai/sdk';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor as waitUntil } from '../support/processes.ts';
import { startScriptedRuntime } from '../support/scripted-runtime.ts';
import { suiteFixture } from '../support/suite-fixture.ts';

describe('kill -9 of the whole runtime', () => {
  const e2e = suiteFixture(() => startScriptedRuntime('crash', { workerVars: { EDGEHARNESS_LEASE_MS: '1500' } }), (run) => run.stop());

  /** SIGKILL to wrangler's process group (wrangler and workerd), as a power cut would; then a fresh start. */
  async function killAndRestart() {
    const pids = execFileSync('pgrep', ['-f', `persist-to ${path.join(e2e.stateDir, 'wrangler')}`], { encoding: 'utf8' }).trim().split('\n');
    const groups = new Set(pids.map((pid) => execFileSync('ps', ['-o', 'pgid=', '-p', pid], { encoding: 'utf8' }).trim()).filter(Boolean));
    for (const g of groups) process.kill(-Number(g), 'SIGKILL');
    const exit = await e2e.runtime.exited;
    expect(exit.ok).toBe(false);
    await e2e.restart();
  }

  async function waitIdle(c: Anthropic, id: string, minIdles: number) {
    for (let i = 0; i < 600; i++) {
      const evs = [];
      for await (const e of c.beta.sessions.events.list(id, { limit: 1000 })) evs.push(e);
      if (evs.at(-1)?.type === 'session.status_idle' && evs.filter((e) => e.type === 'session.status_idle').length >= minIdles) return evs;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('session did not go idle after the restart');
  }

  async function waitFor(c: Anthropic, id: string, type: string) {
    for (let i = 0; i < 300; i++) {
      for await (const e of c.beta.sessions.events.list(id, { limit: 1000 })) if (e.type === type) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no ${type}`);
  }

  it('finishes a turn that was mid-model-call when the runtime died', async () => {
    let c = e2e.client;
    const agent = await c.beta.agents.create({ name: 'crash', model: 'claude-sonnet-5-5' });
    const env = await c.beta.environments.create({ name: 'crash' });
    const session = await c.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    await c.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'slowly please [[slow-first-token 4000]]' }] }] });
    await waitFor(c, session.id, 'span.model_request_start');
    await killAndRestart();
    c = e2e.client;
    const events = await waitIdle(c, session.id, 1);
    expect(events.filter((e) => e.type === 'agent.message')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'span.model_request_start')).toHaveLength(1);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    const last = events.at(-1)!;
    expect(last.type === 'session.status_idle' && last.stop_reason.type).toBe('end_turn');
  });

  it('reports a tool cut off by the crash as interrupted and never runs it again', async () => {
    let c = e2e.client;
    const agent = await c.beta.agents.create({ name: 'crash-tool', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
    const env = await c.beta.environments.create({ name: 'crash-tool' });
    const session = await c.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    await c.beta.sessions.events.send(session.id, {
      events: [{ type: 'user.message', content: [{ type: 'text', text: '[[tool:bash {"command":"echo started >> ran.log; sleep 5; echo finished >> ran.log"}]]' }] }],
    });
    await waitFor(c, session.id, 'agent.tool_use');
    // The power goes once the command has started inside the sandbox (it has written its first line).
    const log = path.join(e2e.stateDir, 'sandboxes', session.id, 'workspace', 'ran.log');
    await waitUntil('the command to start in the sandbox', () => existsSync(log) && readFileSync(log, 'utf8').includes('started'));
    await killAndRestart();
    c = e2e.client;
    const events = await waitIdle(c, session.id, 1);
    const results = events.filter((e) => e.type === 'agent.tool_result');
    expect(results).toHaveLength(1);
    const cut = results[0]!;
    expect(cut.type === 'agent.tool_result' && cut.is_error).toBe(true);
    const said = cut.type === 'agent.tool_result' ? (cut.content ?? []).map((b) => ('text' in b ? b.text : '')).join('') : '';
    expect(said).toMatch(/interrupted|died/i);

    await c.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: '[[tool:bash {"command":"cat ran.log"}]]' }] }] });
    const after = await waitIdle(c, session.id, 2);
    const check = after.filter((e) => e.type === 'agent.tool_result').at(-1)!;
    const text = check.type === 'agent.tool_result' ? (check.content ?? []).map((b) => ('text' in b ? b.text : '')).join('') : '';
    // Started once, and never run again to completion.
    expect(text.match(/started/g) ?? []).toHaveLength(1);
    expect(text).not.toContain('finished');
  });
});
