// Outbound webhooks across a runtime crash: a delivery whose first attempt failed is still queued in the
// WebhookOutbox's SQLite table when the runtime is killed (-9); after a restart on the same state the outbox's alarm
// sends it again, and the endpoint (a node HTTP server on loopback, which `npm start` allows) gets the same signed
// event, verified by `client.beta.webhooks.unwrap`.
import Anthropic from '@anthropic-ai/sdk';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startScriptedRuntime, turn } from '../support/scripted-runtime.ts';
import { suiteFixture } from '../support/suite-fixture.ts';
import { startWebhookReceiver } from '../support/webhook-receiver.ts';

describe('webhook deliveries across a runtime crash', () => {
  const receiver = suiteFixture(() => startWebhookReceiver(), (r) => r.close());
  // Retries 6 s apart at first: the crash and restart land between the failed attempt and the next.
  const e2e = suiteFixture(
    () => startScriptedRuntime('webhooks', { workerVars: { EDGEHARNESS_WEBHOOK_RETRY_BASE_MS: '6000', EDGEHARNESS_WEBHOOK_MAX_ATTEMPTS: '10' } }),
    (run) => run.stop(),
  );
  const admin = () => new Anthropic({ baseURL: e2e.runtime.url, apiKey: e2e.runtime.adminKey, maxRetries: 0 });

  /** SIGKILL to wrangler's process group (wrangler and workerd), as a power cut would; `restart` starts it again. */
  async function kill() {
    const pids = execFileSync('pgrep', ['-f', `persist-to ${path.join(e2e.stateDir, 'wrangler')}`], { encoding: 'utf8' }).trim().split('\n');
    const groups = new Set(pids.map((pid) => execFileSync('ps', ['-o', 'pgid=', '-p', pid], { encoding: 'utf8' }).trim()).filter(Boolean));
    for (const g of groups) process.kill(-Number(g), 'SIGKILL');
    const exit = await e2e.runtime.exited;
    expect(exit.ok).toBe(false);
  }

  async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 90_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = probe();
      if (got !== undefined) return got;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('loses no delivery when the runtime dies mid-retry', async () => {
    const ep = await admin().beta.organization.webhooks.create({ url: `${receiver.url}/hooks/flaky1-restart`, enabled_events: ['session.status_idled'] as any });
    const c = e2e.client;
    const agent = await c.beta.agents.create({ name: 'hooked', model: 'claude-sonnet-5-5' });
    const env = await c.beta.environments.create({ name: 'hooked' });
    const session = await c.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    await turn(c, session.id, 'hello');

    // The first attempt is answered 500, so the delivery stays queued for a retry.
    await until('the first attempt', () => (receiver.received.get('flaky1-restart')?.length ? true : undefined));
    await kill();
    // Killed mid-retry: the retry had not been sent yet.
    expect(receiver.received.get('flaky1-restart')).toHaveLength(1);
    await e2e.restart();
    const delivered = await until('the retry after the restart', () => receiver.received.get('flaky1-restart')?.find((r) => r.status === 200));

    const all = receiver.received.get('flaky1-restart')!;
    expect(all.map((r) => r.status)).toEqual([500, 200]);
    expect(all[1]!.headers['webhook-id']).toBe(all[0]!.headers['webhook-id']);
    const event = c.beta.webhooks.unwrap(delivered.body, { headers: delivered.headers, key: ep.signing_secret });
    expect(event.data).toMatchObject({ type: 'session.status_idled', id: session.id });
    expect(await admin().beta.organization.webhooks.retrieve(ep.id)).toMatchObject({ state: 'enabled', disabled_reason: '' });
  });
});
