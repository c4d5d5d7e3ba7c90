// Vault credentials in the Cloudflare provider: the outbound handler substitutes placeholders with values read
// from the vault for the credential's hosts only, over TLS (or to loopback), and redacts echoes; the container's
// command line carries placeholders only; outcomes are redacted before the ledger records them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyEgressPolicy, type EgressParams, type VaultRef } from '../../sandbox/cloudflare/outbound-handler.ts';
import { createContainerHands } from '../../sandbox/cloudflare/container-hands.ts';
import { placeholderFor, type SandboxCredential } from '../../sandbox/credentials.ts';
import type { Networking, SandboxSpec } from '../../sandbox/hands.ts';
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
    expect(JSON.stringify([...fake.ledger.values()])).not.toContain(SECRET);
    const commands = fake.commands.join('\n');
    expect(commands).toContain(`TOKEN=${cred.placeholder}`);
    expect(JSON.stringify(fake.writes)).not.toContain(`TOKEN=${SECRET}`);
    expect(commands).not.toContain(`TOKEN=${SECRET}`);
    expect(fake.vaultApplied.at(-1)).toEqual({ workspaceId: 'wrkspc_default', vaultIds: ['vlt_one'] });
  });
});
