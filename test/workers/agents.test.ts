// Agents as the SDK describes them: `model` always carries `speed` (default `standard`) and `effort` (resolved
// to the model's default when not given), on create, update and every read, and in the sessions that embed the
// agent; an update keeps what it leaves out and clears what the doc comments say it clears.
import { describe, expect, it } from 'vitest';
import { SELF } from 'cloudflare:test';
import { call, KEY, updated } from './api.ts';

const MODEL = 'claude-sonnet-5-5';

async function makeAgent(body: Record<string, unknown> = {}): Promise<any> {
  const r = await call('POST', '/v1/agents', { name: 'a', model: MODEL, ...body });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}

const update = (id: string, body: unknown) => updated(`/v1/agents/${id}`, body);

describe('agent model', () => {
  it('carries speed standard and the default effort when created from a model string', async () => {
    const agent = await makeAgent();
    expect(agent.model).toEqual({ id: MODEL, effort: { type: 'high' }, speed: 'standard' });
    expect((await call('GET', `/v1/agents/${agent.id}`)).body.model).toEqual(agent.model);
    expect((await call('GET', '/v1/agents?limit=100')).body.data.find((a: any) => a.id === agent.id).model).toEqual(agent.model);
    expect((await call('GET', `/v1/agents/${agent.id}/versions`)).body.data[0].model).toEqual(agent.model);
  });

  it('keeps what a model config gives and fills in what it leaves out', async () => {
    expect((await makeAgent({ model: { id: MODEL, effort: 'low' } })).model).toEqual({ id: MODEL, effort: { type: 'low' }, speed: 'standard' });
    expect((await makeAgent({ model: { id: MODEL, effort: { type: 'max' }, speed: 'fast', inference_geo: 'us' } })).model).toEqual({
      id: MODEL,
      effort: { type: 'max' },
      inference_geo: 'us',
      speed: 'fast',
    });
    expect((await makeAgent({ model: { id: MODEL, effort: null, speed: null } })).model).toEqual({ id: MODEL, effort: { type: 'high' }, speed: 'standard' });
  });

  it('on update replaces the model whole, except effort, which is kept when left out', async () => {
    const agent = await makeAgent({ model: { id: MODEL, effort: 'medium', speed: 'fast', inference_geo: 'eu' } });
    const renamed = await update(agent.id, { model: 'claude-opus-5-5' });
    expect(renamed.model).toEqual({ id: 'claude-opus-5-5', effort: { type: 'medium' }, speed: 'standard' });
    const faster = await update(agent.id, { model: { id: 'claude-opus-5-5', speed: 'fast' } });
    expect(faster.model).toEqual({ id: 'claude-opus-5-5', effort: { type: 'medium' }, speed: 'fast' });
    const harder = await update(agent.id, { model: { id: 'claude-opus-5-5', effort: 'xhigh' } });
    expect(harder.model).toEqual({ id: 'claude-opus-5-5', effort: { type: 'xhigh' }, speed: 'standard' });
    const reset = await update(agent.id, { model: { id: 'claude-opus-5-5', effort: null } });
    expect(reset.model).toEqual({ id: 'claude-opus-5-5', effort: { type: 'high' }, speed: 'standard' });
  });

  it('makes no new version when an update restates the stored model', async () => {
    const agent = await makeAgent();
    const same = await update(agent.id, { model: MODEL });
    expect(same.version).toBe(1);
  });

  it('shows speed and effort in the agent a session embeds, and in an overridden model', async () => {
    const agent = await makeAgent({ model: { id: MODEL, effort: 'low' } });
    const env = await call('POST', '/v1/environments', { name: 'e' });
    const session = await call('POST', '/v1/sessions', { agent: agent.id, environment_id: env.body.id });
    expect(session.status, JSON.stringify(session.body)).toBe(200);
    expect(session.body.agent.model).toEqual({ id: MODEL, effort: { type: 'low' }, speed: 'standard' });
    expect((await call('GET', `/v1/sessions/${session.body.id}`)).body.agent.model).toEqual(session.body.agent.model);

    const overridden = await call('POST', '/v1/sessions', {
      agent: { type: 'agent_with_overrides', id: agent.id, model: { id: 'claude-opus-5-5', speed: 'fast' } },
      environment_id: env.body.id,
    });
    expect(overridden.status, JSON.stringify(overridden.body)).toBe(200);
    expect(overridden.body.agent.model).toEqual({ id: 'claude-opus-5-5', effort: { type: 'low' }, speed: 'fast' });
  });
});

describe('agent update: omit, null and empty', () => {
  it('clears description and system with an empty string or null, keeps them when omitted', async () => {
    const agent = await makeAgent({ description: 'd', system: 's' });
    expect(await update(agent.id, { name: 'b' })).toMatchObject({ description: 'd', system: 's' });
    expect(await update(agent.id, { description: '', system: '' })).toMatchObject({ description: null, system: null });
    await update(agent.id, { description: 'd', system: 's' });
    expect(await update(agent.id, { description: null, system: null })).toMatchObject({ description: null, system: null });
  });

  it('clears tools, mcp_servers and skills with null or an empty array; restores the default identity with null', async () => {
    const mcp = { mcp_servers: [{ type: 'url', name: 'srv', url: 'https://mcp.example.com' }], tools: [{ type: 'mcp_toolset', mcp_server_name: 'srv' }] };
    const form = new FormData();
    form.append('files[]', new File(['---\nname: clear-me\ndescription: d\n---\n'], 'clear-me/SKILL.md'), 'clear-me/SKILL.md');
    const skill = (await (await SELF.fetch('http://edgeharness.test/v1/skills', { method: 'POST', body: form, headers: { 'x-api-key': KEY } })).json()) as { id: string };
    const agent = await makeAgent({ ...mcp, skills: [{ type: 'custom', skill_id: skill.id }], execution_identity: { type: 'aws_role', role_arn: 'arn:aws:iam::1:role/x' } });
    const cleared = await update(agent.id, { tools: null, mcp_servers: [], skills: null, execution_identity: null, multiagent: null });
    expect(cleared).toMatchObject({ tools: [], mcp_servers: [], skills: [], execution_identity: { type: 'service_account' }, multiagent: null });
  });

  it('patches metadata: a string upserts (an empty one too), null deletes, a key left out is kept', async () => {
    const agent = await makeAgent({ metadata: { a: '1', b: '2', c: '3' } });
    expect((await update(agent.id, { metadata: { a: null, b: '', d: '4' } })).metadata).toEqual({ b: '', c: '3', d: '4' });
  });
});

describe('agent mcp_servers url', () => {
  const server = (url: string) => ({ mcp_servers: [{ type: 'url', name: 'srv', url }], tools: [{ type: 'mcp_toolset', mcp_server_name: 'srv' }] });

  it('refuses plain http (except to 127.0.0.2 and up), 127.0.0.1 and localhost, and credentials in the URL, naming mcp_servers[i].url; nothing is stored', async () => {
    const before = (await call('GET', '/v1/agents?limit=100')).body.data.length;
    for (const url of ['http://mcp.example.com/mcp', 'http://127.0.0.1:8787/mcp', 'http://localhost:8787/mcp', 'http://[::1]:8787/mcp', 'ftp://mcp.example.com', 'https://user:pw@mcp.example.com/mcp']) {
      const r = await call('POST', '/v1/agents', { name: 'a', model: MODEL, ...server(url) });
      expect(r.status, url).toBe(400);
      expect(r.body.error.message, url).toContain('mcp_servers[0].url: ');
    }
    expect((await call('GET', '/v1/agents?limit=100')).body.data.length).toBe(before);
    expect((await makeAgent(server('https://mcp.example.com/mcp'))).mcp_servers[0].url).toBe('https://mcp.example.com/mcp');
    expect((await makeAgent(server('http://127.0.0.2:9000/mcp'))).mcp_servers[0].url).toBe('http://127.0.0.2:9000/mcp');
  });

  it('refuses such a URL on update too, keeping the stored agent', async () => {
    const agent = await makeAgent(server('https://mcp.example.com/mcp'));
    const r = await call('POST', `/v1/agents/${agent.id}`, { version: agent.version, ...server('http://127.0.0.1:8787/mcp') });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain('mcp_servers[0].url: expected an https:// URL');
    expect((await call('GET', `/v1/agents/${agent.id}`)).body).toEqual(agent);
  });
});
