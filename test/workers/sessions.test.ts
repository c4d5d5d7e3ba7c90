// Session updates keep what they leave out: the title is stored as given (an empty one too) and cleared by null,
// metadata is patched (a string upserts, null deletes), and a budget set to null is removed; the SDK's rules for
// changing a budget and an agent mid-session hold.
import { describe, expect, it } from 'vitest';
import { call, makeSession, say, settle, updated, type Reply } from './api.ts';

const update = (id: string, body: unknown) => updated(`/v1/sessions/${id}`, body);

describe('session update: omit, null and empty', () => {
  it('stores an empty title as an empty string, as create does; null clears it; omitted keeps it', async () => {
    const { agentId, environmentId } = await makeSession();
    const created = await call('POST', '/v1/sessions', { agent: agentId, environment_id: environmentId, title: '' });
    expect(created.body.title).toBe('');
    const id = created.body.id as string;
    expect((await update(id, { title: 'named' })).title).toBe('named');
    expect((await update(id, { metadata: { k: 'v' } })).title).toBe('named');
    expect((await update(id, { title: '' })).title).toBe('');
    expect((await update(id, { title: null })).title).toBeNull();
  });

  it('patches metadata: a string upserts (an empty one too), null deletes, a key left out is kept', async () => {
    const { agentId, environmentId } = await makeSession();
    const created = await call('POST', '/v1/sessions', { agent: agentId, environment_id: environmentId, metadata: { a: '1', b: '2', c: '3' } });
    expect((await update(created.body.id, { metadata: { a: null, b: '', d: '4' } })).metadata).toEqual({ b: '', c: '3', d: '4' });
  });

  it('removes the budget with null and keeps it when omitted', async () => {
    const { agentId, environmentId } = await makeSession();
    const budget = { type: 'limit', max_list_cost: { amount: '5', currency: 'USD' } };
    const created = await call('POST', '/v1/sessions', { agent: agentId, environment_id: environmentId, budget });
    expect((await update(created.body.id, { title: 't' })).budget).toEqual(budget);
    expect((await update(created.body.id, { budget: null })).budget).toBeNull();
  });
});

describe('session update: the budget and agent rules', () => {
  const budget = (amount: string) => ({ type: 'limit', max_list_cost: { amount, currency: 'USD' } });

  it('refuses to add a budget to a session created without one, or to re-add a removed one, and changes nothing', async () => {
    const { sessionId } = await makeSession();
    const added = await call('POST', `/v1/sessions/${sessionId}`, { budget: budget('5'), title: 'kept out' });
    expect(added.status).toBe(400);
    expect(added.body.error.message).toMatch(/^budget: /);
    expect(added.body.error.details).toEqual({ error_code: 'budget_create_only' });
    const after = await call('GET', `/v1/sessions/${sessionId}`);
    expect(after.body.budget).toBeNull();
    expect(after.body.title).not.toBe('kept out');

    const { agentId, environmentId } = await makeSession();
    const withBudget = await call('POST', '/v1/sessions', { agent: agentId, environment_id: environmentId, budget: budget('5') });
    expect((await updated(`/v1/sessions/${withBudget.body.id}`, { budget: null })).budget).toBeNull();
    const readded = await call('POST', `/v1/sessions/${withBudget.body.id}`, { budget: budget('5') });
    expect(readded.body.error.details).toEqual({ error_code: 'budget_create_only' });
  });

  it('replaces a budget with a higher one, and refuses a ceiling at or below what was spent', async () => {
    const { agentId, environmentId } = await makeSession();
    const created = await call('POST', '/v1/sessions', { agent: agentId, environment_id: environmentId, budget: budget('5') });
    const id = created.body.id as string;
    expect((await updated(`/v1/sessions/${id}`, { budget: budget('7.5') })).budget).toEqual(budget('7.5'));
    const lowered = await call('POST', `/v1/sessions/${id}`, { budget: budget('0') });
    expect(lowered.status).toBe(400);
    expect(lowered.body.error.message).toMatch(/^budget\.max_list_cost\.amount: /);
    expect(lowered.body.error.details).toEqual({ error_code: 'budget_not_raised' });
    expect((await call('GET', `/v1/sessions/${id}`)).body.budget).toEqual(budget('7.5'));
  });

  it("refuses an agent change while the session is running, and takes it once idle", async () => {
    const { sessionId } = await makeSession();
    await say(sessionId, 'take your time [[slow-first-token 3000]]');
    const tools = [{ type: 'custom', name: 'extra', description: 'x', input_schema: { type: 'object' } }];
    let refused: Reply | undefined;
    for (let i = 0; i < 100 && !refused; i++) {
      const s = await call('GET', `/v1/sessions/${sessionId}`);
      if (s.body.status === 'running') refused = await call('POST', `/v1/sessions/${sessionId}`, { agent: { tools } });
      else await new Promise((r) => setTimeout(r, 20));
    }
    expect(refused?.status).toBe(400);
    expect(refused?.body.error.details).toEqual({ error_code: 'session_running' });
    await settle(sessionId);
    expect((await updated(`/v1/sessions/${sessionId}`, { agent: { tools } })).agent.tools).toEqual([expect.objectContaining({ name: 'extra' })]);
  });
});
