// End to end: the official SDK, pointed at a real runtime (wrangler dev + Durable Objects + brain) backed by
// the scripted model, runs agents → environment → session → two turns → stream → list, and the state (files'
// bytes included) survives a restart.
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { startScriptedRuntime } from '../support/scripted-runtime.ts';
import { suiteFixture } from '../support/suite-fixture.ts';

describe('the official SDK against a running edgeharness', () => {
  const e2e = suiteFixture(() => startScriptedRuntime('e2e'), (run) => run.stop());

  let agentId: string;
  let environmentId: string;
  let sessionId: string;

  it('creates, retrieves, versions, lists and guards agents', async () => {
    const agent = await e2e.client.beta.agents.create({ name: 'e2e agent', model: 'claude-sonnet-5-5', system: 'You are the first prompt.' });
    agentId = agent.id;
    expect(agent).toMatchObject({ type: 'agent', version: 1, name: 'e2e agent', system: 'You are the first prompt.', model: { id: 'claude-sonnet-5-5' } });
    expect(await e2e.client.beta.agents.retrieve(agent.id)).toEqual(agent);

    const v2 = await e2e.client.beta.agents.update(agent.id, { version: 1, system: 'You are concise and kind.' });
    expect(v2.version).toBe(2);
    expect((await e2e.client.beta.agents.retrieve(agent.id, { version: 1 })).system).toBe('You are the first prompt.');

    const conflict = await e2e.client.beta.agents.update(agent.id, { version: 1, system: 'lost update' }).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(Anthropic.ConflictError);
    expect((conflict as InstanceType<typeof Anthropic.ConflictError>).status).toBe(409);

    const listed = [];
    for await (const a of e2e.client.beta.agents.list({ limit: 1 })) listed.push(a.id);
    expect(listed).toContain(agent.id);

    const versions = [];
    for await (const v of e2e.client.beta.agents.versions.list(agent.id)) versions.push(v.version);
    expect(versions).toEqual([2, 1]);
  });

  it('creates and retrieves an environment', async () => {
    const environment = await e2e.client.beta.environments.create({ name: 'e2e env', config: { type: 'cloud', networking: { type: 'unrestricted' } } });
    environmentId = environment.id;
    expect(await e2e.client.beta.environments.retrieve(environment.id)).toEqual(environment);
  });

  it('creates, retrieves and lists a session', async () => {
    const session = await e2e.client.beta.sessions.create({ agent: agentId, environment_id: environmentId, title: 'e2e' });
    sessionId = session.id;
    expect(session).toMatchObject({ type: 'session', status: 'idle', title: 'e2e', agent: { id: agentId, version: 2, system: 'You are concise and kind.' } });
    expect((await e2e.client.beta.sessions.retrieve(session.id)).id).toBe(session.id);
    const ids = [];
    for await (const s of e2e.client.beta.sessions.list()) ids.push(s.id);
    expect(ids).toContain(session.id);
  });

  it('streams a turn until idle with end_turn and shows the model’s text', async () => {
    const stream = await e2e.client.beta.sessions.events.stream(sessionId);
    await e2e.client.beta.sessions.events.send(sessionId, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'What is 6 * 7?' }] }] });
    const seen: string[] = [];
    let text = '';
    for await (const event of stream) {
      seen.push(event.type);
      if (event.type === 'agent.message') text = event.content.map((b) => ('text' in b ? b.text : '')).join('');
      if (event.type === 'session.status_idle') {
        expect(event.stop_reason.type).toBe('end_turn');
        break;
      }
    }
    expect(seen).toEqual(['user.message', 'session.status_running', 'span.model_request_start', 'agent.message', 'span.model_request_end', 'session.status_idle']);
    expect(text).toContain('42');
  });

  it('runs a second turn whose model request contains the first', async () => {
    const stream = await e2e.client.beta.sessions.events.stream(sessionId);
    await e2e.client.beta.sessions.events.send(sessionId, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'And what did I ask before?' }] }] });
    for await (const event of stream) if (event.type === 'session.status_idle') break;
    const last = e2e.model.model.requests.at(-1)!;
    const body = last.body as { system?: unknown; messages: Array<{ role: string; content: unknown }> };
    expect(body.system).toEqual([{ type: 'text', text: 'You are concise and kind.', cache_control: { type: 'ephemeral' } }]);
    const transcript = JSON.stringify(body.messages);
    expect(transcript).toContain('What is 6 * 7?');
    expect(body.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(transcript).toContain('And what did I ask before?');
  });

  it('lists all events in order, also page by page with limit=1', async () => {
    const all = [];
    for await (const e of e2e.client.beta.sessions.events.list(sessionId, { limit: 100 })) all.push(e);
    expect(all.map((e) => e.type)).toEqual([
      'user.message', 'session.status_running', 'span.model_request_start', 'agent.message', 'span.model_request_end', 'session.status_idle',
      'user.message', 'session.status_running', 'span.model_request_start', 'agent.message', 'span.model_request_end', 'session.status_idle',
    ]);
    const first = await e2e.client.beta.sessions.events.list(sessionId, { limit: 1 });
    expect(first.data).toHaveLength(1);
    expect(first.hasNextPage()).toBe(true);
    const paged = [];
    for await (const e of e2e.client.beta.sessions.events.list(sessionId, { limit: 1 })) paged.push(e.id);
    expect(paged).toEqual(all.map((e) => e.id));
    const session = await e2e.client.beta.sessions.retrieve(sessionId);
    expect(session.status).toBe('idle');
    expect(session.usage.output_tokens).toBeGreaterThan(0);
  });

  it('lets a browser-style client replay and follow the session over a WebSocket with a stream token', async () => {
    const all = [];
    for await (const e of e2e.client.beta.sessions.events.list(sessionId)) all.push(e);
    const minted = await fetch(`${e2e.runtime.url}/v1/sessions/${sessionId}/stream_tokens`, {
      method: 'POST',
      headers: { 'x-api-key': e2e.runtime.apiKey, 'content-type': 'application/json' },
      body: '{}',
    });
    const { token } = (await minted.json()) as { token: string };
    const wsUrl = `${e2e.runtime.url.replace(/^http/, 'ws')}/v1/sessions/${sessionId}/events/stream?after=${all[5]!.id}&token=${encodeURIComponent(token)}`;
    const ws = new WebSocket(wsUrl);
    const got: Array<{ id: string; type: string }> = [];
    const idle = new Promise<void>((resolve, reject) => {
      ws.addEventListener('message', (m: MessageEvent) => {
        got.push(JSON.parse(String(m.data)));
        if (got.filter((e) => e.type === 'session.status_idle').length === 2) resolve();
      });
      ws.addEventListener('error', () => reject(new Error('websocket error')));
    });
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve());
      ws.addEventListener('error', () => reject(new Error('websocket did not open')));
    });
    await e2e.client.beta.sessions.events.send(sessionId, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'third turn, live' }] }] });
    await idle;
    ws.close();
    const now = [];
    for await (const e of e2e.client.beta.sessions.events.list(sessionId)) now.push(e.id);
    expect(got.map((e) => e.id)).toEqual(now.slice(6));
  });

  it('stores a send once when its response is lost and the SDK retries it with the same Idempotency-Key', async () => {
    let lost = 0;
    // Delivers the request, then loses the first send's response, as a connection reset would.
    const lossyFetch: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (lost === 0 && init?.method === 'POST' && String(input).endsWith(`/v1/sessions/${sessionId}/events`)) {
        lost++;
        await res.body?.cancel();
        throw new TypeError('fetch failed: connection reset after the request was sent');
      }
      return res;
    };
    const retrying = new Anthropic({ baseURL: e2e.runtime.url, apiKey: e2e.runtime.apiKey, maxRetries: 2, fetch: lossyFetch });
    const stream = await e2e.client.beta.sessions.events.stream(sessionId);
    const sent = await retrying.beta.sessions.events.send(
      sessionId,
      { events: [{ type: 'user.message', content: [{ type: 'text', text: 'lost once, sent twice' }] }] },
      { headers: { 'Idempotency-Key': `e2e-lost-response-${Date.now()}` } },
    );
    expect(lost).toBe(1);
    const sentId = sent.data?.[0]?.id;
    expect(sentId).toMatch(/^sevt_/);
    for await (const event of stream) if (event.type === 'session.status_idle') break;
    const all = [];
    for await (const e of e2e.client.beta.sessions.events.list(sessionId)) all.push(e);
    const mine = all.filter((e) => e.type === 'user.message' && JSON.stringify(e.content).includes('lost once, sent twice'));
    expect(mine.map((e) => e.id)).toEqual([sentId]);
    // One turn answered it: the events after it are exactly one turn.
    const after = all.slice(all.findIndex((e) => e.id === sentId) + 1).map((e) => e.type);
    expect(after).toEqual(['session.status_running', 'span.model_request_start', 'agent.message', 'span.model_request_end', 'session.status_idle']);
  });

  it('covers the remaining endpoints: archive, update, delete', async () => {
    const env2 = await e2e.client.beta.environments.create({ name: 'scratch', metadata: { team: 'a' } });
    const updated = await e2e.client.beta.environments.update(env2.id, { description: 'renamed', metadata: { team: null, owner: 'b' } });
    expect(updated).toMatchObject({ description: 'renamed', metadata: { owner: 'b' } });
    const envIds = [];
    for await (const e of e2e.client.beta.environments.list()) envIds.push(e.id);
    expect(envIds).toEqual(expect.arrayContaining([environmentId, env2.id]));
    expect((await e2e.client.beta.environments.archive(env2.id)).archived_at).not.toBeNull();
    const blocked = await e2e.client.beta.sessions.create({ agent: agentId, environment_id: env2.id }).catch((e: unknown) => e);
    expect(blocked).toBeInstanceOf(Anthropic.BadRequestError);
    expect((blocked as InstanceType<typeof Anthropic.BadRequestError>).errorCode).toBe('environment_archived');
    expect(await e2e.client.beta.environments.delete(env2.id)).toEqual({ id: env2.id, type: 'environment_deleted' });
    expect(await e2e.client.beta.environments.retrieve(env2.id).catch((e: unknown) => e)).toBeInstanceOf(Anthropic.NotFoundError);

    const pinned = await e2e.client.beta.sessions.create({ agent: { type: 'agent', id: agentId, version: 1 }, environment_id: environmentId });
    expect(pinned.agent.version).toBe(1);
    expect(pinned.agent.system).toBe('You are the first prompt.');
    const renamed = await e2e.client.beta.sessions.update(pinned.id, { title: 'renamed', metadata: { k: 'v' } });
    expect(renamed).toMatchObject({ title: 'renamed', metadata: { k: 'v' } });
    expect((await e2e.client.beta.sessions.archive(pinned.id)).archived_at).not.toBeNull();
    expect(await e2e.client.beta.sessions.delete(pinned.id)).toEqual({ id: pinned.id, type: 'session_deleted' });
    expect(await e2e.client.beta.sessions.retrieve(pinned.id).catch((e: unknown) => e)).toBeInstanceOf(Anthropic.NotFoundError);

    const spare = await e2e.client.beta.agents.create({ name: 'spare', model: 'claude-sonnet-5-5' });
    expect((await e2e.client.beta.agents.archive(spare.id)).archived_at).not.toBeNull();
    const listed = [];
    for await (const a of e2e.client.beta.agents.list()) listed.push(a.id);
    expect(listed).not.toContain(spare.id);
    const withArchived = [];
    for await (const a of e2e.client.beta.agents.list({ include_archived: true })) withArchived.push(a.id);
    expect(withArchived).toContain(spare.id);
  });

  it('keeps every agent, session, event and file across a restart', async () => {
    const before = [];
    for await (const e of e2e.client.beta.sessions.events.list(sessionId)) before.push(e.id);
    // The files' bytes are in R2, which wrangler keeps in the same persist dir as the Durable Objects.
    const bytes = crypto.getRandomValues(new Uint8Array(65_536));
    const file = await e2e.client.beta.files.upload({ file: new File([bytes], 'kept.bin') });
    await e2e.runtime.stop();
    await e2e.restart();
    expect(await e2e.client.beta.files.retrieveMetadata(file.id)).toEqual(file);
    expect(Buffer.compare(new Uint8Array(await (await e2e.client.beta.files.download(file.id)).arrayBuffer()), bytes)).toBe(0);
    expect((await e2e.client.beta.agents.retrieve(agentId)).version).toBe(2);
    expect((await e2e.client.beta.sessions.retrieve(sessionId)).status).toBe('idle');
    const after = [];
    for await (const e of e2e.client.beta.sessions.events.list(sessionId)) after.push(e.id);
    expect(after).toEqual(before);
  });
});
