// Size limits: an oversized value in any stored field is a 4xx naming the field and changes nothing; nothing a
// client can send ends in a 500, including sessions of agents stored before the limits existed.
import { env, runInDurableObject } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_WORKSPACE_ID } from '../../worker/env.ts';
import { LIMITS, MAX_AGENT_BYTES } from '../../contract/size-limits.ts';
import { call, makeSession, registerKey, type Reply } from './api.ts';

const MB = 1024 * 1024;
/** The two sizes of the finding: one over every row, one under a row but over any sane prompt. */
const SIZES = [10 * MB, Math.round(1.9 * MB)];
const chars = (n: number) => 'x'.repeat(n);
const list = <T>(n: number, item: (i: number) => T) => Array.from({ length: n }, (_, i) => item(i));
const custom = (name: string, extra: Record<string, unknown> = {}) => ({
  type: 'custom',
  name,
  description: 'a tool',
  input_schema: { type: 'object', properties: {} },
  ...extra,
});

function expectRefused(r: Reply, field: string) {
  expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBeGreaterThanOrEqual(400);
  expect(r.status).toBeLessThan(500);
  expect(r.body.type).toBe('error');
  expect(r.body.error.message.startsWith(`${field}:`), `${r.body.error.message.slice(0, 200)} should name ${field}`).toBe(true);
}

/** Everything a client can list or retrieve in the workspace, to show a refusal changed nothing. */
async function everything(ids: Ids) {
  const get = async (path: string) => (await call('GET', path)).body;
  return {
    agents: await get('/v1/agents?limit=100&include_archived=true'),
    versions: await get(`/v1/agents/${ids.agentId}/versions`),
    environments: await get('/v1/environments?limit=100&include_archived=true'),
    sessions: await get('/v1/sessions?limit=100&include_archived=true'),
    events: await get(`/v1/sessions/${ids.sessionId}/events`),
    vaults: await get('/v1/vaults?limit=100&include_archived=true'),
    credentials: await get(`/v1/vaults/${ids.vaultId}/credentials?include_archived=true`),
  };
}

interface Ids {
  agentId: string;
  environmentId: string;
  sessionId: string;
  vaultId: string;
  credentialId: string;
}

describe('size limits', () => {
  let ids: Ids;

  beforeAll(async () => {
    const base = await makeSession();
    const vault = await call('POST', '/v1/vaults', { display_name: 'limits' });
    const credential = await call('POST', `/v1/vaults/${vault.body.id}/credentials`, {
      auth: { type: 'environment_variable', secret_name: 'TOKEN', secret_value: 's3cret', networking: { type: 'limited', allowed_hosts: ['api.example.com'] } },
    });
    expect(credential.status).toBe(200);
    ids = { ...base, vaultId: vault.body.id, credentialId: credential.body.id };
  });

  it('refuses 10 MB and 1.9 MB system prompts on agent create and update with a 400 naming system', async () => {
    const before = await everything(ids);
    for (const size of SIZES) {
      const created = await call('POST', '/v1/agents', { name: 'big', model: 'claude-sonnet-5-5', system: chars(size) });
      expectRefused(created, 'system');
      expect(created.status).toBe(400);
      expect(created.body.error.message).toBe(`system: at most ${LIMITS.system} characters, got ${size}`);
      const updated = await call('POST', `/v1/agents/${ids.agentId}`, { system: chars(size) });
      expectRefused(updated, 'system');
    }
    expect(await everything(ids)).toEqual(before);
  });

  it('refuses 10 MB and 1.9 MB system overrides on session create', async () => {
    const before = await everything(ids);
    for (const size of [...SIZES, LIMITS.sessionSystemOverride + 1]) {
      const r = await call('POST', '/v1/sessions', {
        agent: { type: 'agent_with_overrides', id: ids.agentId, system: chars(size) },
        environment_id: ids.environmentId,
      });
      expectRefused(r, 'agent.system');
    }
    expect(await everything(ids)).toEqual(before);
  });

  it('refuses an agent whose fields are each within limits but together exceed what a row holds', async () => {
    // 40 tools with 32 KB descriptions: 1.3 MB of agent, more than a session can copy into its rows.
    const tools = list(40, (i) => custom(`tool_${i}`, { description: chars(LIMITS.toolDescription) }));
    const before = await everything(ids);
    const created = await call('POST', '/v1/agents', { name: 'wide', model: 'claude-sonnet-5-5', tools });
    expectRefused(created, 'tools');
    expect(created.body.error.message).toContain(`at most ${MAX_AGENT_BYTES}`);
    expectRefused(await call('POST', `/v1/agents/${ids.agentId}`, { tools }), 'tools');
    expect(await everything(ids)).toEqual(before);
  });

  it('refuses a session on an agent stored before the limits with a 4xx, and the agent still reads back', async () => {
    // Written straight into storage, as an earlier version of the runtime accepted it.
    const agentId = 'agent_stored_before_limits';
    const now = new Date().toISOString();
    const agent = {
      type: 'agent', id: agentId, version: 1, name: 'legacy', description: null, model: { id: 'claude-sonnet-5-5' },
      system: chars(SIZES[1]!), tools: [], mcp_servers: [], skills: [], execution_identity: { type: 'service_account' },
      multiagent: null, metadata: {}, created_at: now, updated_at: now, archived_at: null,
    };
    await runInDurableObject(env.WORKSPACE.get(env.WORKSPACE.idFromName(DEFAULT_WORKSPACE_ID)), async (_obj, state) => {
      state.storage.sql.exec(`INSERT INTO agents (id, version, created_at) VALUES (?, 1, ?)`, agentId, now);
      state.storage.sql.exec(`INSERT INTO agent_versions (agent_id, version, body) VALUES (?, 1, ?)`, agentId, JSON.stringify(agent));
    });
    const before = await everything(ids);
    expect((await call('GET', `/v1/agents/${agentId}`)).body.system.length).toBe(SIZES[1]);

    const session = await call('POST', '/v1/sessions', { agent: agentId, environment_id: ids.environmentId });
    expectRefused(session, 'agent.system');
    expect(session.body.error.message).toContain('shrink it');
    // Any change would copy the prompt into a new version: the update says what to shrink.
    expectRefused(await call('POST', `/v1/agents/${agentId}`, { metadata: { k: 'v' } }), 'system');
    expect(await everything(ids)).toEqual(before);

    // Overriding the oversized field is a way out.
    const overridden = await call('POST', '/v1/sessions', {
      agent: { type: 'agent_with_overrides', id: agentId, system: 'Be brief.' },
      environment_id: ids.environmentId,
    });
    expect(overridden.status).toBe(200);
    expect(overridden.body.agent.system).toBe('Be brief.');
  });

  it('refuses an oversized value in every stored field of every create and update route, naming it, changing nothing', async () => {
    const agent = (extra: Record<string, unknown>) => ({ name: 'a', model: 'claude-sonnet-5-5', ...extra });
    const toolset = (config: Record<string, unknown>) => ({ type: 'agent_toolset_20260401', configs: [{ name: 'web_fetch', ...config }] });
    const mcp = (server: Record<string, unknown>, toolsetExtra: Record<string, unknown> = {}) => ({
      mcp_servers: [{ type: 'url', name: 'srv', url: 'https://mcp.example.com', ...server }],
      tools: [{ type: 'mcp_toolset', mcp_server_name: (server.name as string) ?? 'srv', ...toolsetExtra }],
    });
    const session = (extra: Record<string, unknown>) => ({ agent: ids.agentId, environment_id: ids.environmentId, ...extra });
    const envCreds = (auth: Record<string, unknown>) => ({
      auth: { type: 'environment_variable', secret_name: 'OTHER', secret_value: 'v', networking: { type: 'unrestricted' }, ...auth },
    });
    const oauth = (auth: Record<string, unknown>, refresh: Record<string, unknown> = {}) => ({
      auth: {
        type: 'mcp_oauth',
        access_token: 't',
        mcp_server_url: 'https://mcp.example.com/x',
        refresh: { client_id: 'c', refresh_token: 'r', token_endpoint: 'https://auth.example.com/token', token_endpoint_auth: { type: 'none' }, ...refresh },
        ...auth,
      },
    });
    const tooManyPairs = Object.fromEntries(list(LIMITS.metadataPairs + 1, (i) => [`k${i}`, 'v']));
    const metadataCases = (route: string, method = 'POST'): Array<[string, string, unknown, string]> => [
      [method, route, { metadata: { [chars(10 * MB)]: 'v' } }, 'metadata'],
      [method, route, { metadata: { k: chars(LIMITS.metadataValue + 1) } }, 'metadata.k'],
      [method, route, { metadata: tooManyPairs }, 'metadata'],
    ];
    const a = `/v1/agents/${ids.agentId}`;
    const e = `/v1/environments/${ids.environmentId}`;
    const s = `/v1/sessions/${ids.sessionId}`;
    const v = `/v1/vaults/${ids.vaultId}`;
    const c = `${v}/credentials/${ids.credentialId}`;

    const cases: Array<[string, string, unknown, string]> = [
      // agents: create
      ['POST', '/v1/agents', agent({ name: chars(LIMITS.name + 1) }), 'name'],
      ['POST', '/v1/agents', agent({ description: chars(LIMITS.description + 1) }), 'description'],
      ['POST', '/v1/agents', agent({ model: chars(LIMITS.modelId + 1) }), 'model'],
      ['POST', '/v1/agents', agent({ model: { id: chars(10 * MB) } }), 'model.id'],
      ['POST', '/v1/agents', agent({ model: { id: 'm', inference_geo: chars(LIMITS.inferenceGeo + 1) } }), 'model.inference_geo'],
      ['POST', '/v1/agents', agent({ tools: list(LIMITS.tools + 1, (i) => custom(`t${i}`)) }), 'tools'],
      ['POST', '/v1/agents', agent({ tools: [custom(chars(LIMITS.toolName + 1))] }), 'tools[0].name'],
      ['POST', '/v1/agents', agent({ tools: [custom('t', { description: chars(10 * MB) })] }), 'tools[0].description'],
      ['POST', '/v1/agents', agent({ tools: [custom('t', { input_schema: { type: 'object', description: chars(LIMITS.inputSchemaBytes) } })] }), 'tools[0].input_schema'],
      ['POST', '/v1/agents', agent({ tools: [toolset({ allowed_domains: list(LIMITS.domainEntries + 1, (i) => `d${i}.example.com`) })] }), 'tools[0].configs[0].allowed_domains'],
      ['POST', '/v1/agents', agent({ tools: [toolset({ blocked_domains: [chars(LIMITS.domain + 1)] })] }), 'tools[0].configs[0].blocked_domains[0]'],
      ['POST', '/v1/agents', agent({ tools: [toolset({ url_sources: { any: chars(LIMITS.toolOptionBytes) } })] }), 'tools[0].configs[0].url_sources'],
      ['POST', '/v1/agents', agent({ tools: [toolset({ user_location: { city: chars(10 * MB) } })] }), 'tools[0].configs[0].user_location'],
      ['POST', '/v1/agents', agent({ tools: [{ type: 'agent_toolset_20260401', configs: list(9, () => ({ name: 'bash' })) }] }), 'tools[0].configs'],
      ['POST', '/v1/agents', agent(mcp({ name: chars(LIMITS.mcpServerName + 1) })), 'mcp_servers[0].name'],
      ['POST', '/v1/agents', agent(mcp({ url: `https://mcp.example.com/${chars(LIMITS.url)}` })), 'mcp_servers[0].url'],
      ['POST', '/v1/agents', agent(mcp({}, { configs: list(LIMITS.mcpToolConfigs + 1, (i) => ({ name: `t${i}` })) })), 'tools[0].configs'],
      ['POST', '/v1/agents', agent(mcp({}, { configs: [{ name: chars(LIMITS.toolName + 1) }] })), 'tools[0].configs[0].name'],
      ['POST', '/v1/agents', agent({ mcp_servers: list(LIMITS.mcpServers + 1, (i) => ({ type: 'url', name: `s${i}`, url: 'https://m.example.com' })) }), 'mcp_servers'],
      ['POST', '/v1/agents', agent({ skills: list(LIMITS.skills + 1, (i) => ({ type: 'custom', skill_id: `s${i}` })) }), 'skills'],
      ['POST', '/v1/agents', agent({ skills: [{ type: 'custom', skill_id: chars(LIMITS.skillId + 1) }] }), 'skills[0].skill_id'],
      ['POST', '/v1/agents', agent({ skills: [{ type: 'anthropic', skill_id: 'pdf', version: chars(LIMITS.skillVersion + 1) }] }), 'skills[0].version'],
      ['POST', '/v1/agents', agent({ execution_identity: { type: 'aws_role', role_arn: chars(LIMITS.roleArn + 1) } }), 'execution_identity.role_arn'],
      ['POST', '/v1/agents', agent({ multiagent: { type: 'coordinator', agents: [chars(LIMITS.multiagentBytes)] } }), 'multiagent.agents[0]'],
      ...metadataCases('/v1/agents').map(([m, p, body, f]): [string, string, unknown, string] => [m, p, agent(body as Record<string, unknown>), f]),
      // agents: update (a new version)
      ['POST', a, { name: chars(LIMITS.name + 1) }, 'name'],
      ['POST', a, { description: chars(10 * MB) }, 'description'],
      ['POST', a, { model: { id: chars(LIMITS.modelId + 1) } }, 'model.id'],
      ['POST', a, { tools: [custom('t', { input_schema: { type: 'object', properties: { p: { description: chars(10 * MB) } } } })] }, 'tools[0].input_schema'],
      ['POST', a, { mcp_servers: list(LIMITS.mcpServers + 1, (i) => ({ type: 'url', name: `s${i}`, url: 'https://m.example.com' })) }, 'mcp_servers'],
      ['POST', a, { skills: list(LIMITS.skills + 1, (i) => ({ type: 'custom', skill_id: `s${i}` })) }, 'skills'],
      ['POST', a, { multiagent: { type: 'coordinator', agents: [chars(10 * MB)] } }, 'multiagent.agents[0]'],
      ...metadataCases(a),
      // environments: create and update
      ['POST', '/v1/environments', { name: chars(LIMITS.name + 1) }, 'name'],
      ['POST', '/v1/environments', { name: 'e', description: chars(10 * MB) }, 'description'],
      ['POST', '/v1/environments', { name: 'e', config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: list(LIMITS.allowedHosts + 1, (i) => `h${i}.example.com`) } } }, 'config.networking.allowed_hosts'],
      ['POST', '/v1/environments', { name: 'e', config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: [chars(LIMITS.hostname + 1)] } } }, 'config.networking.allowed_hosts[0]'],
      ['POST', '/v1/environments', { name: 'e', config: { type: 'cloud', packages: { pip: list(LIMITS.packages + 1, (i) => `p${i}`) } } }, 'config.packages.pip'],
      ['POST', '/v1/environments', { name: 'e', config: { type: 'cloud', packages: { npm: [chars(10 * MB)] } } }, 'config.packages.npm[0]'],
      ...metadataCases('/v1/environments').map(([m, p, body, f]): [string, string, unknown, string] => [m, p, { name: 'e', ...(body as object) }, f]),
      ['POST', e, { name: chars(LIMITS.name + 1) }, 'name'],
      ['POST', e, { description: chars(LIMITS.description + 1) }, 'description'],
      ['POST', e, { config: { type: 'cloud', packages: { apt: [chars(LIMITS.packageSpec + 1)] } } }, 'config.packages.apt[0]'],
      ...metadataCases(e),
      // sessions: create (with overrides and initial events) and update
      ['POST', '/v1/sessions', session({ agent: chars(LIMITS.id + 1) }), 'agent'],
      ['POST', '/v1/sessions', session({ agent: { type: 'agent_with_overrides', id: ids.agentId, model: chars(LIMITS.modelId + 1) } }), 'agent.model'],
      ['POST', '/v1/sessions', session({ agent: { type: 'agent_with_overrides', id: ids.agentId, tools: [custom('t', { description: chars(10 * MB) })] } }), 'agent.tools[0].description'],
      ['POST', '/v1/sessions', session({ agent: { type: 'agent_with_overrides', id: ids.agentId, skills: [{ type: 'custom', skill_id: chars(10 * MB) }] } }), 'agent.skills[0].skill_id'],
      [
        'POST',
        '/v1/sessions',
        session({ agent: { type: 'agent_with_overrides', id: ids.agentId, tools: list(40, (i) => custom(`t${i}`, { description: chars(LIMITS.toolDescription) })) } }),
        'agent.tools',
      ],
      ['POST', '/v1/sessions', session({ environment_id: chars(LIMITS.id + 1) }), 'environment_id'],
      ['POST', '/v1/sessions', session({ title: chars(LIMITS.title + 1) }), 'title'],
      ['POST', '/v1/sessions', session({ vault_ids: list(LIMITS.vaultIds + 1, (i) => `vlt_${i}`) }), 'vault_ids'],
      ['POST', '/v1/sessions', session({ vault_ids: [chars(10 * MB)] }), 'vault_ids[0]'],
      ['POST', '/v1/sessions', session({ budget: { type: 'limit', max_list_cost: { amount: '1'.repeat(LIMITS.amount + 1), currency: 'USD' } } }), 'budget.max_list_cost.amount'],
      ['POST', '/v1/sessions', session({ initial_events: list(LIMITS.initialEvents + 1, () => ({ type: 'user.message', content: [{ type: 'text', text: 'hi' }] })) }), 'initial_events'],
      ...metadataCases('/v1/sessions').map(([m, p, body, f]): [string, string, unknown, string] => [m, p, session(body as Record<string, unknown>), f]),
      ['POST', s, { title: chars(10 * MB) }, 'title'],
      ['POST', s, { agent: { tools: list(LIMITS.tools + 1, (i) => custom(`t${i}`)) } }, 'agent.tools'],
      ['POST', s, { agent: { tools: list(40, (i) => custom(`t${i}`, { description: chars(LIMITS.toolDescription) })) } }, 'agent.tools'],
      ['POST', s, { agent: { mcp_servers: [{ type: 'url', name: chars(10 * MB), url: 'https://m.example.com' }] } }, 'agent.mcp_servers[0].name'],
      ['POST', s, { budget: { type: 'limit', max_list_cost: { amount: '1'.repeat(10 * MB), currency: 'USD' } } }, 'budget.max_list_cost.amount'],
      ...metadataCases(s),
      // events
      ['POST', `${s}/events`, { events: list(101, () => ({ type: 'user.message', content: [{ type: 'text', text: 'hi' }] })) }, 'events'],
      // vaults and credentials: create and update
      ['POST', '/v1/vaults', { display_name: chars(LIMITS.displayName + 1) }, 'display_name'],
      ...metadataCases('/v1/vaults').map(([m, p, body, f]): [string, string, unknown, string] => [m, p, { display_name: 'v', ...(body as object) }, f]),
      ['POST', v, { display_name: chars(10 * MB) }, 'display_name'],
      ...metadataCases(v),
      ['POST', `${v}/credentials`, { ...envCreds({}), display_name: chars(LIMITS.displayName + 1) }, 'display_name'],
      ['POST', `${v}/credentials`, envCreds({ secret_name: chars(129) }), 'auth.secret_name'],
      ['POST', `${v}/credentials`, envCreds({ secret_value: chars(64 * 1024 + 1) }), 'auth.secret_value'],
      ['POST', `${v}/credentials`, envCreds({ networking: { type: 'limited', allowed_hosts: list(17, (i) => `h${i}.example.com`) } }), 'auth.networking.allowed_hosts'],
      ['POST', `${v}/credentials`, { auth: { type: 'static_bearer', token: chars(10 * MB), mcp_server_url: 'https://mcp.example.com' } }, 'auth.token'],
      ['POST', `${v}/credentials`, { auth: { type: 'static_bearer', token: 't', mcp_server_url: `https://mcp.example.com/${chars(LIMITS.url)}` } }, 'auth.mcp_server_url'],
      ['POST', `${v}/credentials`, oauth({}, { client_id: chars(LIMITS.oauthClientId + 1) }), 'auth.refresh.client_id'],
      ['POST', `${v}/credentials`, oauth({}, { scope: chars(LIMITS.oauthScope + 1) }), 'auth.refresh.scope'],
      ['POST', `${v}/credentials`, oauth({}, { resource: chars(LIMITS.url + 1) }), 'auth.refresh.resource'],
      ['POST', `${v}/credentials`, oauth({ expires_at: chars(10 * MB) }), 'auth.expires_at'],
      ...metadataCases(`${v}/credentials`).map(([m, p, body, f]): [string, string, unknown, string] => [m, p, { ...envCreds({}), ...(body as object) }, f]),
      ['POST', c, { display_name: chars(LIMITS.displayName + 1) }, 'display_name'],
      ['POST', c, { auth: { type: 'environment_variable', secret_value: chars(10 * MB) } }, 'auth.secret_value'],
      ...metadataCases(c),
    ];

    const before = await everything(ids);
    for (const [method, path, body, field] of cases) {
      const r = await call(method, path, body);
      expect(r.status, `${method} ${path} → ${field}: ${JSON.stringify(r.body).slice(0, 300)}`).toBe(400);
      expectRefused(r, field);
      // The message never carries the oversized value back.
      expect(JSON.stringify(r.body).length, `${method} ${path} → ${field}`).toBeLessThan(2000);
    }
    expect(await everything(ids)).toEqual(before);
  });

  it('lists agents that together exceed one RPC reply in pages instead of failing', async () => {
    // 36 agents of about 1 MB each: more than the 32 MiB one Durable Object reply may carry.
    const other = 'test-key-size-limits';
    await registerKey(other, 'wrkspc_size_limits');
    const tools = list(23, (i) => custom(`tool_${i}`, { description: chars(LIMITS.toolDescription) }));
    const created: string[] = [];
    for (let i = 0; i < 36; i++) {
      const r = await call('POST', '/v1/agents', { name: `wide ${i}`, model: 'claude-sonnet-5-5', system: chars(LIMITS.system), tools }, other);
      expect(r.status, JSON.stringify(r.body).slice(0, 200)).toBe(200);
      created.push(r.body.id);
    }
    const seen: string[] = [];
    let page: string | null = null;
    let pages = 0;
    do {
      const r: Reply = await call('GET', `/v1/agents?limit=100${page ? `&page=${page}` : ''}`, undefined, other);
      expect(r.status).toBe(200);
      seen.push(...r.body.data.map((x: { id: string }) => x.id));
      page = r.body.next_page;
      pages++;
    } while (page);
    expect(pages).toBeGreaterThan(1);
    expect(seen).toEqual([...created].reverse());
  });
});
