// MCP servers in the loop: an agent's mcp_toolset offers the tools its server lists, the brain calls them with the
// bearer token of the session's vault credential for that server URL (never in an event or a model request), and a
// server that cannot be reached or refuses the token is a session.error while the turn goes on and ends idle; an
// mcp_oauth token is refreshed when it expires or is refused early, and mcp_oauth_validate probes the server for real.
// The server is the official SDK's McpServer, started by the test run (test/support/mcp-server-setup.ts).
import { env } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { faultLog, injectFaults } from '../support/faults.ts';
import { OAUTH_CLIENT, refreshTokenFor } from '../support/mcp-oauth-client.ts';
import type { SessionSpec } from '../../contract/session-spec.ts';
import type { McpCredential } from '../../contract/vault.ts';
import { workspaceStore } from '../../durable-objects/stubs.ts';
import { mcpOverHttp } from '../../worker/brain/mcp-client.ts';
import type { RefreshedToken } from '../../worker/brain/mcp-oauth.ts';
import { connectMcpServers } from '../../worker/brain/mcp-servers.ts';
import type { ResolvedTool } from '../../worker/brain/tools.ts';
import { allEvents, call, say, settle } from './api.ts';

const MCP_URL = inject('mcpServerUrl');
const TOKEN = inject('mcpServerToken');
/** Nothing listens on port 9 (discard) here: a server that is down (on 127.0.0.2, which the URL rule lets agents name). */
const DOWN_URL = 'http://127.0.0.2:9/mcp';

interface Setup {
  servers: Array<{ name: string; url: string }>;
  toolsets?: unknown[];
  /** The bearer each server's vault credential holds (none: the session has no vault). */
  tokens?: Record<string, string>;
}

async function mcpSession({ servers, toolsets, tokens = {} }: Setup): Promise<string> {
  const a = await call('POST', '/v1/agents', {
    name: 'mcp',
    model: 'claude-sonnet-5-5',
    mcp_servers: servers.map((s) => ({ type: 'url', ...s })),
    tools: toolsets ?? servers.map((s) => ({ type: 'mcp_toolset', mcp_server_name: s.name, default_config: { permission_policy: { type: 'always_allow' } } })),
  });
  expect(a.status, JSON.stringify(a.body)).toBe(200);
  const vaultIds: string[] = [];
  if (Object.keys(tokens).length) {
    const v = await call('POST', '/v1/vaults', { display_name: 'mcp' });
    for (const [url, token] of Object.entries(tokens)) {
      const c = await call('POST', `/v1/vaults/${v.body.id}/credentials`, { auth: { type: 'static_bearer', token, mcp_server_url: url } });
      expect(c.status, JSON.stringify(c.body)).toBe(200);
    }
    vaultIds.push(v.body.id);
  }
  const e = await call('POST', '/v1/environments', { name: 'env' });
  const s = await call('POST', '/v1/sessions', { agent: a.body.id, environment_id: e.body.id, vault_ids: vaultIds });
  expect(s.status, JSON.stringify(s.body)).toBe(200);
  return s.body.id;
}

/** How many times the test server ran `lookup_order` for `orderId`. */
async function serverCalls(orderId: string): Promise<number> {
  const r = await fetch(new URL(`/_calls?order_id=${orderId}`, MCP_URL));
  return ((await r.json()) as { calls: number }).calls;
}

/** How many refresh grants the test server's token endpoint was asked for with `refreshToken`. */
async function grants(refreshToken: string): Promise<number> {
  const r = await fetch(new URL(`/_grants?refresh_token=${encodeURIComponent(refreshToken)}`, MCP_URL));
  return ((await r.json()) as { grants: number }).grants;
}

interface OAuthSetup {
  accessToken: string;
  /** Default: an hour from now. */
  expiresAt?: string;
  /** The refresh token to store (see refreshTokenFor); none: the credential has no refresh configuration. */
  refreshToken?: string;
  serverUrl?: string;
}

/** A vault with one mcp_oauth credential for the test server, refreshable at its token endpoint. */
async function oauthCredential({ accessToken, expiresAt, refreshToken, serverUrl = MCP_URL }: OAuthSetup): Promise<{ vaultId: string; credentialId: string }> {
  const v = await call('POST', '/v1/vaults', { display_name: 'oauth' });
  const c = await call('POST', `/v1/vaults/${v.body.id}/credentials`, {
    auth: {
      type: 'mcp_oauth',
      access_token: accessToken,
      mcp_server_url: serverUrl,
      expires_at: expiresAt ?? new Date(Date.now() + 3_600_000).toISOString(),
      ...(refreshToken
        ? {
            refresh: {
              client_id: OAUTH_CLIENT.clientId,
              refresh_token: refreshToken,
              token_endpoint: new URL('/token', MCP_URL).href,
              token_endpoint_auth: { type: 'client_secret_post', client_secret: OAUTH_CLIENT.clientSecret },
            },
          }
        : {}),
    },
  });
  expect(c.status, JSON.stringify(c.body)).toBe(200);
  return { vaultId: v.body.id, credentialId: c.body.id };
}

/** Waits until `at` has passed (nothing is timed: the runtime only compares expires_at with the clock). */
async function until(at: string): Promise<void> {
  while (Date.now() <= Date.parse(at)) await new Promise((r) => setTimeout(r, 100));
}

async function modelRequests(sessionId: string): Promise<any[]> {
  const recorded: any = await (await fetch(`${inject('scriptedModelUrl')}/_scripted/requests`)).json();
  return recorded.data.filter((r: any) => JSON.stringify(r.body).includes(sessionId));
}

describe('MCP servers', () => {
  it('offers the server’s tools to the model and round-trips a call as agent.mcp_tool_use and agent.mcp_tool_result', async () => {
    const id = await mcpSession({ servers: [{ name: 'orders', url: MCP_URL }], tokens: { [MCP_URL]: TOKEN } });
    await say(id, `(${id}) [[tool:lookup_order {"order_id":"A-17"}]]`);
    const events = await settle(id);

    const use = events.find((e) => e.type === 'agent.mcp_tool_use');
    expect(use).toMatchObject({ mcp_server_name: 'orders', name: 'lookup_order', input: { order_id: 'A-17' }, evaluated_permission: 'allow' });
    const result = events.find((e) => e.type === 'agent.mcp_tool_result');
    expect(result).toMatchObject({ mcp_tool_use_id: use.id, is_error: false, content: [{ type: 'text', text: 'order A-17: shipped on 2026-11-30' }] });
    expect(events.filter((e) => e.type === 'session.error')).toEqual([]);
    expect(events.at(-1).stop_reason).toEqual({ type: 'end_turn' });

    const requests = await modelRequests(id);
    expect(requests[0].body.tools.map((t: any) => t.name).sort()).toEqual(['lookup_order', 'show_authorization']);
    expect(requests[0].body.tools.find((t: any) => t.name === 'lookup_order').input_schema.required).toEqual(['order_id']);
    // The answer went back to the model as the result of its call.
    const last = JSON.stringify(requests.at(-1).body.messages);
    expect(last).toContain('order A-17: shipped on 2026-11-30');
    expect(last).toContain(use.id);
  });

  it('keeps the vault’s bearer token out of every event and model request, even when the server echoes it', async () => {
    const id = await mcpSession({ servers: [{ name: 'orders', url: MCP_URL }], tokens: { [MCP_URL]: TOKEN } });
    await say(id, `(${id}) [[tool:show_authorization {}]]`);
    const events = await settle(id);
    const result = events.find((e) => e.type === 'agent.mcp_tool_result');
    // The server got the token (it answers only to it) and echoed it; the log holds it redacted.
    expect(result.is_error).toBe(false);
    expect(result.content[0].text).toMatch(/^you sent: Bearer /);
    expect(JSON.stringify(await allEvents(id))).not.toContain(TOKEN);
    const requests = await modelRequests(id);
    expect(requests.length).toBeGreaterThan(1);
    expect(JSON.stringify(requests)).not.toContain(TOKEN);
  });

  it('reports a server that is down as mcp_connection_failed_error and ends the turn idle without its tools', async () => {
    const id = await mcpSession({
      servers: [{ name: 'down', url: DOWN_URL }, { name: 'orders', url: MCP_URL }],
      tokens: { [MCP_URL]: TOKEN },
    });
    await say(id, `hello (${id})`);
    const events = await settle(id);
    const errors = events.filter((e) => e.type === 'session.error');
    expect(errors).toHaveLength(1);
    expect(errors[0].error).toMatchObject({ type: 'mcp_connection_failed_error', mcp_server_name: 'down' });
    expect(events.at(-1).stop_reason).toEqual({ type: 'end_turn' });
    const requests = await modelRequests(id);
    expect(requests.at(-1).body.tools.map((t: any) => t.name).sort()).toEqual(['lookup_order', 'show_authorization']);
  });

  it('reports a refused token as mcp_authentication_failed_error, and a server without a credential is refused too', async () => {
    const wrong = await mcpSession({ servers: [{ name: 'orders', url: MCP_URL }], tokens: { [MCP_URL]: 'not-the-token-1234' } });
    await say(wrong, 'hello');
    let events = await settle(wrong);
    let errors = events.filter((e) => e.type === 'session.error');
    expect(errors.map((e) => e.error)).toMatchObject([{ type: 'mcp_authentication_failed_error', mcp_server_name: 'orders' }]);
    expect(JSON.stringify(events)).not.toContain('not-the-token-1234');
    expect(events.at(-1).stop_reason).toEqual({ type: 'end_turn' });

    const none = await mcpSession({ servers: [{ name: 'orders', url: MCP_URL }] });
    await say(none, 'hello');
    events = await settle(none);
    errors = events.filter((e) => e.type === 'session.error');
    expect(errors.map((e) => e.error.type)).toEqual(['mcp_authentication_failed_error']);
    expect(events.at(-1).stop_reason).toEqual({ type: 'end_turn' });
  });

  it('waits for confirmation of an always_ask MCP tool, then calls it', async () => {
    // mcp_toolset's default permission policy is always_ask.
    const id = await mcpSession({
      servers: [{ name: 'orders', url: MCP_URL }],
      toolsets: [{ type: 'mcp_toolset', mcp_server_name: 'orders' }],
      tokens: { [MCP_URL]: TOKEN },
    });
    await say(id, '[[tool:lookup_order {"order_id":"B-2"}]]');
    let events = await settle(id);
    const use = events.find((e) => e.type === 'agent.mcp_tool_use');
    expect(use.evaluated_permission).toBe('ask');
    expect(events.at(-1).stop_reason).toEqual({ type: 'requires_action', event_ids: [use.id] });
    expect(events.some((e) => e.type === 'agent.mcp_tool_result')).toBe(false);

    const ok = await call('POST', `/v1/sessions/${id}/events`, { events: [{ type: 'user.tool_confirmation', tool_use_id: use.id, result: 'allow' }] });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    events = await settle(id);
    const results = events.filter((e) => e.type === 'agent.mcp_tool_result');
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ mcp_tool_use_id: use.id, is_error: false, content: [{ text: 'order B-2: shipped on 2026-11-30' }] });
    expect(events.at(-1).stop_reason).toEqual({ type: 'end_turn' });
  });

  it('offers only the tools the toolset enables, and refuses a call to a disabled one', async () => {
    const id = await mcpSession({
      servers: [{ name: 'orders', url: MCP_URL }],
      toolsets: [
        {
          type: 'mcp_toolset',
          mcp_server_name: 'orders',
          default_config: { enabled: false, permission_policy: { type: 'always_allow' } },
          configs: [{ name: 'lookup_order', enabled: true }],
        },
      ],
      tokens: { [MCP_URL]: TOKEN },
    });
    await say(id, `(${id}) [[tool:show_authorization {}]]`);
    const events = await settle(id);
    const requests = await modelRequests(id);
    expect(requests[0].body.tools.map((t: any) => t.name)).toEqual(['lookup_order']);
    // Not an MCP tool of this agent, so the call is an unknown tool's.
    expect(events.some((e) => e.type === 'agent.mcp_tool_use')).toBe(false);
    expect(events.find((e) => e.type === 'agent.tool_result').content[0].text).toContain("'show_authorization' is not available");
  });

  it('runs a call once when the brain dies after agent.mcp_tool_use and before sending it', async () => {
    const id = await mcpSession({ servers: [{ name: 'orders', url: MCP_URL }], tokens: { [MCP_URL]: TOKEN } });
    await injectFaults(env, id, ['after_mcp_tool_use']);
    await say(id, '[[tool:lookup_order {"order_id":"C-before"}]]');
    const events = await settle(id);
    const results = events.filter((e) => e.type === 'agent.mcp_tool_result');
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ is_error: false, content: [{ text: 'order C-before: shipped on 2026-11-30' }] });
    expect(await faultLog(env, id).pendingFaults()).toEqual([]); // the brain did die there
    expect(await serverCalls('C-before')).toBe(1);
  });

  // Parallel to the case above, deliberately: the same kill, one append later.
  it('reports a call the server ran but whose result was never appended as interrupted, and does not send it again', async () => {
    const id = await mcpSession({ servers: [{ name: 'orders', url: MCP_URL }], tokens: { [MCP_URL]: TOKEN } });
    await injectFaults(env, id, ['after_mcp_tool_call']);
    await say(id, '[[tool:lookup_order {"order_id":"C-after"}]]');
    const events = await settle(id);
    const use = events.find((e) => e.type === 'agent.mcp_tool_use');
    const results = events.filter((e) => e.type === 'agent.mcp_tool_result');
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ mcp_tool_use_id: use.id, is_error: true });
    expect(results[0].content[0].text).toContain('interrupted');
    expect(await faultLog(env, id).pendingFaults()).toEqual([]);
    expect(await serverCalls('C-after')).toBe(1);
    expect(events.at(-1).stop_reason).toEqual({ type: 'end_turn' });
  });

  describe('mcp_oauth', () => {
    /** A session whose vault has an mcp_oauth credential for the server, its access token expired by now. */
    async function oauthSession(refresh: boolean) {
      const expiresAt = new Date(Date.now() + 1500).toISOString();
      const { vaultId, credentialId } = await oauthCredential({
        accessToken: 'expired-access-token-41c2',
        expiresAt,
        ...(refresh ? { refreshToken: OAUTH_CLIENT.refreshToken } : {}),
      });
      const id = await sessionWith(vaultId);
      await until(expiresAt);
      return { id, vaultId, credentialId };
    }

    it('refreshes an expired access token at the token endpoint, stores it, and calls the server with it', async () => {
      const { id, vaultId, credentialId } = await oauthSession(true);
      await say(id, '[[tool:lookup_order {"order_id":"D-1"}]]');
      const events = await settle(id);
      expect(events.filter((e) => e.type === 'session.error')).toEqual([]);
      expect(events.find((e) => e.type === 'agent.mcp_tool_result')).toMatchObject({ is_error: false, content: [{ text: 'order D-1: shipped on 2026-11-30' }] });
      const stored = await call('GET', `/v1/vaults/${vaultId}/credentials/${credentialId}`);
      expect(Date.parse(stored.body.auth.expires_at)).toBeGreaterThan(Date.now());
      const everything = JSON.stringify([events, await modelRequests(id), stored.body]);
      for (const secret of [TOKEN, OAUTH_CLIENT.refreshToken, OAUTH_CLIENT.clientSecret]) expect(everything).not.toContain(secret);
    });

    it('reports an expired access token it cannot refresh as mcp_authentication_failed_error, without sending it', async () => {
      const { id } = await oauthSession(false);
      await say(id, 'hello');
      const events = await settle(id);
      const errors = events.filter((e) => e.type === 'session.error');
      expect(errors.map((e) => e.error)).toMatchObject([{ type: 'mcp_authentication_failed_error', mcp_server_name: 'orders' }]);
      expect(errors[0].error.message).toContain('expired');
      expect(events.at(-1).stop_reason).toEqual({ type: 'end_turn' });
    });

    /** A session of an agent using the test server, with this vault. */
    async function sessionWith(vaultId: string): Promise<string> {
      const id = await mcpSession({ servers: [{ name: 'orders', url: MCP_URL }] });
      const session = await call('GET', `/v1/sessions/${id}`);
      const s = await call('POST', '/v1/sessions', { agent: session.body.agent.id, environment_id: session.body.environment_id, vault_ids: [vaultId] });
      expect(s.status, JSON.stringify(s.body)).toBe(200);
      return s.body.id;
    }

    it('refreshes a token the server refuses before its expires_at, once, stores the new one and calls the server with it', async () => {
      const refreshToken = refreshTokenFor('early-401');
      const { vaultId, credentialId } = await oauthCredential({ accessToken: 'revoked-early-7c1d', refreshToken });
      const before = await call('GET', `/v1/vaults/${vaultId}/credentials/${credentialId}`);
      const id = await sessionWith(vaultId);
      await say(id, '[[tool:lookup_order {"order_id":"E-1"}]]');
      const events = await settle(id);
      expect(events.filter((e) => e.type === 'session.error')).toEqual([]);
      expect(events.find((e) => e.type === 'agent.mcp_tool_result')).toMatchObject({ is_error: false, content: [{ text: 'order E-1: shipped on 2026-11-30' }] });
      expect(await grants(refreshToken)).toBe(1);
      // Stored: a later step sends the new token straight away.
      const after = await call('GET', `/v1/vaults/${vaultId}/credentials/${credentialId}`);
      expect(after.body.updated_at).not.toBe(before.body.updated_at);
      await say(id, '[[tool:lookup_order {"order_id":"E-2"}]]');
      await settle(id);
      expect(await grants(refreshToken)).toBe(1);
      expect(await serverCalls('E-2')).toBe(1);
      expect(JSON.stringify([await allEvents(id), await modelRequests(id)])).not.toContain(TOKEN);
    });

    it('reports an early-refused token whose refresh fails as mcp_authentication_failed_error, asking the token endpoint once', async () => {
      const refreshToken = 'a-refresh-token-the-endpoint-refuses';
      const { vaultId } = await oauthCredential({ accessToken: 'revoked-early-8e2f', refreshToken });
      const id = await sessionWith(vaultId);
      await say(id, 'hello');
      const events = await settle(id);
      const errors = events.filter((e) => e.type === 'session.error');
      expect(errors.map((e) => e.error)).toMatchObject([{ type: 'mcp_authentication_failed_error', mcp_server_name: 'orders' }]);
      expect(errors[0].error.message).toContain('refused the access token');
      expect(errors[0].error.message).toContain('refreshing it failed');
      expect(JSON.stringify(events)).not.toContain(refreshToken);
      expect(JSON.stringify(events)).not.toContain('revoked-early-8e2f');
      expect(events.at(-1).stop_reason).toEqual({ type: 'end_turn' });
      expect(await grants(refreshToken)).toBe(1);
    });

    it('does not refresh again when the refreshed token is refused too', async () => {
      const refreshToken = refreshTokenFor('refused-twice', { refused: true });
      const { vaultId } = await oauthCredential({ accessToken: 'revoked-early-9a3b', refreshToken });
      const id = await sessionWith(vaultId);
      await say(id, 'hello');
      const events = await settle(id);
      const errors = events.filter((e) => e.type === 'session.error');
      expect(errors.map((e) => e.error.type)).toEqual(['mcp_authentication_failed_error']);
      expect(errors[0].error.message).toContain('just refreshed');
      expect(JSON.stringify(events)).not.toContain('refused-by-the-server');
      expect(events.at(-1).stop_reason).toEqual({ type: 'end_turn' });
      expect(await grants(refreshToken)).toBe(1);
    });

    it('does not refresh a just-refreshed token the server refuses', async () => {
      const refreshToken = refreshTokenFor('expired-then-refused', { refused: true });
      const expiresAt = new Date(Date.now() + 1500).toISOString();
      const { vaultId } = await oauthCredential({ accessToken: 'expiring-4d5e', expiresAt, refreshToken });
      const id = await sessionWith(vaultId);
      await until(expiresAt);
      await say(id, 'hello');
      const events = await settle(id);
      expect(events.filter((e) => e.type === 'session.error').map((e) => e.error.type)).toEqual(['mcp_authentication_failed_error']);
      expect(await grants(refreshToken)).toBe(1);
    });
  });

  // A token revoked between the step's connection and a call: the step's MCP servers driven directly, since only
  // they can be told to revoke at that moment.
  describe('a token refused mid-step', () => {
    async function connectedWith(accessToken: string, refreshToken: string) {
      await fetch(new URL(`/_tokens?grant=${accessToken}`, MCP_URL), { method: 'POST' });
      const credential: McpCredential = {
        credentialId: 'vcrd_mid_step',
        vaultId: 'vlt_mid_step',
        type: 'mcp_oauth',
        mcpServerUrl: MCP_URL,
        token: accessToken,
        expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        refresh: {
          tokenEndpoint: new URL('/token', MCP_URL).href,
          clientId: OAUTH_CLIENT.clientId,
          tokenEndpointAuth: 'client_secret_post',
          clientSecret: OAUTH_CLIENT.clientSecret,
          refreshToken,
          resource: null,
          scope: null,
        },
      };
      const recorded: RefreshedToken[] = [];
      const emitted: any[] = [];
      const spec = {
        workspaceId: 'wrkspc_default',
        vaultIds: ['vlt_mid_step'],
        agent: {
          mcp_servers: [{ type: 'url', name: 'orders', url: MCP_URL }],
          tools: [{ type: 'mcp_toolset', mcp_server_name: 'orders', configs: [], default_config: { enabled: true, permission_policy: { type: 'always_allow' } } }],
        },
      } as unknown as SessionSpec;
      const servers = await connectMcpServers(
        {
          spec,
          seen: [],
          mcp: mcpOverHttp,
          vault: {
            sessionMcpCredentials: async () => [credential],
            recordMcpRefresh: async (_ws, _c, token) => void recorded.push(token),
            sessionCredentials: async () => [],
            sessionRepositories: async () => [],
          },
          emit: async (events) => {
            emitted.push(...events);
            return [];
          },
        },
        new Map<string, ResolvedTool>(),
      );
      expect(servers.server('orders').ok).toBe(true);
      await fetch(new URL(`/_tokens?revoke=${accessToken}`, MCP_URL), { method: 'POST' });
      return { servers, recorded, emitted };
    }

    it('refreshes once and sends the call again over a new connection: the server runs it once', async () => {
      const refreshToken = refreshTokenFor('mid-step');
      const { servers, recorded, emitted } = await connectedWith('mid-step-access-6b7c', refreshToken);
      const outcome = await servers.call('orders', 'lookup_order', { order_id: 'G-1' });
      expect(outcome).toEqual({ isError: false, content: [{ type: 'text', text: 'order G-1: shipped on 2026-11-30' }] });
      expect(await serverCalls('G-1')).toBe(1);
      expect(await grants(refreshToken)).toBe(1);
      expect(recorded).toHaveLength(1);
      expect(emitted).toEqual([]);
      await servers.close();
    });

    it('answers the call as not run and reports mcp_authentication_failed_error when the refresh fails', async () => {
      const refreshToken = 'a-refresh-token-refused-mid-step';
      const { servers, recorded, emitted } = await connectedWith('mid-step-access-7c8d', refreshToken);
      const outcome = await servers.call('orders', 'lookup_order', { order_id: 'G-2' });
      expect(outcome.isError).toBe(true);
      expect(outcome.content[0]).toMatchObject({ type: 'text', text: expect.stringContaining('refreshing it failed') });
      expect(await serverCalls('G-2')).toBe(0);
      expect(await grants(refreshToken)).toBe(1);
      expect(recorded).toEqual([]);
      expect(emitted.map((e) => e.error)).toMatchObject([{ type: 'mcp_authentication_failed_error', mcp_server_name: 'orders' }]);
      expect(servers.server('orders').ok).toBe(false);
      expect(JSON.stringify([outcome, emitted])).not.toContain(refreshToken);
      await servers.close();
    });

    it('does not refresh a second time in the step when the new token is refused too', async () => {
      const refreshToken = refreshTokenFor('mid-step-refused', { refused: true });
      const { servers } = await connectedWith('mid-step-access-8d9e', refreshToken);
      const first = await servers.call('orders', 'lookup_order', { order_id: 'G-3' });
      const second = await servers.call('orders', 'lookup_order', { order_id: 'G-3' });
      expect([first.isError, second.isError]).toEqual([true, true]);
      expect(await serverCalls('G-3')).toBe(0);
      expect(await grants(refreshToken)).toBe(1);
      await servers.close();
    });
  });

  describe('server URLs', () => {
    it('refuses to connect to a URL an agent stored before the rule named, as mcp_connection_failed_error', async () => {
      // Written past the API's check, as an agent stored by an earlier version would be.
      const created = await workspaceStore(env, 'wrkspc_default').createAgent({
        name: 'old',
        model: 'claude-sonnet-5-5',
        mcp_servers: [{ type: 'url', name: 'own', url: 'http://127.0.0.1:8787/mcp' }],
        tools: [{ type: 'mcp_toolset', mcp_server_name: 'own', default_config: { permission_policy: { type: 'always_allow' } } }],
      });
      expect(created.ok).toBe(true);
      const agentId = created.ok ? created.value.id : '';
      const e = await call('POST', '/v1/environments', { name: 'env' });
      const s = await call('POST', '/v1/sessions', { agent: agentId, environment_id: e.body.id });
      expect(s.status, JSON.stringify(s.body)).toBe(200);
      await say(s.body.id, 'hello');
      const events = await settle(s.body.id);
      const errors = events.filter((e) => e.type === 'session.error');
      expect(errors.map((e) => e.error)).toMatchObject([{ type: 'mcp_connection_failed_error', mcp_server_name: 'own' }]);
      expect(errors[0].error.message).toContain('was not contacted');
      expect(errors[0].error.message).toContain('127.0.0.2');
      expect(events.at(-1).stop_reason).toEqual({ type: 'end_turn' });
    });
  });

  describe('mcp_oauth_validate', () => {
    const validate = (vaultId: string, credentialId: string) => call('POST', `/v1/vaults/${vaultId}/credentials/${credentialId}/mcp_oauth_validate`);

    it('answers valid for a token the server accepts, without the token in the answer', async () => {
      const { vaultId, credentialId } = await oauthCredential({ accessToken: TOKEN });
      const r = await validate(vaultId, credentialId);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body).toEqual({
        type: 'vault_credential_validation',
        credential_id: credentialId,
        vault_id: vaultId,
        status: 'valid',
        has_refresh_token: false,
        mcp_probe: null,
        refresh: null,
        validated_at: expect.any(String),
      });
      expect(JSON.stringify(r.body)).not.toContain(TOKEN);
    });

    it('answers invalid with the refused initialize and its 401 when the server refuses the token and nothing can refresh it', async () => {
      const { vaultId, credentialId } = await oauthCredential({ accessToken: 'not-the-token-5f6a' });
      const r = await validate(vaultId, credentialId);
      expect(r.body).toMatchObject({
        status: 'invalid',
        has_refresh_token: false,
        mcp_probe: { method: 'initialize', http_response: { status_code: 401, content_type: 'application/json', body_truncated: false } },
        refresh: { status: 'no_refresh_token', http_response: null },
      });
      expect(r.body.mcp_probe.http_response.body).toContain('unauthorized');
      expect(JSON.stringify(r.body)).not.toContain('not-the-token-5f6a');
    });

    it('refreshes a refused token once, stores the new one, and answers valid when it works', async () => {
      const refreshToken = refreshTokenFor('validate-401');
      const { vaultId, credentialId } = await oauthCredential({ accessToken: 'revoked-early-1b2c', refreshToken });
      const before = await call('GET', `/v1/vaults/${vaultId}/credentials/${credentialId}`);
      const r = await validate(vaultId, credentialId);
      expect(r.body).toMatchObject({ status: 'valid', has_refresh_token: true, mcp_probe: null, refresh: { status: 'succeeded', http_response: null } });
      expect(await grants(refreshToken)).toBe(1);
      const after = await call('GET', `/v1/vaults/${vaultId}/credentials/${credentialId}`);
      expect(after.body.updated_at).not.toBe(before.body.updated_at);
      // The stored token is the new one: validating again needs no refresh.
      const again = await validate(vaultId, credentialId);
      expect(again.body).toMatchObject({ status: 'valid', refresh: null });
      expect(await grants(refreshToken)).toBe(1);
      expect(JSON.stringify([r.body, after.body])).not.toContain(TOKEN);
    });

    it('refreshes an expired token before probing, stores it, and answers valid', async () => {
      const refreshToken = refreshTokenFor('validate-expired');
      const expiresAt = new Date(Date.now() + 1500).toISOString();
      const { vaultId, credentialId } = await oauthCredential({ accessToken: 'expiring-2c3d', expiresAt, refreshToken });
      await until(expiresAt);
      const r = await validate(vaultId, credentialId);
      expect(r.body).toMatchObject({ status: 'valid', mcp_probe: null, refresh: { status: 'succeeded', http_response: null } });
      const stored = await call('GET', `/v1/vaults/${vaultId}/credentials/${credentialId}`);
      expect(Date.parse(stored.body.auth.expires_at)).toBeGreaterThan(Date.now());
      expect(await grants(refreshToken)).toBe(1);
    });

    it('answers invalid with the token endpoint’s error, scrubbed, when the refresh after a 401 fails', async () => {
      const refreshToken = 'a-refresh-token-the-endpoint-refuses-too';
      const { vaultId, credentialId } = await oauthCredential({ accessToken: 'revoked-early-3d4e', refreshToken });
      const r = await validate(vaultId, credentialId);
      expect(r.body).toMatchObject({
        status: 'invalid',
        mcp_probe: { method: 'initialize', http_response: { status_code: 401 } },
        refresh: { status: 'failed', http_response: { status_code: 400, content_type: 'application/json' } },
      });
      expect(r.body.refresh.http_response.body).toContain('invalid_grant');
      for (const secret of [refreshToken, OAUTH_CLIENT.clientSecret, 'revoked-early-3d4e']) expect(JSON.stringify(r.body)).not.toContain(secret);
    });

    it('answers invalid when the refreshed token is refused too, having refreshed once', async () => {
      const refreshToken = refreshTokenFor('validate-refused-twice', { refused: true });
      const { vaultId, credentialId } = await oauthCredential({ accessToken: 'revoked-early-4e5f', refreshToken });
      const r = await validate(vaultId, credentialId);
      expect(r.body).toMatchObject({ status: 'invalid', mcp_probe: { method: 'initialize', http_response: { status_code: 401 } }, refresh: { status: 'succeeded' } });
      expect(await grants(refreshToken)).toBe(1);
    });

    it('answers unknown, with no HTTP answer, when the server cannot be reached', async () => {
      const { vaultId, credentialId } = await oauthCredential({ accessToken: TOKEN, serverUrl: DOWN_URL });
      const r = await validate(vaultId, credentialId);
      expect(r.body).toMatchObject({ status: 'unknown', mcp_probe: { method: 'initialize', http_response: null }, refresh: null });
    });

    it('answers unknown without contacting a server URL a credential stored before the URL rule names', async () => {
      const v = await call('POST', '/v1/vaults', { display_name: 'old' });
      // Written past the API's check, as a credential stored by an earlier version would be.
      const c = await workspaceStore(env, 'wrkspc_default').createCredential(v.body.id, {
        auth: { type: 'mcp_oauth', access_token: TOKEN, mcp_server_url: 'http://127.0.0.1:8787/mcp' },
      });
      expect(c.ok).toBe(true);
      const r = await validate(v.body.id, c.ok ? c.value.id : '');
      expect(r.body).toMatchObject({ status: 'unknown', mcp_probe: { method: 'initialize', http_response: null }, refresh: null });
    });

    it('answers invalid for an archived credential, whose token is gone, without probing', async () => {
      const { vaultId, credentialId } = await oauthCredential({ accessToken: TOKEN, refreshToken: refreshTokenFor('archived') });
      await call('POST', `/v1/vaults/${vaultId}/credentials/${credentialId}/archive`);
      const r = await validate(vaultId, credentialId);
      expect(r.body).toMatchObject({ status: 'invalid', has_refresh_token: false, mcp_probe: null, refresh: null });
    });
  });
});
