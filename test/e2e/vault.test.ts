// End to end: a vault credential used from the sandbox without the agent ever seeing it. The secret reaches the
// echo server on the credential's host, a placeholder reaches every other host, and afterwards the secret is in
// no event, no model request, no file of the runtime's state and no tool result. Then the master key rotates.
import Anthropic from '@anthropic-ai/sdk';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRuntime, type Runtime } from '../../scripts/runtime.ts';
import { rotateVaultKey } from '../../scripts/vault-rotate.ts';
import { startScriptedModel } from '../../scripted-model/server.ts';
import { filesHolding } from '../support/files.ts';

type Started = Awaited<ReturnType<typeof startScriptedModel>>;
type Event = Anthropic.Beta.Sessions.BetaManagedAgentsSessionEvent;

// Unique per run, so a hit can only come from this test.
const SECRET = `canary-${crypto.randomUUID()}`;
const API_KEY = 'vault-key';

interface Echo {
  server: Server;
  host: string;
  port: number;
  received: IncomingHttpHeaders[];
}

/** An upstream on its own loopback address that records each request's headers and echoes them back. */
async function echoServer(host: string): Promise<Echo> {
  const received: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    received.push(req.headers);
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ host, headers: req.headers }));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { server, host, port: (server.address() as AddressInfo).port, received };
}

describe('vault credentials through the egress proxy', () => {
  let model: Started;
  let runtime: Runtime;
  let client: Anthropic;
  let stateDir: string;
  let allowed: Echo;
  let other: Echo;
  let environmentId: string;
  let vaultId: string;
  let agentId: string;

  const start = async () => {
    runtime = await startRuntime({
      port: 0,
      stateDir,
      env: { ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: 'scripted', EDGEHARNESS_API_KEY: API_KEY, PATH: process.env.PATH, HOME: process.env.HOME },
    });
    client = new Anthropic({ baseURL: runtime.url, apiKey: runtime.apiKey, maxRetries: 0 });
  };

  beforeAll(async () => {
    [allowed, other] = await Promise.all([echoServer('127.0.0.2'), echoServer('127.0.0.3')]);
    model = await startScriptedModel({ port: 0 });
    stateDir = mkdtempSync(path.join(tmpdir(), 'eh-vault-'));
    await start();
    environmentId = (
      await client.beta.environments.create({
        name: 'vault',
        config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: ['127.0.0.2', '127.0.0.3'] } },
      })
    ).id;
    agentId = (await client.beta.agents.create({ name: 'vault user', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] })).id;
  });

  afterAll(async () => {
    await runtime?.stop();
    await model?.close();
    for (const echo of [allowed, other]) echo?.server.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  async function turn(id: string, text: string): Promise<Event[]> {
    const stream = await client.beta.sessions.events.stream(id);
    await client.beta.sessions.events.send(id, { events: [{ type: 'user.message', content: [{ type: 'text', text }] }] });
    const seen: Event[] = [];
    for await (const ev of stream) {
      seen.push(ev as Event);
      if (ev.type === 'session.status_idle') break;
    }
    return seen;
  }

  const resultText = (evs: Event[]) =>
    evs.flatMap((e) => (e.type === 'agent.tool_result' ? (e.content ?? []).map((b) => ('text' in b ? b.text : '')) : [])).join('');
  const curlBoth = (tag: string) =>
    `[[tool:bash ${JSON.stringify({
      command:
        `echo "var=$TOKEN"; ` +
        `curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.2:${allowed.port}/${tag}; echo; ` +
        `curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.3:${other.port}/${tag}; echo`,
    })}]]`;

  it('never returns the secret from create, retrieve, list or update', async () => {
    const vault = await client.beta.vaults.create({ display_name: 'canary vault' });
    vaultId = vault.id;
    const created = await client.beta.vaults.credentials.create(vaultId, {
      display_name: 'echo token',
      auth: { type: 'environment_variable', secret_name: 'TOKEN', secret_value: SECRET, networking: { type: 'limited', allowed_hosts: ['127.0.0.2'] } },
    });
    const responses = [
      created,
      await client.beta.vaults.credentials.retrieve(created.id, { vault_id: vaultId }),
      await client.beta.vaults.credentials.list(vaultId),
      await client.beta.vaults.credentials.update(created.id, { vault_id: vaultId, display_name: 'echo token (renamed)' }),
    ];
    for (const r of responses) expect(JSON.stringify(r)).not.toContain(SECRET);
    expect(created.auth).toEqual({
      type: 'environment_variable',
      secret_name: 'TOKEN',
      networking: { type: 'limited', allowed_hosts: ['127.0.0.2'] },
      injection_location: { header: true, body: false },
    });
  });

  it('delivers the secret to the credential host only, and the agent sees a placeholder', async () => {
    const session = await client.beta.sessions.create({ agent: agentId, environment_id: environmentId, vault_ids: [vaultId] });
    expect(session.vault_ids).toEqual([vaultId]);
    const events = await turn(session.id, curlBoth('first'));
    const text = resultText(events);
    const placeholder = /var=(\S+)/.exec(text)?.[1] ?? '';
    expect(placeholder).toMatch(/^edgeharness_placeholder_vcrd_/);
    // the allowed host got the real value; the other one only the placeholder
    expect(allowed.received.map((h) => h.authorization)).toEqual([`Bearer ${SECRET}`]);
    expect(other.received.map((h) => h.authorization)).toEqual([`Bearer ${placeholder}`]);
    // both echoed what they got; the tool result shows the placeholder in both echoes
    expect(text).not.toContain(SECRET);
    expect(text.split(`Bearer ${placeholder}`).length - 1).toBe(2);

    // the canary: nowhere the agent or the model can look, nowhere at rest
    const listed = await client.beta.sessions.events.list(session.id, { limit: 1000 });
    expect(JSON.stringify(listed.data)).not.toContain(SECRET);
    expect(JSON.stringify(events)).not.toContain(SECRET);
    expect(JSON.stringify(model.model.requests)).not.toContain(SECRET);
    expect(filesHolding(stateDir, SECRET)).toEqual([]);
  });

  it('says when a credential lists a host the environment cannot reach', async () => {
    const vault = await client.beta.vaults.create({ display_name: 'unreachable' });
    const cred = await client.beta.vaults.credentials.create(vault.id, {
      auth: { type: 'environment_variable', secret_name: 'ELSEWHERE', secret_value: `${SECRET}-2`, networking: { type: 'limited', allowed_hosts: ['api.example.com'] } },
    });
    const session = await client.beta.sessions.create({ agent: agentId, environment_id: environmentId, vault_ids: [vault.id] });
    const events = (await client.beta.sessions.events.list(session.id)).data;
    const error = events.find((e) => e.type === 'session.error');
    expect(error && error.type === 'session.error' ? error.error : undefined).toMatchObject({
      type: 'credential_host_unreachable_error',
      credential_id: cred.id,
      vault_id: vault.id,
    });
  });

  it('keeps working after the master key is rotated', async () => {
    await runtime.stop();
    rotateVaultKey(stateDir);
    await start();
    const before = allowed.received.length;
    const session = await client.beta.sessions.create({ agent: agentId, environment_id: environmentId, vault_ids: [vaultId] });
    const text = resultText(await turn(session.id, curlBoth('after-rotation')));
    expect(text).not.toContain(SECRET);
    expect(allowed.received.slice(before).map((h) => h.authorization)).toEqual([`Bearer ${SECRET}`]);
    // a credential written under the new key works alongside the old one
    const vault = await client.beta.vaults.create({ display_name: 'after rotation' });
    await client.beta.vaults.credentials.create(vault.id, {
      auth: { type: 'environment_variable', secret_name: 'TOKEN2', secret_value: `${SECRET}-new`, networking: { type: 'limited', allowed_hosts: ['127.0.0.2'] } },
    });
    const both = await client.beta.sessions.create({ agent: agentId, environment_id: environmentId, vault_ids: [vaultId, vault.id] });
    await turn(both.id, `[[tool:bash ${JSON.stringify({ command: `curl -s -H "X-One: $TOKEN" -H "X-Two: $TOKEN2" http://127.0.0.2:${allowed.port}/two` })}]]`);
    const last = allowed.received.at(-1)!;
    expect([last['x-one'], last['x-two']]).toEqual([SECRET, `${SECRET}-new`]);
    expect(filesHolding(stateDir, SECRET)).toEqual([]);
  });
});
