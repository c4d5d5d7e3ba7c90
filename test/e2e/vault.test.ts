// End to end: a vault credential used from the sandbox without the agent ever seeing it. The secret reaches the
// echo server on the credential's host, a placeholder reaches every other host, and afterwards the secret is in
// no event, no model request, no file of the runtime's state and no tool result, however the agent re-spells what
// an echo gave it. Then the master key rotates.
import Anthropic from '@anthropic-ai/sdk';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateVaultKey } from '../../scripts/vault-rotate.ts';
import { filesHolding } from '../support/files.ts';
import { startScriptedRuntime, turn as sendAndWait } from '../support/scripted-runtime.ts';
import { suiteFixture } from '../support/suite-fixture.ts';

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

/**
 * An upstream on its own loopback address that reflects each request's headers and body as JSON: as one write,
 * gzip-compressed (`?gzip`), or three bytes per write, each its own chunk (`?dribble`).
 */
async function reflector(host: string): Promise<Echo & { bodies: string[] }> {
  const received: IncomingHttpHeaders[] = [];
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      received.push(req.headers);
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      const reflected = Buffer.from(`${JSON.stringify({ headers: req.headers, body: bodies.at(-1) })}\n`);
      if (req.url?.endsWith('?gzip')) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
        res.end(gzipSync(reflected));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      if (!req.url?.endsWith('?dribble')) {
        res.end(reflected);
        return;
      }
      for (let i = 0; i < reflected.length; i += 3) {
        res.write(reflected.subarray(i, i + 3));
        await new Promise((r) => setImmediate(r));
      }
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { server, host, port: (server.address() as AddressInfo).port, received, bodies };
}

/**
 * Whether `text` (events or requests as JSON) holds `secret` in a spelling an agent could make of it: as is or
 * re-cased, reversed, hex, octal dump, base64 (at any alignment, wrapped or not), folded into lines. Line breaks,
 * spaces and their JSON escapes are removed first, so a folded or wrapped spelling reads as one.
 */
function holdsSecret(text: string, secret: string): string | undefined {
  const joined = text.replace(/\\[nrt]|\s/g, '');
  const lower = joined.toLowerCase();
  const reversed = [...secret].reverse().join('');
  const plain: Record<string, string> = { 'as is': secret, reversed, hex: Buffer.from(secret).toString('hex'), 'reversed hex': Buffer.from(reversed).toString('hex') };
  for (const [name, form] of Object.entries(plain)) if (lower.includes(form.toLowerCase())) return name;
  // od -c spells one byte per column: with spaces gone it reads as the secret itself, caught above
  const fragment = secret.slice(-16);
  for (const run of joined.match(/[A-Za-z0-9+/_-]{20,}/g) ?? []) {
    for (let skip = 0; skip < 4; skip++) {
      const decoded = Buffer.from(run.slice(skip).replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('latin1');
      if (decoded.includes(fragment) || decoded.includes([...fragment].reverse().join(''))) return 'base64';
    }
  }
  return undefined;
}

describe('vault credentials through the egress proxy', () => {
  const e2e = suiteFixture(() => startScriptedRuntime('vault', { apiKey: API_KEY }), (run) => run.stop());
  let allowed: Echo;
  let other: Echo;
  let environmentId: string;
  let vaultId: string;
  let agentId: string;

  beforeAll(async () => {
    [allowed, other] = await Promise.all([echoServer('127.0.0.2'), echoServer('127.0.0.3')]);
    environmentId = (
      await e2e.client.beta.environments.create({
        name: 'vault',
        config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: ['127.0.0.2', '127.0.0.3'] } },
      })
    ).id;
    agentId = (await e2e.client.beta.agents.create({ name: 'vault user', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] })).id;
  });

  afterAll(() => {
    for (const echo of [allowed, other]) echo?.server.close();
  });

  const turn = (id: string, text: string) => sendAndWait(e2e.client, id, text);

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
    const vault = await e2e.client.beta.vaults.create({ display_name: 'canary vault' });
    vaultId = vault.id;
    const created = await e2e.client.beta.vaults.credentials.create(vaultId, {
      display_name: 'echo token',
      auth: { type: 'environment_variable', secret_name: 'TOKEN', secret_value: SECRET, networking: { type: 'limited', allowed_hosts: ['127.0.0.2'] } },
    });
    const responses = [
      created,
      await e2e.client.beta.vaults.credentials.retrieve(created.id, { vault_id: vaultId }),
      await e2e.client.beta.vaults.credentials.list(vaultId),
      await e2e.client.beta.vaults.credentials.update(created.id, { vault_id: vaultId, display_name: 'echo token (renamed)' }),
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
    const session = await e2e.client.beta.sessions.create({ agent: agentId, environment_id: environmentId, vault_ids: [vaultId] });
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
    const listed = await e2e.client.beta.sessions.events.list(session.id, { limit: 1000 });
    expect(JSON.stringify(listed.data)).not.toContain(SECRET);
    expect(JSON.stringify(events)).not.toContain(SECRET);
    expect(JSON.stringify(e2e.model.model.requests)).not.toContain(SECRET);
    expect(filesHolding(e2e.stateDir, SECRET)).toEqual([]);
  });

  it('an echo of the secret reaches the agent scrubbed: no re-spelling of it gets into a result, the events, the stream or a model request', async () => {
    const echo = await reflector('127.0.0.5');
    try {
      const secret = `canary-echo-${crypto.randomUUID()}`;
      const environment = await e2e.client.beta.environments.create({
        name: 'echo',
        config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: ['127.0.0.5'] } },
      });
      const vault = await e2e.client.beta.vaults.create({ display_name: 'echo vault' });
      await e2e.client.beta.vaults.credentials.create(vault.id, {
        auth: {
          type: 'environment_variable',
          secret_name: 'ECHO_TOKEN',
          secret_value: secret,
          networking: { type: 'limited', allowed_hosts: ['127.0.0.5'] },
          injection_location: { header: true, body: true },
        },
      });
      const session = await e2e.client.beta.sessions.create({ agent: agentId, environment_id: environment.id, vault_ids: [vault.id] });
      const url = `http://127.0.0.5:${echo.port}/`;
      // every way of fetching the echo (plain, gzip, a few bytes per write), each re-spelt every way
      const respell = [
        'echo "$R"', 'echo "$R" | tr a-z A-Z', 'echo "$R" | tr A-Z a-z', 'echo "$R" | rev', 'echo "$R" | rev | tr a-z A-Z',
        'echo "$R" | xxd -p', 'echo "$R" | od -An -tx1', 'echo "$R" | od -c',
        'echo "$R" | base64', 'echo "$R" | base64 -w0', 'echo "x$R" | base64', 'echo "xy$R" | base64', 'echo "$R" | fold -w3',
        'echo "$R" | gzip | base64',
      ].join('; ');
      const command = ['', '?gzip', '?dribble']
        .map((query) => `R=$(curl -s --compressed -H "Authorization: Bearer $ECHO_TOKEN" -H "X-Token: $ECHO_TOKEN" --data-binary "token=$ECHO_TOKEN" '${url}${query}'); ${respell}`)
        .join('; ');
      const events = await turn(session.id, `[[tool:bash ${JSON.stringify({ command })}]]`);

      // the host got the value in the header and the body, three times, and reflected it
      expect(echo.received.map((h) => [h.authorization, h['x-token']])).toEqual(Array(3).fill([`Bearer ${secret}`, secret]));
      expect(echo.bodies).toEqual(Array(3).fill(`token=${secret}`));
      // the agent's pipeline ran on the scrubbed echo: the placeholder, re-spelt
      const text = resultText(events);
      expect(text).toContain('Bearer edgeharness_placeholder_vcrd_');
      expect(text).toContain('BEARER EDGEHARNESS_PLACEHOLDER_VCRD_');
      expect(text).toContain([...'edgeharness_placeholder_vcrd_'].reverse().join(''));

      const listed = await e2e.client.beta.sessions.events.list(session.id, { limit: 1000 });
      const replay = await replayed(session.id, listed.data[0]?.id as string);
      const places: Record<string, string> = {
        'the tool result': text,
        'the events list': JSON.stringify(listed.data),
        'the live stream': JSON.stringify(events),
        'the stream replayed': replay,
        'the model requests': JSON.stringify(e2e.model.model.requests),
      };
      for (const [place, content] of Object.entries(places)) expect(holdsSecret(content, secret), place).toBeUndefined();
      expect(filesHolding(e2e.stateDir, secret)).toEqual([]);
    } finally {
      echo.server.close();
    }
  });

  /** The session's stream replayed from after its first event, up to the last turn's idle, as the SSE text. */
  async function replayed(sessionId: string, after: string): Promise<string> {
    const controller = new AbortController();
    const response = await fetch(`${e2e.runtime.url}/v1/sessions/${sessionId}/events/stream?after=${after}`, {
      headers: { 'x-api-key': e2e.runtime.apiKey, accept: 'text/event-stream' },
      signal: controller.signal,
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    try {
      while (!text.includes('session.status_idle')) {
        const next = await reader.read();
        if (next.done) break;
        text += Buffer.from(next.value).toString('utf8');
      }
    } finally {
      controller.abort();
    }
    return text;
  }

  it('says when a credential lists a host the environment cannot reach', async () => {
    const vault = await e2e.client.beta.vaults.create({ display_name: 'unreachable' });
    const cred = await e2e.client.beta.vaults.credentials.create(vault.id, {
      auth: { type: 'environment_variable', secret_name: 'ELSEWHERE', secret_value: `${SECRET}-2`, networking: { type: 'limited', allowed_hosts: ['api.example.com'] } },
    });
    const session = await e2e.client.beta.sessions.create({ agent: agentId, environment_id: environmentId, vault_ids: [vault.id] });
    const events = (await e2e.client.beta.sessions.events.list(session.id)).data;
    const error = events.find((e) => e.type === 'session.error');
    expect(error && error.type === 'session.error' ? error.error : undefined).toMatchObject({
      type: 'credential_host_unreachable_error',
      credential_id: cred.id,
      vault_id: vault.id,
    });
  });

  it('keeps working after the master key is rotated', async () => {
    await e2e.runtime.stop();
    rotateVaultKey(e2e.stateDir);
    await e2e.restart();
    const before = allowed.received.length;
    const session = await e2e.client.beta.sessions.create({ agent: agentId, environment_id: environmentId, vault_ids: [vaultId] });
    const text = resultText(await turn(session.id, curlBoth('after-rotation')));
    expect(text).not.toContain(SECRET);
    expect(allowed.received.slice(before).map((h) => h.authorization)).toEqual([`Bearer ${SECRET}`]);
    // a credential written under the new key works alongside the old one
    const vault = await e2e.client.beta.vaults.create({ display_name: 'after rotation' });
    await e2e.client.beta.vaults.credentials.create(vault.id, {
      auth: { type: 'environment_variable', secret_name: 'TOKEN2', secret_value: `${SECRET}-new`, networking: { type: 'limited', allowed_hosts: ['127.0.0.2'] } },
    });
    const both = await e2e.client.beta.sessions.create({ agent: agentId, environment_id: environmentId, vault_ids: [vaultId, vault.id] });
    await turn(both.id, `[[tool:bash ${JSON.stringify({ command: `curl -s -H "X-One: $TOKEN" -H "X-Two: $TOKEN2" http://127.0.0.2:${allowed.port}/two` })}]]`);
    const last = allowed.received.at(-1)!;
    expect([last['x-one'], last['x-two']]).toEqual([SECRET, `${SECRET}-new`]);
    expect(filesHolding(e2e.stateDir, SECRET)).toEqual([]);
  });
});
