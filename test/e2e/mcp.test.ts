// End to end: an agent's MCP server reached from the real runtime (workerd's brain, not the sandbox) with the bearer
// token of the session's vault credential; the call round-trips as agent.mcp_tool_use / agent.mcp_tool_result, and
// the token is in no event, no model request and no file of the runtime's state, even when the server echoes it;
// and mcp_oauth_validate, through the SDK, probes the server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filesHolding } from '../support/files.ts';
import { startMcpServer, type TestMcpServer } from '../support/mcp-server.ts';
import { expectSecretNowhere } from '../support/secret-canary.ts';
import { startScriptedRuntime, turn as sendAndWait } from '../support/scripted-runtime.ts';
import { suiteFixture } from '../support/suite-fixture.ts';

// Unique per run, so a hit can only come from this test.
const TOKEN = `mcp_canary_${crypto.randomUUID().replace(/-/g, '')}`;

describe('MCP servers (end to end)', () => {
  const e2e = suiteFixture(() => startScriptedRuntime('mcp', { apiKey: 'mcp-key' }), (run) => run.stop());
  let mcp: TestMcpServer;

  beforeAll(async () => {
    mcp = await startMcpServer(TOKEN);
  });
  afterAll(async () => {
    await mcp?.close();
  });

  it('calls the server’s tool with the vault’s bearer token and keeps the token out of events, model requests and state', async () => {
    const vault = await e2e.client.beta.vaults.create({ display_name: 'mcp' });
    await e2e.client.beta.vaults.credentials.create(vault.id, { auth: { type: 'static_bearer', token: TOKEN, mcp_server_url: mcp.url } });
    const agent = await e2e.client.beta.agents.create({
      name: 'orders clerk',
      model: 'claude-sonnet-5-5',
      mcp_servers: [{ type: 'url', name: 'orders', url: mcp.url }],
      tools: [{ type: 'mcp_toolset', mcp_server_name: 'orders', default_config: { permission_policy: { type: 'always_allow' } } }],
    });
    const environment = await e2e.client.beta.environments.create({ name: 'mcp' });
    const session = await e2e.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, vault_ids: [vault.id] });

    const events = await sendAndWait(e2e.client, session.id, '[[tool:lookup_order {"order_id":"E2E-1"}]]');
    expect(events.filter((e) => e.type === 'session.error')).toEqual([]);
    const use = events.find((e) => e.type === 'agent.mcp_tool_use');
    expect(use).toMatchObject({ mcp_server_name: 'orders', name: 'lookup_order', input: { order_id: 'E2E-1' } });
    const result = events.find((e) => e.type === 'agent.mcp_tool_result');
    expect(result).toMatchObject({ mcp_tool_use_id: use?.id, is_error: false, content: [{ type: 'text', text: 'order E2E-1: shipped on 2026-11-30' }] });
    // the server ran the tool once: the answer is its own, not a cached or made-up one
    const calls = (await (await fetch(new URL('/_calls?order_id=E2E-1', mcp.url))).json()) as { calls: number };
    expect(calls.calls).toBe(1);

    // a server that echoes the header it got: the token reached it, and goes no further
    const echoed = await sendAndWait(e2e.client, session.id, '[[tool:show_authorization {}]]');
    const echo = echoed.find((e) => e.type === 'agent.mcp_tool_result');
    expect(echo?.is_error).toBe(false);
    expect(JSON.stringify(echo?.content)).toMatch(/you sent: Bearer /);

    // the canary: nowhere the agent or the model can look, nowhere at rest
    const listed = await expectSecretNowhere(e2e, session.id, TOKEN, [Buffer.from(TOKEN).toString('base64')]);
    // and each place looked at holds the session, so finding nothing there means something
    expect(listed.map((e) => e.type)).toContain('agent.mcp_tool_result');
    expect(e2e.model.model.requests.length).toBeGreaterThan(0);
    expect(filesHolding(e2e.stateDir, 'E2E-1').length).toBeGreaterThan(0);
  });

  it('validates an mcp_oauth credential through the SDK by probing the server: valid with the token, invalid with another', async () => {
    const vault = await e2e.client.beta.vaults.create({ display_name: 'oauth' });
    const good = await e2e.client.beta.vaults.credentials.create(vault.id, { auth: { type: 'mcp_oauth', access_token: TOKEN, mcp_server_url: mcp.url } });
    const valid = await e2e.client.beta.vaults.credentials.mcpOAuthValidate(good.id, { vault_id: vault.id });
    expect(valid).toMatchObject({ type: 'vault_credential_validation', credential_id: good.id, status: 'valid', mcp_probe: null, refresh: null });

    const other = await e2e.client.beta.vaults.create({ display_name: 'oauth, wrong token' });
    const bad = await e2e.client.beta.vaults.credentials.create(other.id, { auth: { type: 'mcp_oauth', access_token: 'not-the-token-e2e', mcp_server_url: mcp.url } });
    const invalid = await e2e.client.beta.vaults.credentials.mcpOAuthValidate(bad.id, { vault_id: other.id });
    expect(invalid).toMatchObject({ status: 'invalid', mcp_probe: { method: 'initialize', http_response: { status_code: 401 } }, refresh: { status: 'no_refresh_token' } });
    expect(JSON.stringify([valid, invalid])).not.toContain(TOKEN);
  });
});
