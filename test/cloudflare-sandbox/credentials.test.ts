// Vault credentials in the Cloudflare provider: the outbound handler substitutes placeholders with values read
// from the vault for the credential's hosts only, over TLS (or to loopback), and scrubs every response of the values
// (headers and bodies: compressed, binary, streamed) before the container reads it; the container's command line
// carries placeholders only; outcomes are redacted before the ledger records them.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyEgressPolicy, vaultReaderOf, type EgressParams, type VaultRef } from '../../sandbox/cloudflare/outbound-handler.ts';
import { createContainerHands } from '../../sandbox/cloudflare/container-hands.ts';
import { placeholderFor, type SandboxCredential } from '../../sandbox/credentials.ts';
import type { Networking, SandboxSpec } from '../../sandbox/hands.ts';
import { echoSpellings } from '../support/secret-echoes.ts';
import { FakeSandboxes } from './support/fake-sandbox.ts';

const SECRET = 'sk-live-7f3a9c1e-canary';
const limited = (allowed_hosts: string[]): Networking => ({ type: 'limited', allowed_hosts, allow_package_managers: false, allow_mcp_servers: false });

function credential(over: Partial<SandboxCredential> = {}): SandboxCredential {
  const id = over.credentialId ?? 'vcrd_token';
  return {
    credentialId: id,
    vaultId: 'vlt_one',
    name: 'TOKEN',
    placeholder: placeholderFor(id),
    value: SECRET,
    networking: { type: 'limited', allowed_hosts: ['api.example.com'] },
    injection: { header: true, body: false },
    ...over,
  };
}

/** An upstream that echoes what it received: headers and body, as JSON. */
function echoUpstream() {
  const received: Array<{ url: string; headers: Record<string, string>; body: string }> = [];
  const forward = async (request: Request): Promise<Response> => {
    const entry = { url: request.url, headers: Object.fromEntries(request.headers), body: await request.text() };
    received.push(entry);
    return new Response(JSON.stringify(entry), { headers: { 'content-type': 'application/json', 'x-echo-auth': entry.headers.authorization ?? '' } });
  };
  return { received, forward };
}

const vault: VaultRef = { workspaceId: 'wrkspc_default', vaultIds: ['vlt_one'] };
const params = (networking: Networking): EgressParams => ({ networking, vault });

describe('the outbound handler with vault credentials', () => {
  it('puts the value in the header for the credential host and redacts the echo', async () => {
    const { received, forward } = echoUpstream();
    const cred = credential();
    const response = await applyEgressPolicy(
      new Request('https://api.example.com/v1/me', { headers: { authorization: `Bearer ${cred.placeholder}` } }),
      params(limited(['api.example.com', 'other.example.com'])),
      forward,
      {},
      async (ref) => (ref.vaultIds[0] === 'vlt_one' ? [cred] : []),
    );
    expect(received[0]?.headers.authorization).toBe(`Bearer ${SECRET}`);
    const text = await response.text();
    expect(text).not.toContain(SECRET);
    expect(text).toContain(`Bearer ${cred.placeholder}`);
    expect(response.headers.get('x-echo-auth')).toBe(`Bearer ${cred.placeholder}`);
  });

  it('leaves the placeholder on a host the credential does not list', async () => {
    const { received, forward } = echoUpstream();
    const cred = credential();
    await applyEgressPolicy(
      new Request('https://other.example.com/', { headers: { authorization: `Bearer ${cred.placeholder}` } }),
      params(limited(['api.example.com', 'other.example.com'])),
      forward,
      {},
      async () => [cred],
    );
    expect(received[0]?.headers.authorization).toBe(`Bearer ${cred.placeholder}`);
    expect(JSON.stringify(received)).not.toContain(SECRET);
  });

  it('substitutes a value shorter than 4 characters as any other, but leaves its echo alone, as docs/vault.md says', async () => {
    const { received, forward } = echoUpstream();
    const cred = credential({ value: 'abc' });
    const response = await applyEgressPolicy(
      new Request('https://api.example.com/v1/me', { headers: { authorization: `Bearer ${cred.placeholder}` } }),
      params(limited(['api.example.com'])),
      forward,
      {},
      async () => [cred],
    );
    expect(received[0]?.headers.authorization).toBe('Bearer abc');
    expect(response.headers.get('x-echo-auth')).toBe('Bearer abc');
  });

  // The cases below are parallel on purpose: one refusal each, read side by side.
  it('refuses to send the value over plain http to a host that is not loopback', async () => {
    const { received, forward } = echoUpstream();
    const cred = credential();
    const response = await applyEgressPolicy(
      new Request('http://api.example.com/', { headers: { authorization: `Bearer ${cred.placeholder}` } }),
      params(limited(['api.example.com'])),
      forward,
      {},
      async () => [cred],
    );
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('substituted only over https');
    expect(received).toHaveLength(0);
  });

  it('substitutes in a body only when the credential allows it', async () => {
    const headerOnly = credential();
    const withBody = credential({ credentialId: 'vcrd_body', name: 'BODY_TOKEN', placeholder: placeholderFor('vcrd_body'), injection: { header: true, body: true } });
    const { received, forward } = echoUpstream();
    const body = JSON.stringify({ a: headerOnly.placeholder, b: withBody.placeholder });
    await applyEgressPolicy(
      new Request('https://api.example.com/token', { method: 'POST', body, headers: { 'content-type': 'application/json' } }),
      params(limited(['api.example.com'])),
      forward,
      {},
      async () => [headerOnly, withBody],
    );
    expect(JSON.parse(received[0]?.body ?? '{}')).toEqual({ a: headerOnly.placeholder, b: SECRET });
  });

  it('matches wildcard hosts as the official API defines them, and any allowed host for unrestricted credentials', async () => {
    const wildcard = credential({ networking: { type: 'limited', allowed_hosts: ['*.example.com'] } });
    const anyHost = credential({ credentialId: 'vcrd_any', name: 'ANY', placeholder: placeholderFor('vcrd_any'), networking: { type: 'unrestricted' } });
    const send = async (url: string, placeholder: string) => {
      const { received, forward } = echoUpstream();
      await applyEgressPolicy(new Request(url, { headers: { 'x-key': placeholder } }), params({ type: 'unrestricted' }), forward, {}, async () => [wildcard, anyHost]);
      return received[0]?.headers['x-key'];
    };
    expect(await send('https://api.example.com/', wildcard.placeholder)).toBe(SECRET);
    expect(await send('https://example.com/', wildcard.placeholder)).toBe(wildcard.placeholder);
    expect(await send('https://elsewhere.net/', anyHost.placeholder)).toBe(SECRET);
  });

  it('still applies the environment policy first: a refused host never sees a credential', async () => {
    const { received, forward } = echoUpstream();
    const cred = credential({ networking: { type: 'unrestricted' } });
    const response = await applyEgressPolicy(
      new Request('https://not-allowed.example.net/', { headers: { authorization: `Bearer ${cred.placeholder}` } }),
      params(limited(['api.example.com'])),
      forward,
      {},
      async () => [cred],
    );
    expect(response.status).toBe(403);
    expect(received).toHaveLength(0);
  });
});

/** Every way the upstreams below spell the secret back, one a line. */
function echoes(secret: string): string {
  return echoSpellings(secret).join('\n');
}

/** Whether `bytes` hold the secret in any of the spellings `echoes` uses. */
function leaks(bytes: Uint8Array | string, secret: string): boolean {
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('latin1');
  return echoes(secret).split('\n').some((form) => text.includes(form) || text.includes(form.replace(/=+$/, '').slice(4, -4)));
}

async function run(upstream: (request: Request) => Promise<Response> | Response, request: Request, credentials = [credential()]): Promise<Response> {
  return applyEgressPolicy(request, params(limited(['api.example.com', 'other.example.com'])), async (r) => upstream(r), {}, async () => credentials);
}

describe("the outbound handler's vault", () => {
  it("reads a session's credentials from its workspace's store, by the workspace id", async () => {
    const asked: string[] = [];
    const WORKSPACE = {
      idFromName: (name: string) => ({ name }),
      get: (id: { name: string }) => ({
        sessionCredentials: async (vaultIds: string[]) => {
          asked.push(`${id.name}: ${vaultIds.join(',')}`);
          return [credential()];
        },
      }),
    };
    const read = vaultReaderOf({ WORKSPACE, OTHER: 'binding' });

    expect(await read?.(vault)).toEqual([credential()]);
    expect(asked).toEqual(['wrkspc_default: vlt_one']);
  });

  it('is absent from an env without a WORKSPACE namespace, so no placeholder is ever filled', () => {
    expect(vaultReaderOf(undefined)).toBeUndefined();
    expect(vaultReaderOf(null)).toBeUndefined();
    expect(vaultReaderOf({})).toBeUndefined();
    expect(vaultReaderOf({ WORKSPACE: 'not a namespace' })).toBeUndefined();
    expect(vaultReaderOf({ WORKSPACE: { get: () => ({}) } })).toBeUndefined();
  });
});

describe('what the container reads back from an upstream that echoes the secret', () => {
  const bearer = () => ({ authorization: `Bearer ${credential().placeholder}` });

  it('has no spelling of it in the status phrase, the headers or a binary body', async () => {
    const binary = Buffer.concat([randomBytes(50_000), Buffer.from(echoes(SECRET)), randomBytes(50_000)]);
    const response = await run(
      (r) => {
        const auth = r.headers.get('authorization') ?? '';
        return new Response(binary, {
          status: 200,
          statusText: `OK ${auth}`,
          headers: [
            ['content-type', 'application/octet-stream'],
            ['content-length', String(binary.length)],
            ['set-cookie', `s=${auth.slice(7)}; Path=/`],
            ['set-cookie', 'other=1'],
            ['location', `https://api.example.com/?token=${encodeURIComponent(auth.slice(7))}`],
            [`x-${SECRET.toLowerCase()}`, 'a name too'],
          ],
        });
      },
      new Request('https://api.example.com/download', { headers: bearer() }),
    );
    const body = new Uint8Array(await response.arrayBuffer());
    expect(leaks(body, SECRET)).toBe(false);
    expect(leaks(response.statusText, SECRET)).toBe(false);
    expect(leaks(JSON.stringify([...response.headers]), SECRET)).toBe(false);
    expect(response.statusText).toBe(`OK Bearer ${credential().placeholder}`);
    expect(response.headers.getSetCookie()).toEqual([`s=${credential().placeholder}; Path=/`, 'other=1']);
    expect(response.headers.get('content-length')).toBeNull();
    // every other byte as the upstream sent it
    expect(Buffer.from(body.subarray(0, 50_000)).equals(binary.subarray(0, 50_000))).toBe(true);
    expect(Buffer.from(body.subarray(body.length - 50_000)).equals(binary.subarray(binary.length - 50_000))).toBe(true);
  });

  for (const [coding, compress] of [
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    ['deflate', deflateRawSync], // raw deflate, as some servers send it under that name
  ] as const) {
    it(`has none in a ${coding === 'deflate' && compress === deflateRawSync ? 'raw deflate' : coding} body: decoded, scrubbed, and sent without its coding`, async () => {
      const response = await run(
        (r) => {
          const echoed = compress(Buffer.from(`${r.headers.get('authorization')}\n${echoes(SECRET)}`));
          return new Response(echoed, { headers: { 'content-type': 'text/plain', 'content-encoding': coding, 'content-length': String(echoed.length) } });
        },
        new Request('https://api.example.com/', { headers: bearer() }),
      );
      expect(response.headers.get('content-encoding')).toBeNull();
      expect(response.headers.get('content-length')).toBeNull();
      const text = await response.text();
      expect(text.startsWith(`Bearer ${credential().placeholder}\n`)).toBe(true);
      expect(leaks(text, SECRET)).toBe(false);
    });
  }

  it('asks the upstream only for codings it can undo, and refuses a body in any other', async () => {
    const asked: Array<string | null> = [];
    const response = await run(
      (r) => {
        asked.push(r.headers.get('accept-encoding'));
        return new Response(brotliCompressSync(Buffer.from(SECRET)), { headers: { 'content-encoding': 'br' } });
      },
      new Request('https://api.example.com/', { headers: { ...bearer(), 'accept-encoding': 'br, gzip;q=0.8, zstd' } }),
    );
    expect(asked).toEqual(['gzip;q=0.8']);
    expect(response.status).toBe(502);
    expect(await response.text()).toContain('encoded as br, which this proxy cannot decode');
  });

  it('streams: the first part reaches the container before the upstream has sent the rest, a value split between parts included', async () => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => { release = resolve; });
    const half = Math.floor(SECRET.length / 2);
    const response = await run(
      () =>
        new Response(
          new ReadableStream<Uint8Array>({
            async start(controller) {
              controller.enqueue(Buffer.from(`data: first event\n\n${'.'.repeat(4096)}data: ${SECRET.slice(0, half)}`));
              await released; // until the container has read the first event
              controller.enqueue(Buffer.from(`${SECRET.slice(half)}\n\n`));
              controller.close();
            },
          }),
          { headers: { 'content-type': 'text/event-stream' } },
        ),
      new Request('https://api.example.com/events', { headers: bearer() }),
    );
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value ?? []).toString()).toContain('data: first event');
    release();
    let rest = '';
    for (let next = await reader.read(); !next.done; next = await reader.read()) rest += Buffer.from(next.value).toString();
    expect(Buffer.from(first.value ?? []).toString() + rest).toMatch(new RegExp(`data: ${credential().placeholder}\\n\\n$`));
    expect(leaks(rest, SECRET)).toBe(false);
  });

  it('has none from a host the credential is not bound to either, which could serve back what a bound one stored', async () => {
    const response = await run(() => new Response(`stored: ${SECRET}`), new Request('https://other.example.com/paste/1'));
    expect(await response.text()).toBe(`stored: ${credential().placeholder}`);
  });

  it('refuses a WebSocket to any host, whose frames it could not scrub, saying why', async () => {
    const asked: string[] = [];
    const response = await run(
      (r) => {
        asked.push(r.url);
        return new Response(`stored: ${SECRET}`);
      },
      new Request('https://other.example.com/socket', { headers: { upgrade: 'websocket', connection: 'Upgrade' } }),
    );
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('refused in a session with credentials, to every host');
    expect(asked).toEqual([]);
  });

  it('cannot fetch the secret in pieces: range headers are not sent upstream', async () => {
    const asked: Array<[string | null, string | null]> = [];
    await run(
      (r) => {
        asked.push([r.headers.get('range'), r.headers.get('if-range')]);
        return new Response('whole');
      },
      new Request('https://api.example.com/', { headers: { ...bearer(), range: 'bytes=0-9', 'if-range': '"etag"' } }),
    );
    expect(asked).toEqual([[null, null]]);
  });

  it('passes a session without credentials through untouched, compressed bodies included', async () => {
    const gz = gzipSync(Buffer.from(SECRET));
    const response = await applyEgressPolicy(
      new Request('https://api.example.com/'),
      { networking: limited(['api.example.com']) },
      async () => new Response(gz, { headers: { 'content-encoding': 'gzip' } }),
    );
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect(Buffer.from(await response.arrayBuffer()).equals(gz)).toBe(true);
  });
});

// Fake sandboxes per suite, as container-hands.test.ts sets them up per test: a deliberate parallel.
describe('container hands with credentials', () => {
  let root: string;
  let sandboxes: FakeSandboxes;
  beforeAll(() => {
    root = mkdtempSync(path.join(tmpdir(), 'edgeharness-cf-credentials-'));
    sandboxes = new FakeSandboxes(root);
  });
  afterAll(() => {
    sandboxes.killAll();
    rmSync(root, { recursive: true, force: true });
  });

  it('sets placeholders (never values) on the command line, hands the vault ids to egress, and redacts the outcome', async () => {
    const cred = credential();
    const hands = createContainerHands(sandboxes.open, { layout: sandboxes.layout });
    const spec: SandboxSpec = { sessionId: 'sesn_cred', workspaceId: 'wrkspc_default', environmentId: 'env_1', networking: { type: 'unrestricted' }, credentials: [cred] };
    // the tool prints the variable, and the value itself (as an upstream echoing it would make it appear)
    const outcome = await hands.execute(spec, { name: 'bash', input: { command: `echo "var=$TOKEN"; echo "echoed=Bearer ${SECRET}"` }, idempotencyKey: 'sevt_cred1' });
    const text = outcome.content.map((b) => b.text).join('');
    expect(outcome.isError).toBe(false);
    expect(text).toContain(`var=${cred.placeholder}`);
    expect(text).toContain(`echoed=Bearer ${cred.placeholder}`);
    expect(text).not.toContain(SECRET);
    const fake = sandboxes.session('sesn_cred');
    expect(fake.calls.records.size).toBe(1);
    expect(JSON.stringify([...fake.calls.records.values()])).not.toContain(SECRET);
    const commands = fake.commands.join('\n');
    expect(commands).toContain(`TOKEN=${cred.placeholder}`);
    expect(JSON.stringify(fake.writes)).not.toContain(`TOKEN=${SECRET}`);
    expect(commands).not.toContain(`TOKEN=${SECRET}`);
    expect(fake.vaultApplied.at(-1)).toEqual({ workspaceId: 'wrkspc_default', vaultIds: ['vlt_one'] });
  });
});
