// Outbound webhooks through the official SDK (`client.beta.organization.webhooks`, admin key only): endpoints
// round-trip and show their signing secret once; bad input is a 400 naming the field and creates nothing. A session
// going idle reaches a subscribed endpoint (the test receiver, test/support/webhook-receiver.ts) as a
// `session.status_idled` event that `client.beta.webhooks.unwrap` verifies; an endpoint answering 500 is retried
// and then disabled with a reason; one that recovers gets the same event, and stays enabled.
import Anthropic, { BadRequestError, NotFoundError, PermissionDeniedError } from '@anthropic-ai/sdk';
import { SELF } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { KEY, makeSession, say, settle, call } from './api.ts';
import { resourceChange, webhookUrlProblem } from '../../contract/webhook.ts';

const BASE = 'http://edgeharness.test';
const ADMIN = 'test-admin-key';
const sdk = (apiKey = ADMIN) => new Anthropic({ apiKey, baseURL: BASE, maxRetries: 0, fetch: (input, init) => SELF.fetch(input, init) });
const receiver = () => inject('webhookReceiverUrl');
const unique = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

interface Received {
  headers: Record<string, string>;
  body: string;
  status: number;
}

async function received(name: string): Promise<Received[]> {
  return (await (await fetch(`${receiver()}/received/${name}`)).json()) as Received[];
}

/** Polls the receiver until `done` holds for what reached `name`. */
async function waitFor(name: string, done: (got: Received[]) => boolean, timeoutMs = 30_000): Promise<Received[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await received(name);
    if (done(got)) return got;
    if (Date.now() > deadline) throw new Error(`receiver ${name} got ${got.length} deliveries: ${JSON.stringify(got.map((g) => g.body))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ofSession = (sessionId: string, type: string) => (r: Received) => {
  const ev = JSON.parse(r.body);
  return ev.data.id === sessionId && ev.data.type === type;
};

describe('webhook endpoints', () => {
  it('creates (secret shown once), retrieves, updates, lists, regenerates the secret and deletes', async () => {
    const client = sdk();
    const created = await client.beta.organization.webhooks.create({
      url: 'https://example.com/hooks',
      name: 'ops',
      description: 'session news',
      enabled_events: ['session.status_idled', 'user_profile.program_status_updated'] as any,
    });
    expect(created).toMatchObject({
      url: 'https://example.com/hooks',
      name: 'ops',
      description: 'session news',
      enabled_events: ['session.status_idled', 'user_profile.program_status_updated'],
      state: 'enabled',
      disabled_reason: '',
    });
    expect(created.id).toMatch(/^whep_/);
    expect(created.signing_secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Date.parse(created.created_at)).not.toBeNaN();

    const got = await client.beta.organization.webhooks.retrieve(created.id);
    expect(got).not.toHaveProperty('signing_secret');
    const { signing_secret: _secret, ...shown } = created;
    expect(got).toEqual(shown);

    const off = await client.beta.organization.webhooks.update(created.id, { state: 'disabled', name: 'ops2', enabled_events: [] });
    expect(off).toMatchObject({ state: 'disabled', disabled_reason: '', name: 'ops2', description: 'session news', enabled_events: created.enabled_events });
    expect(off).not.toHaveProperty('signing_secret');
    const on = await client.beta.organization.webhooks.update(created.id, { state: 'enabled', enabled_events: ['session.outcome_evaluation_ended'] as any });
    expect(on).toMatchObject({ state: 'enabled', enabled_events: ['session.outcome_evaluation_ended'] });

    const second = await client.beta.organization.webhooks.create({ url: 'https://example.com/two', enabled_events: ['agent.created'] as any });
    expect(second).toMatchObject({ name: '', description: '' });
    const ids: string[] = [];
    for await (const w of client.beta.organization.webhooks.list({ limit: 1 })) ids.push(w.id);
    expect(ids.indexOf(second.id)).toBeGreaterThanOrEqual(0);
    // Newest first by default.
    expect(ids.indexOf(second.id)).toBeLessThan(ids.indexOf(created.id));
    const asc = await client.beta.organization.webhooks.list({ order: 'asc', limit: 100 });
    expect(asc.data.map((w) => w.id).indexOf(created.id)).toBeLessThan(asc.data.map((w) => w.id).indexOf(second.id));

    const fresh = await client.beta.organization.webhooks.regenerateSigningSecret(created.id);
    expect(fresh.signing_secret).toMatch(/^whsec_/);
    expect(fresh.signing_secret).not.toBe(created.signing_secret);

    expect(await client.beta.organization.webhooks.delete(created.id)).toEqual({ id: created.id, type: 'webhook_endpoint_deleted' });
    await expect(client.beta.organization.webhooks.retrieve(created.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.beta.organization.webhooks.delete(created.id)).rejects.toBeInstanceOf(NotFoundError);
    await client.beta.organization.webhooks.delete(second.id);
  });

  it('refuses bad input with a 400 naming the field, and creates nothing', async () => {
    const client = sdk();
    const before = (await client.beta.organization.webhooks.list({ limit: 100 })).data.length;
    const cases: [unknown, string][] = [
      [{ enabled_events: ['session.status_idled'] }, 'url'],
      [{ url: 'not a url', enabled_events: ['session.status_idled'] }, 'url'],
      [{ url: 'ftp://example.com/x', enabled_events: ['session.status_idled'] }, 'url'],
      [{ url: 'https://example.com/x', enabled_events: [] }, 'enabled_events'],
      [{ url: 'https://example.com/x', enabled_events: ['session.nope'] }, 'enabled_events'],
      [{ url: 'https://example.com/x', enabled_events: ['session.status_idled'], name: 7 }, 'name'],
      [{ url: 'https://example.com/x', enabled_events: ['session.status_idled'], colour: 'red' }, 'colour'],
    ];
    for (const [body, field] of cases) {
      const err = await client.beta.organization.webhooks.create(body as any).catch((e: unknown) => e);
      expect(err, JSON.stringify(body)).toBeInstanceOf(BadRequestError);
      expect((err as BadRequestError).error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
      expect((err as any).error.error.message, JSON.stringify(body)).toContain(field);
    }
    const ep = await client.beta.organization.webhooks.create({ url: 'https://example.com/x', enabled_events: ['session.status_idled'] as any });
    const bad = await client.beta.organization.webhooks.update(ep.id, { state: 'paused' as any }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(BadRequestError);
    expect((bad as any).error.error.message).toContain('state');
    expect(await client.beta.organization.webhooks.retrieve(ep.id)).toMatchObject({ state: 'enabled' });
    await client.beta.organization.webhooks.delete(ep.id);
    expect((await client.beta.organization.webhooks.list({ limit: 100 })).data.length).toBe(before);
  });

  it('takes the admin key only', async () => {
    await expect(sdk(KEY).beta.organization.webhooks.list()).rejects.toBeInstanceOf(PermissionDeniedError);
    expect((await call('GET', '/v1/organizations/webhooks', undefined, null)).status).toBe(401);
  });
});

describe('webhook deliveries', () => {
  it('delivers session.status_idled, signed so client.beta.webhooks.unwrap verifies it', async () => {
    const client = sdk();
    const name = unique('ok');
    const ep = await client.beta.organization.webhooks.create({
      url: `${receiver()}/hooks/${name}`,
      enabled_events: ['session.status_idled', 'session.status_run_started'] as any,
    });
    const { sessionId } = await makeSession();
    await say(sessionId, 'hello');
    await settle(sessionId);
    const got = await waitFor(name, (g) => g.some(ofSession(sessionId, 'session.status_idled')) && g.some(ofSession(sessionId, 'session.status_run_started')));
    const idled = got.find(ofSession(sessionId, 'session.status_idled'))!;
    const event = client.beta.webhooks.unwrap(idled.body, { headers: idled.headers, key: ep.signing_secret });
    expect(event).toMatchObject({ type: 'event', data: { type: 'session.status_idled', id: sessionId, workspace_id: 'wrkspc_default' } });
    expect(event.id).toMatch(/^wevt_/);
    expect(idled.headers['webhook-id']).toBe(event.id);
    expect(Date.parse(event.created_at)).not.toBeNaN();
    // Only the subscribed types arrive; a wrong key does not verify.
    for (const r of got) expect(['session.status_idled', 'session.status_run_started']).toContain(JSON.parse(r.body).data.type);
    const other = await client.beta.organization.webhooks.regenerateSigningSecret(ep.id);
    expect(() => client.beta.webhooks.unwrap(idled.body, { headers: idled.headers, key: other.signing_secret })).toThrow();
    await client.beta.organization.webhooks.delete(ep.id);
  });

  it('delivers session.outcome_evaluation_ended when a grader ends an evaluation', async () => {
    const client = sdk();
    const name = unique('outcome');
    const ep = await client.beta.organization.webhooks.create({ url: `${receiver()}/hooks/${name}`, enabled_events: ['session.outcome_evaluation_ended'] as any });
    const { sessionId } = await makeSession();
    const sent = await call('POST', `/v1/sessions/${sessionId}/events`, {
      events: [{ type: 'user.define_outcome', description: 'Say done. [[reply:done]]', rubric: { type: 'text', content: 'Says done. [[grade:satisfied]]' } }],
    });
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    await settle(sessionId);
    const got = await waitFor(name, (g) => g.some(ofSession(sessionId, 'session.outcome_evaluation_ended')));
    const event = client.beta.webhooks.unwrap(got[0]!.body, { headers: got[0]!.headers, key: ep.signing_secret });
    expect(event.data).toMatchObject({ type: 'session.outcome_evaluation_ended', id: sessionId });
    await client.beta.organization.webhooks.delete(ep.id);
  });

  it('retries an endpoint answering 500, then disables it with a reason', async () => {
    const client = sdk();
    const name = unique('fail');
    const ep = await client.beta.organization.webhooks.create({ url: `${receiver()}/hooks/${name}`, enabled_events: ['session.status_idled'] as any });
    const { sessionId } = await makeSession();
    await say(sessionId, 'hello');
    await settle(sessionId);
    // EDGEHARNESS_WEBHOOK_MAX_ATTEMPTS is 3 in the tests (vitest.config.ts).
    const got = await waitFor(name, (g) => g.filter(ofSession(sessionId, 'session.status_idled')).length >= 3);
    const ids = new Set(got.map((g) => g.headers['webhook-id']));
    expect(ids.size).toBe(1);
    let after = await client.beta.organization.webhooks.retrieve(ep.id);
    for (const deadline = Date.now() + 10_000; after.state !== 'disabled' && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 50));
      after = await client.beta.organization.webhooks.retrieve(ep.id);
    }
    expect(after.state).toBe('disabled');
    expect(after.disabled_reason).toContain('3 failed delivery attempts');
    expect(after.disabled_reason).toContain('HTTP 500');
    expect(got.length).toBe(3);

    // Events while disabled are never delivered; enabling clears the reason.
    const { sessionId: later } = await makeSession();
    await say(later, 'hello again');
    await settle(later);
    const on = await client.beta.organization.webhooks.update(ep.id, { state: 'enabled' });
    expect(on.disabled_reason).toBe('');
    expect((await received(name)).some(ofSession(later, 'session.status_idled'))).toBe(false);
    await client.beta.organization.webhooks.delete(ep.id);
  });

  it('keeps retrying an endpoint that recovers: the same event arrives, and it stays enabled', async () => {
    const client = sdk();
    const name = unique('flaky2');
    const ep = await client.beta.organization.webhooks.create({ url: `${receiver()}/hooks/${name}`, enabled_events: ['session.status_idled'] as any });
    const { sessionId } = await makeSession();
    await say(sessionId, 'hello');
    await settle(sessionId);
    const got = await waitFor(name, (g) => g.some((r) => r.status === 200));
    expect(got.map((g) => g.status)).toEqual([500, 500, 200]);
    expect(new Set(got.map((g) => g.body)).size).toBe(1);
    const event = client.beta.webhooks.unwrap(got[2]!.body, { headers: got[2]!.headers, key: ep.signing_secret });
    expect(event.data).toMatchObject({ type: 'session.status_idled', id: sessionId });
    expect(await client.beta.organization.webhooks.retrieve(ep.id)).toMatchObject({ state: 'enabled', disabled_reason: '' });
    await client.beta.organization.webhooks.delete(ep.id);
  });
});

describe('resource events', () => {
  it('raises agent, environment, vault, credential and session events for the changes made through the API, once per change', async () => {
    const client = sdk();
    const name = unique('resources');
    const ep = await client.beta.organization.webhooks.create({
      url: `${receiver()}/hooks/${name}`,
      enabled_events: ['agent.created', 'agent.updated', 'agent.archived', 'environment.created', 'environment.deleted', 'vault.created', 'vault_credential.created', 'session.created', 'session.deleted'] as any,
    });
    const headers = { 'idempotency-key': unique('idem') };
    const agent = await call('POST', '/v1/agents', { name: 'hooked', model: 'claude-sonnet-5-5' }, KEY, headers);
    // The same request again is a replay: the same agent, and no second event.
    const replay = await call('POST', '/v1/agents', { name: 'hooked', model: 'claude-sonnet-5-5' }, KEY, headers);
    expect(replay.body.id).toBe(agent.body.id);
    await call('POST', `/v1/agents/${agent.body.id}`, { version: agent.body.version, name: 'hooked2' });
    await call('POST', `/v1/agents/${agent.body.id}/archive`);
    const env = await call('POST', '/v1/environments', { name: 'hooked' });
    const vault = await call('POST', '/v1/vaults', { display_name: 'hooked' });
    expect(vault.status, JSON.stringify(vault.body)).toBe(200);
    const { sessionId } = await makeSession();
    expect((await call('DELETE', `/v1/sessions/${sessionId}`)).status).toBe(200);
    expect((await call('DELETE', `/v1/environments/${env.body.id}`)).status).toBe(200);
    // A refused change raises nothing.
    expect((await call('POST', '/v1/agents', { name: 'no model' })).status).toBe(400);

    const want = [
      ['agent.created', agent.body.id],
      ['agent.updated', agent.body.id],
      ['agent.archived', agent.body.id],
      ['environment.created', env.body.id],
      ['vault.created', vault.body.id],
      ['session.created', sessionId],
      ['session.deleted', sessionId],
      ['environment.deleted', env.body.id],
    ];
    const got = await waitFor(name, (g) => want.every(([t, id]) => g.some((r) => JSON.parse(r.body).data.type === t && JSON.parse(r.body).data.id === id)));
    const events = got.map((r) => client.beta.webhooks.unwrap(r.body, { headers: r.headers, key: ep.signing_secret }));
    expect(events.filter((e) => e.data.type === 'agent.created' && e.data.id === agent.body.id)).toHaveLength(1);
    for (const e of events) expect(e.data).toMatchObject({ workspace_id: 'wrkspc_default' });
    await client.beta.organization.webhooks.delete(ep.id);
  });
});

describe('deployment events', () => {
  it('raises deployment.created, paused and unpaused, and deployment_run.started then succeeded for a run, or failed for one that could not start', async () => {
    const admin = sdk();
    const name = unique('deployments');
    const ep = await admin.beta.organization.webhooks.create({
      url: `${receiver()}/hooks/${name}`,
      enabled_events: ['deployment.created', 'deployment.paused', 'deployment.unpaused', 'deployment_run.started', 'deployment_run.succeeded', 'deployment_run.failed'] as any,
    });
    const client = new Anthropic({ apiKey: KEY, baseURL: BASE, maxRetries: 0, fetch: (input, init) => SELF.fetch(input, init) });
    const agent = await client.beta.agents.create({ name: 'deployed', model: 'claude-sonnet-5-5' });
    const environment = await client.beta.environments.create({ name: unique('env') });
    const d = await client.beta.deployments.create({
      agent: agent.id,
      environment_id: environment.id,
      name: 'hooked',
      initial_events: [{ type: 'user.message', content: [{ type: 'text', text: 'hello' }] }],
    } as any);
    await client.beta.deployments.pause(d.id);
    await client.beta.deployments.unpause(d.id);
    const ok = await client.beta.deployments.run(d.id);
    expect(ok.session_id).toBeTruthy();
    // the environment archived: the next run records an error instead of a session
    await client.beta.environments.archive(environment.id);
    const failed = await client.beta.deployments.run(d.id);
    expect(failed.error).not.toBeNull();

    const want: Array<[string, string]> = [
      ['deployment.created', d.id],
      ['deployment.paused', d.id],
      ['deployment.unpaused', d.id],
      ['deployment_run.started', ok.id],
      ['deployment_run.succeeded', ok.id],
      ['deployment_run.started', failed.id],
      ['deployment_run.failed', failed.id],
    ];
    const got = await waitFor(name, (g) => want.every(([t, id]) => g.some((r) => JSON.parse(r.body).data.type === t && JSON.parse(r.body).data.id === id)));
    const events = got.map((r) => client.beta.webhooks.unwrap(r.body, { headers: r.headers, key: ep.signing_secret }));
    const of = (id: string) => events.filter((e) => e.data.id === id).map((e) => e.data.type);
    expect(of(ok.id)).toEqual(['deployment_run.started', 'deployment_run.succeeded']);
    expect(of(failed.id)).toEqual(['deployment_run.started', 'deployment_run.failed']);
    for (const e of events) expect(e.data).toMatchObject({ workspace_id: 'wrkspc_default' });
    await admin.beta.organization.webhooks.delete(ep.id);
  });
});

describe('which API calls raise which events', () => {
  it('maps creates, updates, archives, deletes (and a deployment\'s pause and unpause) to the SDK\'s event types', () => {
    expect(resourceChange('POST', '/v1/agents')).toEqual({ type: 'agent.created' });
    expect(resourceChange('POST', '/v1/agents/agent_1')).toEqual({ type: 'agent.updated', id: 'agent_1' });
    expect(resourceChange('POST', '/v1/agents/agent_1/archive')).toEqual({ type: 'agent.archived', id: 'agent_1' });
    expect(resourceChange('DELETE', '/v1/environments/env_1')).toEqual({ type: 'environment.deleted', id: 'env_1' });
    expect(resourceChange('POST', '/v1/vaults/vlt_1/credentials')).toEqual({ type: 'vault_credential.created', vault_id: 'vlt_1' });
    expect(resourceChange('DELETE', '/v1/vaults/vlt_1/credentials/vcrd_1')).toEqual({ type: 'vault_credential.deleted', id: 'vcrd_1', vault_id: 'vlt_1' });
    expect(resourceChange('POST', '/v1/deployments/dep_1/pause')).toEqual({ type: 'deployment.paused', id: 'dep_1' });
    expect(resourceChange('POST', '/v1/deployments/dep_1/unpause')).toEqual({ type: 'deployment.unpaused', id: 'dep_1' });
    // Not an event the SDK lists, or not a change.
    expect(resourceChange('POST', '/v1/vaults/vlt_1')).toBeNull();
    expect(resourceChange('POST', '/v1/memory_stores/ms_1')).toBeNull();
    expect(resourceChange('POST', '/v1/sessions/sesn_1/events')).toBeNull();
    expect(resourceChange('POST', '/v1/agents/agent_1/pause')).toBeNull();
    expect(resourceChange('GET', '/v1/agents/agent_1')).toBeNull();
    expect(resourceChange('POST', '/v1/organizations/webhooks')).toBeNull();
  });
});

describe('where deliveries may go', () => {
  it('refuses http, loopback and private addresses when deployed, and allows them with EDGEHARNESS_WEBHOOK_ALLOW_PRIVATE', () => {
    const refused = [
      'http://example.com/hook',
      'https://localhost/hook',
      'https://127.0.0.1/hook',
      'https://10.1.2.3/hook',
      'https://172.16.0.9/hook',
      'https://192.168.1.1/hook',
      'https://169.254.169.254/latest',
      'https://100.64.0.1/hook',
      'https://0.0.0.0/hook',
      'https://[::1]/hook',
      'https://[fd00::1]/hook',
      'https://[fe80::1]/hook',
      'https://[::ffff:127.0.0.1]/hook',
      'https://printer.local/hook',
      'https://user:pw@example.com/hook',
    ];
    for (const url of refused) expect(webhookUrlProblem(url, false), url).not.toBeNull();
    for (const url of ['https://example.com/hook', 'https://8.8.8.8/x', 'https://[2606:4700::1111]/x']) expect(webhookUrlProblem(url, false), url).toBeNull();
    for (const url of ['http://127.0.0.1:8080/hook', 'http://localhost/hook', 'https://10.0.0.2/x']) expect(webhookUrlProblem(url, true), url).toBeNull();
    expect(webhookUrlProblem('ftp://example.com/x', true)).not.toBeNull();
  });
});
