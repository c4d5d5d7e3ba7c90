// Workspaces and API keys on the real runtime (`npm start`'s), through the official SDK with the admin key it
// generated: a workspace and its key made by the admin calls open that workspace alone, survive a restart, stop at
// once when set inactive, and a key past its own per-minute limit is told when to come back.
import Anthropic, { AuthenticationError, NotFoundError, RateLimitError } from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScriptedRuntime, type ScriptedRuntime } from '../support/scripted-runtime.ts';

let run: ScriptedRuntime;
const client = (apiKey: string) => new Anthropic({ baseURL: run.runtime.url, apiKey, maxRetries: 0 });
const admin = () => client(run.runtime.adminKey);

async function newKey(body: Record<string, unknown>): Promise<{ id: string; key: string }> {
  return admin().post('/v1/organizations/api_keys', { body });
}

beforeAll(async () => {
  run = await startScriptedRuntime('workspaces');
});
afterAll(async () => {
  await run?.stop();
});

describe('workspaces and keys on the runtime', () => {
  it('opens a new workspace with its own key, across a restart, until the key is set inactive', async () => {
    const ws = await admin().beta.organization.workspaces.create({ name: 'e2e' });
    const k = await newKey({ name: 'e2e', workspace_id: ws.id });
    const agent = await client(k.key).beta.agents.create({ name: 'a', model: 'claude-sonnet-5-5' });
    await expect(run.client.beta.agents.retrieve(agent.id)).rejects.toBeInstanceOf(NotFoundError);

    await run.runtime.stop();
    await run.restart();
    expect((await client(k.key).beta.agents.retrieve(agent.id)).id).toBe(agent.id);
    expect((await admin().beta.organization.apiKeys.retrieve(k.id)).scope).toEqual({ type: 'workspace', workspace_id: ws.id });

    await admin().beta.organization.apiKeys.update(k.id, { status: 'inactive' });
    await expect(client(k.key).beta.agents.retrieve(agent.id)).rejects.toBeInstanceOf(AuthenticationError);
  });

  it('answers 429 with retry-after past a key’s own limit', async () => {
    const ws = await admin().beta.organization.workspaces.create({ name: 'limited' });
    const k = await newKey({ name: 'limited', workspace_id: ws.id, rate_limit_per_minute: 1 });
    await client(k.key).beta.agents.list();
    const err = await client(k.key).beta.agents.list().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RateLimitError);
    expect(Number((err as RateLimitError).headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});
