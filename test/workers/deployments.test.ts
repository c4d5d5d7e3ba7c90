// Deployments through the official SDK: CRUD, pause/unpause, `run` now with a session seeded with the initial
// events, runs listed with their sessions; the schedule fired through its Durable Object alarm on a chosen clock
// (the scheduler's `fire(now)`), a failed scheduled run auto-pausing with the documented paused_reason, and a
// long outage running once. The inbound webhook trigger: a signed delivery → 202 and a run whose session carries
// the payload, the same delivery again → the same run, forged, hour-old and unsigned → 401 and no run.
import Anthropic, { BadRequestError, NotFoundError } from '@anthropic-ai/sdk';
import { env, runInDurableObject, SELF } from 'cloudflare:test';
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { beforeAll, describe, expect, it } from 'vitest';
import { allEvents, call, registerKey } from './api.ts';
import type { DeploymentScheduler } from '../../durable-objects/deployment-scheduler.ts';

const BASE = 'http://edgeharness.test';
const KEY = 'test-key-deployments';
const WS = 'wrkspc_deployments';
const OTHER_KEY = 'test-key-deployments-other';
const sdk = (apiKey = KEY) => new Anthropic({ apiKey, baseURL: BASE, maxRetries: 0, fetch: (input, init) => SELF.fetch(input, init) });

beforeAll(async () => {
  await registerKey(KEY, WS);
  await registerKey(OTHER_KEY, 'wrkspc_deployments_other');
});

const MESSAGE = { type: 'user.message' as const, content: [{ type: 'text' as const, text: 'Where is my order #1234?' }] };

async function basics() {
  const client = sdk();
  const agent = await client.beta.agents.create({ name: 'deployed', model: 'claude-sonnet-5-5' });
  const environment = await client.beta.environments.create({ name: 'env' });
  return { client, agent, environment };
}

function scheduler(deploymentId: string) {
  return env.DEPLOYMENT_SCHEDULER.get(env.DEPLOYMENT_SCHEDULER.idFromName(`${WS}/${deploymentId}`));
}

/** The scheduler's alarm as if the clock read `now`; answers when it is set to go off next. */
async function fireAt(deploymentId: string, now: number): Promise<number | null> {
  return runInDurableObject(scheduler(deploymentId), async (instance: DeploymentScheduler, state) => {
    await instance.fire(now);
    return state.storage.getAlarm();
  });
}

async function runsOf(deploymentId: string) {
  return (await sdk().beta.deploymentRuns.list({ deployment_id: deploymentId, limit: 100 })).data;
}

describe('deployments', () => {
  it('creates, retrieves, updates, lists, pauses, unpauses and archives', async () => {
    const { client, agent, environment } = await basics();
    const d = await client.beta.deployments.create({
      agent: agent.id,
      environment_id: environment.id,
      initial_events: [MESSAGE],
      name: 'support',
      description: 'answers orders',
      metadata: { team: 'a' },
      schedule: { type: 'cron', expression: '0 9 * * 1-5', timezone: 'America/Los_Angeles' },
    });
    expect(d).toMatchObject({
      type: 'deployment',
      agent: { type: 'agent', id: agent.id, version: agent.version },
      environment_id: environment.id,
      initial_events: [MESSAGE],
      name: 'support',
      description: 'answers orders',
      metadata: { team: 'a' },
      status: 'active',
      paused_reason: null,
      archived_at: null,
      vault_ids: [],
      resources: [],
      schedule: { type: 'cron', expression: '0 9 * * 1-5', timezone: 'America/Los_Angeles', last_run_at: null },
    });
    expect(d.id).toMatch(/^depl_/);
    expect(d.schedule!.upcoming_runs_at).toHaveLength(5);
    for (const t of d.schedule!.upcoming_runs_at!) expect(Date.parse(t)).toBeGreaterThan(Date.now() - 1000);
    expect(await client.beta.deployments.retrieve(d.id)).toEqual(d);
    // The alarm is set for the first listed fire plus a jitter under 10 s.
    const alarm = await runInDurableObject(scheduler(d.id), (_i, state) => state.storage.getAlarm());
    const first = Date.parse(d.schedule!.upcoming_runs_at![0]!);
    expect(alarm! - first).toBeGreaterThanOrEqual(0);
    expect(alarm! - first).toBeLessThan(10_000);

    const updated = await client.beta.deployments.update(d.id, { name: 'support-2', metadata: { team: null, x: 'y' }, description: '' });
    expect(updated).toMatchObject({ name: 'support-2', metadata: { x: 'y' }, description: null });

    const paused = await client.beta.deployments.pause(d.id);
    expect(paused).toMatchObject({ status: 'paused', paused_reason: { type: 'manual' } });
    // deployments.d.ts: upcoming_runs_at stays non-empty while paused ("what the schedule would do if unpaused"); the alarm is cleared.
    expect(paused.schedule!.upcoming_runs_at).toHaveLength(5);
    expect(await runInDurableObject(scheduler(d.id), (_i, state) => state.storage.getAlarm())).toBeNull();
    expect((await client.beta.deployments.list({ status: 'paused', limit: 100 })).data.map((x) => x.id)).toContain(d.id);
    expect((await client.beta.deployments.list({ status: 'active', limit: 100 })).data.map((x) => x.id)).not.toContain(d.id);

    const unpaused = await client.beta.deployments.unpause(d.id);
    expect(unpaused).toMatchObject({ status: 'active', paused_reason: null });
    expect(await runInDurableObject(scheduler(d.id), (_i, state) => state.storage.getAlarm())).not.toBeNull();

    const archived = await client.beta.deployments.archive(d.id);
    expect(archived.archived_at).not.toBeNull();
    expect(archived.status).toBe('active');
    expect(archived.schedule!.upcoming_runs_at).toEqual([]);
    expect(await runInDurableObject(scheduler(d.id), (_i, state) => state.storage.getAlarm())).toBeNull();
    expect((await client.beta.deployments.list({ limit: 100 })).data.map((x) => x.id)).not.toContain(d.id);
    expect((await client.beta.deployments.list({ limit: 100, include_archived: true })).data.map((x) => x.id)).toContain(d.id);

    // Another workspace does not see it.
    await expect(sdk(OTHER_KEY).beta.deployments.retrieve(d.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('update replaces the schedule (null clears it and its alarm) and enabling the webhook trigger shows its secret once', async () => {
    const { client, agent, environment } = await basics();
    const d = await client.beta.deployments.create({ agent: agent.id, environment_id: environment.id, initial_events: [MESSAGE], name: 'later' });
    expect(d.schedule).toBeNull();
    const scheduled = await client.beta.deployments.update(d.id, { schedule: { type: 'cron', expression: '30 6 * * *', timezone: 'Asia/Tokyo' } });
    expect(scheduled.schedule).toMatchObject({ expression: '30 6 * * *', timezone: 'Asia/Tokyo', last_run_at: null });
    // 06:30 in Tokyo is 21:30 UTC the day before.
    for (const t of scheduled.schedule!.upcoming_runs_at!) expect(t).toMatch(/T21:30:00\.000Z$/);
    expect(await runInDurableObject(scheduler(d.id), (_i, state) => state.storage.getAlarm())).not.toBeNull();
    const cleared = await client.beta.deployments.update(d.id, { schedule: null });
    expect(cleared.schedule).toBeNull();
    expect(await runInDurableObject(scheduler(d.id), (_i, state) => state.storage.getAlarm())).toBeNull();

    const hooked: any = await client.beta.deployments.update(d.id, { webhook_trigger: { enabled: true } } as any);
    expect(hooked.webhook_trigger.signing_secret).toMatch(/^whsec_/);
    const again: any = await client.beta.deployments.update(d.id, { name: 'later-2' });
    expect(again.webhook_trigger).toEqual({ enabled: true, url: hooked.webhook_trigger.url });
  });

  it('refuses bad input with a 400 naming the field, and stores nothing', async () => {
    const { client, agent, environment } = await basics();
    const base = { agent: agent.id, environment_id: environment.id, initial_events: [MESSAGE], name: 'bad' };
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ schedule: { type: 'cron', expression: '0 9 * *', timezone: 'UTC' } }, /schedule\.expression/],
      [{ schedule: { type: 'cron', expression: '0 9 * * *', timezone: 'Mars/Olympus' } }, /schedule\.timezone/],
      [{ initial_events: [] }, /initial_events/],
      [{ agent: 'agent_missing' }, /^agent:/],
      [{ environment_id: 'env_missing' }, /^environment_id:/],
      [{ vault_ids: ['vlt_missing'] }, /vault_ids\[0\]/],
    ];
    const before = (await client.beta.deployments.list({ limit: 100 })).data.length;
    for (const [patch, message] of cases) {
      const err = await client.beta.deployments.create({ ...base, ...patch } as any).catch((e: unknown) => e);
      expect(err, JSON.stringify(patch)).toBeInstanceOf(BadRequestError);
      expect((err as BadRequestError & { error: any }).error.error.message).toMatch(message);
    }
    expect((await client.beta.deployments.list({ limit: 100 })).data.length).toBe(before);
  });

  it('run starts a session now, seeded with the initial events, listed with its session', async () => {
    const { client, agent, environment } = await basics();
    const system = { type: 'system.message' as const, content: [{ type: 'text' as const, text: 'Be brief.' }] };
    const d = await client.beta.deployments.create({ agent: agent.id, environment_id: environment.id, initial_events: [system, MESSAGE], name: 'now' });
    expect(d.schedule).toBeNull();
    const run = await client.beta.deployments.run(d.id);
    expect(run).toMatchObject({ type: 'deployment_run', deployment_id: d.id, error: null, trigger_context: { type: 'manual' }, agent: d.agent });
    expect(run.id).toMatch(/^drun_/);
    const events = await allEvents(run.session_id!, KEY);
    expect(events.slice(0, 2).map((e) => e.type)).toEqual(['system.message', 'user.message']);
    expect(events[1].content).toEqual(MESSAGE.content);
    expect(await client.beta.deploymentRuns.retrieve(run.id)).toEqual(run);
    expect(await runsOf(d.id)).toEqual([run]);
    // Manual runs do not set last_run_at, and are allowed while paused.
    await client.beta.deployments.pause(d.id);
    const second = await client.beta.deployments.run(d.id);
    expect(second.session_id).not.toBeNull();
    expect((await runsOf(d.id)).map((r) => r.id)).toEqual([second.id, run.id]);
  });

  it('fires on schedule from its alarm, once for a long outage, and pause stops it', async () => {
    const { client, agent, environment } = await basics();
    const d = await client.beta.deployments.create({
      agent: agent.id,
      environment_id: environment.id,
      initial_events: [MESSAGE],
      name: 'hourly',
      // Hourly, so the real clock never reaches the alarm while the test drives it.
      schedule: { type: 'cron', expression: '0 * * * *', timezone: 'Europe/Berlin' },
    });
    const first = Date.parse(d.schedule!.upcoming_runs_at![0]!);
    // Before the fire (plus jitter) is due nothing runs.
    expect(await fireAt(d.id, first - 1)).not.toBeNull();
    expect(await runsOf(d.id)).toEqual([]);

    const next = await fireAt(d.id, first + 10_000);
    const runs = await runsOf(d.id);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ error: null, trigger_context: { type: 'schedule', scheduled_at: new Date(first).toISOString() } });
    expect((await allEvents(runs[0]!.session_id!, KEY))[0]).toMatchObject({ type: 'user.message', content: MESSAGE.content });
    expect(next).toBeGreaterThan(first + 10_000);
    const after = await client.beta.deployments.retrieve(d.id);
    expect(after.schedule!.last_run_at).toBe(runs[0]!.created_at);

    // The same alarm again (a retry) starts nothing new.
    await fireAt(d.id, first + 10_000);
    expect(await runsOf(d.id)).toHaveLength(1);

    // Down for five hours: one run on return, not one per missed fire; the next alarm is after the return.
    const back = first + 5 * 3_600_000 + 60_000;
    const nextAfterOutage = await fireAt(d.id, back);
    expect(await runsOf(d.id)).toHaveLength(2);
    expect(nextAfterOutage).toBeGreaterThan(back);

    // Paused: the alarm is cleared and a fire does nothing; unpause resumes.
    await client.beta.deployments.pause(d.id);
    expect(await fireAt(d.id, back + 3_600_000)).toBeNull();
    expect(await runsOf(d.id)).toHaveLength(2);
    // (The schedule resumes from the real clock, so its alarm is checked rather than fired: this test's clock ran ahead.)
    const resumed = await client.beta.deployments.unpause(d.id);
    const alarm = await runInDurableObject(scheduler(d.id), (_i, state) => state.storage.getAlarm());
    expect(alarm! - Date.parse(resumed.schedule!.upcoming_runs_at![0]!)).toBeGreaterThanOrEqual(0);
    expect(alarm! - Date.parse(resumed.schedule!.upcoming_runs_at![0]!)).toBeLessThan(10_000);
  });

  it('a failing scheduled run is recorded with its error and auto-pauses the deployment', async () => {
    const { client, agent, environment } = await basics();
    const d = await client.beta.deployments.create({
      agent: agent.id,
      environment_id: environment.id,
      initial_events: [MESSAGE],
      name: 'doomed',
      schedule: { type: 'cron', expression: '0 * * * *', timezone: 'UTC' },
    });
    await client.beta.environments.archive(environment.id);
    const first = Date.parse(d.schedule!.upcoming_runs_at![0]!);
    expect(await fireAt(d.id, first + 10_000)).toBeNull();
    const [run] = await runsOf(d.id);
    expect(run).toMatchObject({ session_id: null, error: { type: 'environment_archived_error' }, trigger_context: { type: 'schedule' } });
    expect((await client.beta.deploymentRuns.list({ deployment_id: d.id, has_error: true })).data).toHaveLength(1);
    expect((await client.beta.deploymentRuns.list({ deployment_id: d.id, has_error: false })).data).toHaveLength(0);
    const paused = await client.beta.deployments.retrieve(d.id);
    expect(paused).toMatchObject({ status: 'paused', paused_reason: { type: 'error', error: { type: 'environment_archived_error' } } });
    expect(paused.schedule!.last_run_at).toBeNull();
  });
});

describe('deployment webhook trigger (extension)', () => {
  async function hooked() {
    const { client, agent, environment } = await basics();
    const d: any = await client.beta.deployments.create({
      agent: agent.id,
      environment_id: environment.id,
      initial_events: [MESSAGE],
      name: 'hooked',
      webhook_trigger: { enabled: true },
    } as any);
    return { client, d };
  }

  function signed(secret: string, body: string, id: string, at = new Date()): Record<string, string> {
    return {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign(id, at, body),
    };
  }

  async function post(url: string, body: string, headers: Record<string, string>) {
    const res = await SELF.fetch(url, { method: 'POST', body, headers });
    return { status: res.status, body: (await res.json()) as any };
  }

  it('shows the url and the secret on create only, and regenerates the secret', async () => {
    const { client, d } = await hooked();
    expect(d.webhook_trigger).toEqual({ enabled: true, url: `${BASE}/hooks/workspaces/${WS}/deployments/${d.id}`, signing_secret: expect.stringMatching(/^whsec_/) });
    const got: any = await client.beta.deployments.retrieve(d.id);
    expect(got.webhook_trigger).toEqual({ enabled: true, url: d.webhook_trigger.url });
    const r = await call('POST', `/v1/deployments/${d.id}/webhook_trigger/regenerate_secret`, undefined, KEY);
    expect(r.status).toBe(200);
    expect(r.body.webhook_trigger.signing_secret).toMatch(/^whsec_/);
    expect(r.body.webhook_trigger.signing_secret).not.toBe(d.webhook_trigger.signing_secret);
    // The old secret no longer verifies.
    const body = JSON.stringify({ n: 1 });
    expect((await post(d.webhook_trigger.url, body, signed(d.webhook_trigger.signing_secret, body, 'msg_old'))).status).toBe(401);
    expect((await post(d.webhook_trigger.url, body, signed(r.body.webhook_trigger.signing_secret, body, 'msg_new'))).status).toBe(202);
  });

  it('renders the payload through the trigger\'s message_template, kept on update unless named, and refuses an unknown placeholder', async () => {
    const { client, agent, environment } = await basics();
    const d: any = await client.beta.deployments.create({
      agent: agent.id,
      environment_id: environment.id,
      initial_events: [MESSAGE],
      name: 'templated',
      webhook_trigger: { enabled: true, message_template: 'Order {{payload.order.id}} is {{ payload.status }} ({{payload.missing}}); raw: {{payload}}' },
    } as any);
    expect(d.webhook_trigger.message_template).toContain('{{payload.order.id}}');
    const body = JSON.stringify({ order: { id: 7 }, status: 'late' });
    const r = await post(d.webhook_trigger.url, body, signed(d.webhook_trigger.signing_secret, body, 'msg_tpl'));
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const events = await allEvents(r.body.session_id, KEY);
    expect(events[1].content).toEqual([{ type: 'text', text: `Order 7 is late (); raw: ${body}` }]);

    // an update that does not name the template keeps it; null removes it
    const kept: any = await client.beta.deployments.update(d.id, { webhook_trigger: { enabled: true } } as any);
    expect(kept.webhook_trigger.message_template).toBe(d.webhook_trigger.message_template);
    const cleared: any = await client.beta.deployments.update(d.id, { webhook_trigger: { enabled: true, message_template: null } } as any);
    expect(cleared.webhook_trigger).not.toHaveProperty('message_template');

    const bad = await call('POST', `/v1/deployments/${d.id}`, { webhook_trigger: { enabled: true, message_template: 'Hi {{body}}' } }, KEY);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/webhook_trigger\.message_template/);
    expect(bad.body.error.message).toMatch(/\{\{body\}\}/);
    expect((await client.beta.deployments.retrieve(d.id) as any).webhook_trigger).not.toHaveProperty('message_template');
  });

  it('a signed delivery → 202 and a run whose session carries the payload; redelivery → the same run', async () => {
    const { d } = await hooked();
    const secret = d.webhook_trigger.signing_secret;
    const body = JSON.stringify({ order: 1234, status: 'late' });
    const first = await post(d.webhook_trigger.url, body, signed(secret, body, 'msg_1'));
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    expect(first.body).toMatchObject({ type: 'deployment_run', deployment_id: d.id, error: null, trigger_context: { type: 'webhook' } });
    const events = await allEvents(first.body.session_id, KEY);
    expect(events.slice(0, 2).map((e) => e.type)).toEqual(['user.message', 'user.message']);
    expect(events[0].content).toEqual(MESSAGE.content);
    expect(events[1].content).toEqual([{ type: 'text', text: body }]);

    const again = await post(d.webhook_trigger.url, body, signed(secret, body, 'msg_1'));
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    expect(await runsOf(d.id)).toHaveLength(1);

    // Paused: a new delivery is refused and creates nothing; a redelivery still answers its run.
    await sdk().beta.deployments.pause(d.id);
    const body2 = JSON.stringify({ order: 5 });
    expect((await post(d.webhook_trigger.url, body2, signed(secret, body2, 'msg_2'))).status).toBe(409);
    expect((await post(d.webhook_trigger.url, body, signed(secret, body, 'msg_1'))).body).toEqual(first.body);
    await sdk().beta.deployments.unpause(d.id);

    // GitHub's signature works too.
    const gh = { 'content-type': 'application/json', 'x-github-delivery': 'gh-1', 'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}` };
    expect((await post(d.webhook_trigger.url, body, gh)).status).toBe(202);
    expect(await runsOf(d.id)).toHaveLength(2);
  });

  it('forged, hour-old and unsigned deliveries → 401 and no run; other content types and oversized bodies are refused', async () => {
    const { d } = await hooked();
    const secret = d.webhook_trigger.signing_secret;
    const body = JSON.stringify({ evil: true });
    const forged = signed('whsec_' + btoa('x'.repeat(32)), body, 'msg_forged');
    const old = signed(secret, body, 'msg_old', new Date(Date.now() - 3_600_000));
    const tampered = { ...signed(secret, body, 'msg_t') };
    for (const headers of [forged, old, { 'content-type': 'application/json' }, { 'content-type': 'application/json', 'x-hub-signature-256': 'sha256=' + '0'.repeat(64) }]) {
      const r = await post(d.webhook_trigger.url, body, headers);
      expect(r.status, JSON.stringify(headers)).toBe(401);
      expect(r.body.error.type).toBe('authentication_error');
    }
    expect((await post(d.webhook_trigger.url, body + ' ', tampered)).status).toBe(401);
    expect((await post(d.webhook_trigger.url, body, { ...signed(secret, body, 'msg_ct'), 'content-type': 'application/octet-stream' })).status).toBe(400);
    const big = JSON.stringify({ pad: 'x'.repeat(1_000_001) });
    expect((await post(d.webhook_trigger.url, big, signed(secret, big, 'msg_big'))).status).toBe(413);
    expect(await runsOf(d.id)).toEqual([]);
    // A deployment without the trigger has no URL to post to.
    const { client, agent, environment } = await basics();
    const plain = await client.beta.deployments.create({ agent: agent.id, environment_id: environment.id, initial_events: [MESSAGE], name: 'plain' });
    expect((await post(`${BASE}/hooks/workspaces/${WS}/deployments/${plain.id}`, body, signed(secret, body, 'msg_p'))).status).toBe(404);
  });
});
