// Session updates keep what they leave out: the title is stored as given (an empty one too) and cleared by null,
// metadata is patched (a string upserts, null deletes), and a budget set to null is removed.
import { describe, expect, it } from 'vitest';
import { call, makeSession, updated } from './api.ts';

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
