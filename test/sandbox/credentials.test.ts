// Vault credentials in the local sandbox: the sandbox sees a placeholder, the proxy puts the value in the headers
// of requests to the credential's hosts only, and no result, record or process of the sandbox holds the value.
// The filter is checked on its own first; then every behaviour runs through real bubblewrap and the proxy.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { placeholderFor, type SandboxCredential } from '../../sandbox/credentials.ts';
import type { Networking, SandboxSpec, ToolOutcome } from '../../sandbox/hands.ts';
import { redactSavedOutput } from '../../sandbox/local/saved-output.ts';
import { newKey, processesMentioning, removeRoot, runnerPids, startHost, text, type TestHost } from './fixture.ts';
import { filesHolding } from '../support/files.ts';

function credential(o: Partial<SandboxCredential> & { credentialId: string }): SandboxCredential {
  return {
    vaultId: 'vlt_test',
    name: 'TOKEN',
    placeholder: placeholderFor(o.credentialId),
    value: `secret-${randomBytes(12).toString('hex')}`,
    networking: { type: 'limited', allowed_hosts: ['api.example.com'] },
    injection: { header: true, body: false },
    ...o,
  };
}

describe('the whole output a truncated call saved in the workspace', () => {
  const token = credential({ credentialId: 'vcrd_saved' });
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(path.join(tmpdir(), 'eh-saved-output-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const outputs = (workspace: string): string => path.join(workspace, '.edgeharness', 'outputs');

  it('is redacted, a value split across two reads included, and otherwise kept byte for byte', () => {
    const workspace = path.join(dir, 'split');
    mkdirSync(outputs(workspace), { recursive: true });
    // the file is read a MiB at a time, and the last (longest spelling - 1) characters wait for the next read:
    // one value starts before that tail and ends inside it, one straddles the second boundary, one ends the file
    const mib = 1 << 20;
    const longest = Buffer.from(token.value).toString('base64').length;
    const gap = longest - 1 - 5;
    const first = 'é'.repeat(400_000) + 'a'.repeat(mib - 800_000 - token.value.length - gap);
    const second = 'b'.repeat(mib - 5 + gap);
    const tail = `\nmiddle ${Buffer.from(token.value).toString('base64')}\n${'z'.repeat(5000)}`;
    const original = `${first}${token.value}${second}${token.value}${tail}${token.value}`;
    const file = path.join(outputs(workspace), 'sevt_split.txt');
    writeFileSync(file, original);
    redactSavedOutput(workspace, 'sevt_split', [token]);
    const expected = `${first}${token.placeholder}${second}${token.placeholder}${tail.replace(Buffer.from(token.value).toString('base64'), token.placeholder)}${token.placeholder}`;
    expect(readFileSync(file, 'utf8') === expected).toBe(true);
  });

  it('leaves a file with no value in it as it was', () => {
    const workspace = path.join(dir, 'clean');
    mkdirSync(outputs(workspace), { recursive: true });
    const file = path.join(outputs(workspace), 'sevt_clean.txt');
    writeFileSync(file, 'nothing secret');
    const { ino } = statSync(file);
    redactSavedOutput(workspace, 'sevt_clean', [token]);
    expect(statSync(file).ino).toBe(ino);
    expect(readdirSync(outputs(workspace))).toEqual(['sevt_clean.txt']);
  });

  it('does not follow a link the sandbox put in the way', () => {
    const elsewhere = path.join(dir, 'elsewhere');
    mkdirSync(path.join(elsewhere, 'outputs'), { recursive: true });
    const outside = path.join(elsewhere, 'outputs', 'sevt_link.txt');
    writeFileSync(outside, `outside the workspace: ${token.value}`);
    const workspace = path.join(dir, 'linked');
    mkdirSync(workspace, { recursive: true });
    symlinkSync(elsewhere, path.join(workspace, '.edgeharness'));
    redactSavedOutput(workspace, 'sevt_link', [token]);
    expect(readFileSync(outside, 'utf8')).toBe(`outside the workspace: ${token.value}`);

    const fileLinked = path.join(dir, 'file-linked');
    mkdirSync(outputs(fileLinked), { recursive: true });
    symlinkSync(outside, path.join(outputs(fileLinked), 'sevt_link.txt'));
    redactSavedOutput(fileLinked, 'sevt_link', [token]);
    expect(readFileSync(outside, 'utf8')).toBe(`outside the workspace: ${token.value}`);
  });
});

/** An HTTP(S) server that answers with the request's headers and body as JSON, and remembers each request. */
interface EchoServer {
  url: string;
  seen: Array<{ method: string; authorization?: string; body: string }>;
  close(): Promise<void>;
}

async function startEcho(host: string, tls?: { key: Buffer; cert: Buffer }): Promise<EchoServer> {
  const seen: EchoServer['seen'] = [];
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', authorization: req.headers.authorization, body });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ headers: req.headers, body }));
    });
  };
  const server: Server = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://${host}:${port}`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Every regular file under `dir` whose bytes contain `needle`. */
describe('credentials in a local sandbox', () => {
  let host: TestHost;
  let bound: EchoServer; // 127.0.0.2: the credential's host
  let other: EchoServer; // 127.0.0.3: allowed by the environment, not by the credential
  const networking: Networking = { type: 'limited', allowed_hosts: ['127.0.0.2', '127.0.0.3'], allow_package_managers: false, allow_mcp_servers: false };
  const token = credential({ credentialId: 'vcrd_sandbox', networking: { type: 'limited', allowed_hosts: ['127.0.0.2'] } });
  const spec = (sessionId: string, credentials: SandboxCredential[] = [token]): SandboxSpec =>
    ({ sessionId, workspaceId: 'wrkspc_test', environmentId: 'env_test', networking, credentials });
  const bash = (s: SandboxSpec, command: string): Promise<ToolOutcome> =>
    host.hands.execute(s, { name: 'bash', input: { command }, idempotencyKey: newKey() });

  beforeAll(async () => {
    host = await startHost();
    bound = await startEcho('127.0.0.2');
    other = await startEcho('127.0.0.3');
  });
  afterAll(async () => {
    await host.close();
    await Promise.all([bound.close(), other.close()]);
    removeRoot(host.root);
  });

  it('the sandbox sees the placeholder in the variable, never the value', async () => {
    const outcome = await bash(spec('sesn_cred'), 'echo "$TOKEN"; env');
    expect(outcome.isError).toBe(false);
    expect(text(outcome).split('\n')[0]).toBe(token.placeholder);
    expect(text(outcome)).toContain(`TOKEN=${token.placeholder}`);
    expect(text(outcome)).not.toContain(token.value);
  });

  it('no process of the sandbox holds the value in its command line or environment', async () => {
    await bash(spec('sesn_cred'), 'true');
    const pids = processesMentioning(host.workspace('sesn_cred'));
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) {
      for (const what of ['cmdline', 'environ']) {
        let bytes: Buffer;
        try {
          bytes = readFileSync(`/proc/${pid}/${what}`);
        } catch {
          continue; // gone meanwhile
        }
        expect(bytes.includes(token.value), `${pid} ${what}`).toBe(false);
      }
    }
  });

  it('a header placeholder reaches the bound host as the secret, and the echo of it is redacted from the result', async () => {
    const outcome = await bash(spec('sesn_cred'), `curl -sS -m 10 -H "Authorization: Bearer $TOKEN" ${bound.url}/`);
    expect(bound.seen.at(-1)?.authorization).toBe(`Bearer ${token.value}`);
    expect(outcome.isError).toBe(false);
    expect(JSON.parse(text(outcome)).headers.authorization).toBe(`Bearer ${token.placeholder}`);
    expect(text(outcome)).not.toContain(token.value);
  });

  it('a host the credential is not bound to gets the placeholder only', async () => {
    const outcome = await bash(spec('sesn_cred'), `curl -sS -m 10 -H "Authorization: Bearer $TOKEN" ${other.url}/`);
    expect(JSON.parse(text(outcome)).headers.authorization).toBe(`Bearer ${token.placeholder}`);
    expect(other.seen.map((r) => r.authorization)).toEqual([`Bearer ${token.placeholder}`]);
  });

  it('the whole output saved for a truncated result is redacted too', async () => {
    const outcome = await bash(spec('sesn_cred'), `curl -sS -m 10 -H "Authorization: Bearer $TOKEN" ${bound.url}/; head -c 150000 /dev/zero | tr '\\0' x`);
    expect(bound.seen.at(-1)?.authorization).toBe(`Bearer ${token.value}`);
    const saved = /The whole output is saved in (\S+) …/.exec(text(outcome))?.[1];
    expect(saved).toBeDefined();
    const whole = readFileSync(saved as string, 'utf8');
    expect(whole).toContain(`Bearer ${token.placeholder}`);
    expect(whole).not.toContain(token.value);
    expect(text(outcome)).not.toContain(token.value);
  });

  it('substitutes in the body of a request when the credential allows it, and scrubs the echo of it', async () => {
    const both = credential({ credentialId: 'vcrd_body', name: 'BODY_TOKEN', networking: { type: 'limited', allowed_hosts: ['127.0.0.2'] }, injection: { header: true, body: true } });
    const outcome = await bash(spec('sesn_body', [both]), `curl -sS -m 10 -d "{\\"token\\":\\"$BODY_TOKEN\\"}" ${bound.url}/`);
    expect(bound.seen.at(-1)?.body).toBe(`{"token":"${both.value}"}`);
    expect(JSON.parse(JSON.parse(text(outcome)).body)).toEqual({ token: both.placeholder });
    expect(text(outcome)).not.toContain(both.value);
  });

  it('nothing under the state dir holds the secret after the calls', async () => {
    expect(filesHolding(host.root, token.value)).toEqual([]);
    expect(filesHolding(host.root, Buffer.from(token.value).toString('base64').replace(/=+$/, ''))).toEqual([]);
    // the records are there, with the placeholder where the echo had the value
    expect(filesHolding(path.join(host.sandboxesDir, 'sesn_cred', 'results'), token.placeholder).length).toBeGreaterThan(0);
  });

  it('a new value restarts the sandbox and is the one delivered', async () => {
    const id = 'sesn_rotate';
    const command = `curl -sS -m 10 -H "Authorization: Bearer $TOKEN" ${bound.url}/`;
    await bash(spec(id), command);
    expect(bound.seen.at(-1)?.authorization).toBe(`Bearer ${token.value}`);
    const [before] = runnerPids(host.workspace(id));
    expect(before).toBeDefined();

    const rotated = { ...token, value: `secret-${randomBytes(12).toString('hex')}` };
    const outcome = await bash(spec(id, [rotated]), command);
    expect(bound.seen.at(-1)?.authorization).toBe(`Bearer ${rotated.value}`);
    expect(text(outcome)).not.toContain(rotated.value);
    const after = runnerPids(host.workspace(id));
    expect(after).toHaveLength(1);
    expect(after).not.toContain(before);
  });

  it('a session without credentials is unaffected: no substitution, no TLS termination', async () => {
    const plain: SandboxSpec = { ...spec('sesn_plain', []), credentials: undefined };
    const sent = await bash(plain, `curl -sS -m 10 -H "Authorization: Bearer ${token.placeholder}" ${bound.url}/`);
    expect(sent.isError).toBe(false);
    expect(bound.seen.at(-1)?.authorization).toBe(`Bearer ${token.placeholder}`);
    const env = text(await bash(plain, 'env'));
    expect(env).not.toContain('TOKEN=');
    expect(env).not.toContain('CURL_CA_BUNDLE'); // sandbox-runtime sets it only when it terminates TLS
  });
});

/** A self-signed certificate for 127.0.0.4, or undefined when openssl is not installed. */
function selfSigned(dir: string): { key: Buffer; cert: Buffer; certFile: string } | undefined {
  const key = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', certFile,
      '-days', '2', '-subj', '/CN=127.0.0.4', '-addext', 'subjectAltName=IP:127.0.0.4'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  return { key: readFileSync(key), cert: readFileSync(certFile), certFile };
}

describe('credentials over https in a local sandbox', () => {
  let host: TestHost;
  let upstream: EchoServer | undefined;
  let dir: string;
  const previousExtraCa = process.env.NODE_EXTRA_CA_CERTS;
  const networking: Networking = { type: 'limited', allowed_hosts: ['127.0.0.4'], allow_package_managers: false, allow_mcp_servers: false };
  const token = credential({ credentialId: 'vcrd_tls', networking: { type: 'limited', allowed_hosts: ['127.0.0.4'] } });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'eh-cred-tls-'));
    const tls = selfSigned(dir);
    if (!tls) return;
    upstream = await startEcho('127.0.0.4', tls);
    // the terminating proxy verifies upstreams against the system roots and the NODE_EXTRA_CA_CERTS its
    // launcher started with: the host's environment, which the launcher inherits
    process.env.NODE_EXTRA_CA_CERTS = tls.certFile;
    host = await startHost();
  });
  afterAll(async () => {
    if (previousExtraCa === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
    else process.env.NODE_EXTRA_CA_CERTS = previousExtraCa;
    await host?.close();
    await upstream?.close();
    if (host) removeRoot(host.root);
    rmSync(dir, { recursive: true, force: true });
  });

  it('terminates TLS, which the sandbox trusts, and delivers the value to the bound host', async ({ skip }) => {
    if (!upstream) return skip('openssl is not installed, so no certificate for the upstream');
    const spec: SandboxSpec = { sessionId: 'sesn_tls', workspaceId: 'wrkspc_test', environmentId: 'env_test', networking, credentials: [token] };
    const outcome = await host.hands.execute(spec, {
      name: 'bash',
      // curl verifies the proxy's certificate against the bundle sandbox-runtime points CURL_CA_BUNDLE at
      input: { command: `curl -sS -m 10 -H "Authorization: Bearer $TOKEN" ${upstream.url}/` },
      idempotencyKey: newKey(),
    });
    expect(upstream.seen.at(-1)?.authorization).toBe(`Bearer ${token.value}`);
    expect(outcome.isError).toBe(false);
    expect(JSON.parse(text(outcome)).headers.authorization).toBe(`Bearer ${token.placeholder}`);
    expect(filesHolding(host.root, token.value)).toEqual([]);
  });
});
