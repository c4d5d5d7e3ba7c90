// The local sandbox's credential proxy on its own, driven through its Unix socket as sandbox-runtime drives it
// (CONNECT tunnels, absolute-form plain HTTP): values substituted for the credential's hosts, every response scrubbed
// of them before it goes back (headers, trailers, bodies compressed, split or streamed), upstreams dialed at the
// address the egress policy checked. The same proxy inside real bubblewrap is in credentials.test.ts.
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { placeholderFor, type SandboxCredential } from '../../sandbox/credentials.ts';
import type { Networking } from '../../sandbox/hands.ts';
import { startCredentialProxy, type CredentialProxy } from '../../sandbox/local/credential-proxy.ts';
import { MitmAuthority } from '../../sandbox/local/mitm-authority.ts';
import { UpstreamDialer } from '../../sandbox/local/upstream-dialer.ts';
import { echoSpellings } from '../support/secret-echoes.ts';

const SECRET = `sk-proxy-${'7f3a9c1e'.repeat(3)}`;
const BODY_SECRET = `sk-body-${'0b1c2d3e'.repeat(3)}`;
const token: SandboxCredential = {
  credentialId: 'vcrd_proxy',
  vaultId: 'vlt_proxy',
  name: 'TOKEN',
  placeholder: placeholderFor('vcrd_proxy'),
  value: SECRET,
  networking: { type: 'limited', allowed_hosts: ['127.0.0.2', '127.0.0.4', 'api.example.test'] },
  injection: { header: true, body: false },
};
const bodyToken: SandboxCredential = {
  ...token,
  credentialId: 'vcrd_proxy_body',
  name: 'BODY_TOKEN',
  placeholder: placeholderFor('vcrd_proxy_body'),
  value: BODY_SECRET,
  injection: { header: false, body: true },
};
const networking: Networking = {
  type: 'limited',
  allowed_hosts: ['127.0.0.2', '127.0.0.3', '127.0.0.4', 'api.example.test', 'private.example.test'],
  allow_package_managers: false,
  allow_mcp_servers: false,
};
const unrestricted: Networking = { type: 'unrestricted' };

/** Whether `text` holds `secret` as is, reversed, in hex or in base64 (a fragment of 12 characters is enough). */
function leaks(text: string, secret: string): boolean {
  const lower = text.toLowerCase();
  const b64 = [0, 1, 2].map((k) => Buffer.from(`${'x'.repeat(k)}${secret}`).toString('base64').slice(4, 16));
  return [secret, [...secret].reverse().join(''), Buffer.from(secret).toString('hex')].some((f) => lower.includes(f.toLowerCase()))
    || b64.some((f) => text.includes(f) || text.includes(f.replace(/\+/g, '-').replace(/\//g, '_')));
}

interface Seen {
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** An upstream that echoes what it got, each path a different way. */
function echoHandler(seen: Seen[], streamGate: { wait: Promise<void> }): RequestListener {
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ url: req.url ?? '', headers: req.headers, body });
      const auth = req.headers.authorization ?? '';
      const echo = `${JSON.stringify({ headers: req.headers, body })}\n${echoSpellings(auth).join('\n')}\n`;
      const path = req.url ?? '/';
      if (path === '/headers') {
        res.setHeader('set-cookie', [`session=${auth}; Path=/`, 'plain=1']);
        res.setHeader('location', `https://example.test/?t=${encodeURIComponent(auth)}`);
        res.setHeader('x-echo', Buffer.from(auth).toString('base64'));
        res.setHeader('trailer', 'x-trailing');
        res.writeHead(200, `Echo ${auth}`);
        res.write('body\n');
        res.addTrailers({ 'x-trailing': auth });
        res.end();
      } else if (path.startsWith('/coded/')) {
        const coding = path.slice('/coded/'.length);
        const encode = { gzip: gzipSync, deflate: deflateSync, 'raw-deflate': deflateRawSync, br: brotliCompressSync }[coding];
        const bytes = encode ? encode(Buffer.from(echo)) : Buffer.from(echo);
        res.writeHead(200, { 'content-encoding': coding === 'raw-deflate' ? 'deflate' : coding, 'content-length': bytes.length });
        res.end(bytes);
      } else if (path === '/dribble') {
        // a few bytes per write, each its own chunk on the wire
        const bytes = Buffer.from(echo);
        res.writeHead(200, { 'content-type': 'text/plain' });
        for (let i = 0; i < bytes.length; i += 3) {
          res.write(bytes.subarray(i, i + 3));
          await new Promise((r) => setImmediate(r));
        }
        res.end();
      } else if (path === '/stream') {
        const half = Math.floor(auth.length / 2);
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`data: first\n\ndata: ${auth.slice(0, half)}`);
        await streamGate.wait;
        res.end(`${auth.slice(half)}\n\n`);
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(echo);
      }
    });
  };
}

interface Answer {
  status: number;
  statusMessage: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  trailers: NodeJS.Dict<string>;
  body: string;
}

async function collect(res: IncomingMessage): Promise<Answer> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return { status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', headers: res.headers, rawHeaders: res.rawHeaders, trailers: res.trailers, body: Buffer.concat(chunks).toString('utf8') };
}

describe('the credential proxy', () => {
  let dir: string;
  let proxy: CredentialProxy;
  let socketPath: string;
  let authority: MitmAuthority;
  const seen: Seen[] = [];
  const gate: { wait: Promise<void>; open: () => void } = { wait: Promise.resolve(), open: () => {} };
  const refusals: string[] = [];
  const resolved: string[] = [];
  const servers: Array<{ close(): unknown; closeAllConnections?: () => void }> = [];
  let httpPort: number; // 127.0.0.2
  let httpsPort: number; // 127.0.0.4
  let rawPort: number; // 127.0.0.3 and 127.0.0.2: a TCP service that greets and echoes
  // 127.0.0.3, a host no credential lists, serves back the notes stored through 127.0.0.2, which has one
  let notesPort: number; // HTTP, and WebSocket by upgrade
  let rawNotesPort: number; // a line protocol of its own

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'eh-credential-proxy-'));
    const upstreamCa = new MitmAuthority(); // stands in for a public CA: the upstream's certificate comes from it
    const handler = echoHandler(seen, gate);
    const plain = createHttpServer(handler);
    const secure = createHttpsServer(upstreamCa.certificateFor('127.0.0.4'), handler);
    const raw = createTcpServer((socket) => socket.pipe(socket));
    const raw2 = createTcpServer((socket) => socket.pipe(socket));
    const note = (): string => seen.filter((s) => s.url === '/notes').at(-1)?.body ?? '';
    const notes = createHttpServer((req, res) => {
      req.resume();
      res.end(`note: ${note()}\n`);
    });
    notes.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
      const payload = Buffer.from(note());
      socket.end(Buffer.concat([
        Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'),
        Buffer.from([0x81, payload.length]), // one unmasked text frame
        payload,
      ]));
    });
    const rawNotes = createTcpServer((socket) => {
      socket.on('error', () => {});
      socket.on('data', async (line: Buffer) => {
        const command = line.toString().trim();
        if (command === 'read') {
          const bytes = Buffer.from(`note: ${note()}\n`);
          for (let i = 0; i < bytes.length; i += 5) {
            socket.write(bytes.subarray(i, i + 5));
            await new Promise((r) => setImmediate(r));
          }
          socket.end();
        } else if (command === 'split') {
          // a message that ends in what may begin the value, and the peer waits for it before it asks for more
          socket.write(`ready ${note().slice(0, 2)}`);
        } else if (command === 'more') {
          socket.end(`${note().slice(2)}\n`);
        }
      });
    });
    servers.push(plain, secure, raw, raw2, notes, rawNotes);
    await Promise.all([
      new Promise<void>((r) => plain.listen(0, '127.0.0.2', r)),
      new Promise<void>((r) => secure.listen(0, '127.0.0.4', r)),
      new Promise<void>((r) => raw.listen(0, '127.0.0.3', r)),
      new Promise<void>((r) => notes.listen(0, '127.0.0.3', r)),
      new Promise<void>((r) => rawNotes.listen(0, '127.0.0.3', r)),
    ]);
    httpPort = (plain.address() as AddressInfo).port;
    httpsPort = (secure.address() as AddressInfo).port;
    rawPort = (raw.address() as AddressInfo).port;
    notesPort = (notes.address() as AddressInfo).port;
    rawNotesPort = (rawNotes.address() as AddressInfo).port;
    await new Promise<void>((r) => raw2.listen(rawPort, '127.0.0.2', r));
    authority = new MitmAuthority();
    socketPath = path.join(dir, 'proxy.sock');
    const names: Record<string, string[]> = { 'api.example.test': ['127.0.0.2'], 'private.example.test': ['10.0.0.7'] };
    const dialer = new UpstreamDialer({
      networking,
      egressOptions: () => ({}),
      ca: [upstreamCa.certPem],
      resolve: async (host) => {
        resolved.push(host);
        return names[host] ?? [];
      },
    });
    proxy = await startCredentialProxy({ socketPath, credentials: [token, bodyToken], authority, dialer, onRefusal: (line) => refusals.push(line) });
  });

  afterAll(() => tearDown(proxy, servers, dir));

  /** A CONNECT tunnel through the proxy, as sandbox-runtime opens one. */
  async function tunnel(host: string, port: number): Promise<Socket> {
    const socket = netConnect({ path: socketPath });
    await once(socket, 'connect');
    socket.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`);
    const [head] = (await once(socket, 'data')) as [Buffer];
    expect(head.toString('latin1')).toMatch(/^HTTP\/1\.1 200/);
    return socket;
  }

  /** An HTTPS request to 127.0.0.4 through a tunnel, trusting only the sandbox's authority. */
  async function https(pathname: string, headers: Record<string, string> = {}, o: { host?: string; method?: string; body?: string } = {}): Promise<IncomingMessage> {
    const socket = await tunnel('127.0.0.4', httpsPort);
    const secure = tlsConnect({ socket, host: '127.0.0.4', ca: [authority.certPem] });
    await once(secure, 'secureConnect');
    const req = httpRequest({ createConnection: () => secure, path: pathname, method: o.method ?? 'GET', headers: { host: o.host ?? `127.0.0.4:${httpsPort}`, ...headers } });
    req.end(o.body);
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    return res;
  }

  /** A plain-HTTP request as sandbox-runtime forwards one: absolute form, on a connection of its own. */
  async function plain(url: string, headers: Record<string, string> = {}, o: { method?: string; body?: string } = {}): Promise<IncomingMessage> {
    const target = new URL(url);
    const req = httpRequest({ socketPath, path: url, method: o.method ?? 'GET', headers: { host: target.host, ...headers } });
    req.end(o.body);
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    return res;
  }

  const bearer = { authorization: `Bearer ${token.placeholder}` };

  it('puts the value in the header on a TLS connection it terminated with the sandbox authority, and scrubs the echo', async () => {
    const answer = await collect(await https('/echo', bearer));
    expect(seen.at(-1)?.headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body.split('\n')[0] as string).headers.authorization).toBe(`Bearer ${token.placeholder}`);
    expect(leaks(answer.body, SECRET)).toBe(false);
  });

  it('scrubs the status phrase, every header and the trailers', async () => {
    const answer = await collect(await https('/headers', bearer));
    expect(answer.statusMessage).toBe(`Echo Bearer ${token.placeholder}`);
    expect(answer.headers['set-cookie']).toEqual([`session=Bearer ${token.placeholder}; Path=/`, 'plain=1']);
    expect(answer.trailers['x-trailing']).toBe(`Bearer ${token.placeholder}`);
    for (const text of [answer.statusMessage, JSON.stringify(answer.rawHeaders), JSON.stringify(answer.trailers)]) expect(leaks(text, SECRET), text).toBe(false);
  });

  for (const coding of ['gzip', 'deflate', 'raw-deflate', 'br']) {
    it(`decodes a ${coding} body before scrubbing it, and sends it without its coding`, async () => {
      const answer = await collect(await https(`/coded/${coding}`, { ...bearer, 'accept-encoding': 'gzip, deflate, br' }));
      expect(answer.status).toBe(200);
      expect(answer.headers['content-encoding']).toBeUndefined();
      expect(answer.body).toContain(`Bearer ${token.placeholder}`);
      expect(leaks(answer.body, SECRET)).toBe(false);
    });
  }

  it('asks upstreams only for codings it can decode, never for a range, and refuses a body in another coding', async () => {
    const answer = await collect(await https('/coded/zstd', { ...bearer, 'accept-encoding': 'zstd, gzip;q=0.5', range: 'bytes=0-9', 'if-range': '"x"' }));
    expect(seen.at(-1)?.headers['accept-encoding']).toBe('gzip;q=0.5');
    expect(seen.at(-1)?.headers.range).toBeUndefined();
    expect(seen.at(-1)?.headers['if-range']).toBeUndefined();
    expect(answer.status).toBe(502);
    expect(answer.body).toContain('encoded as zstd, which this proxy cannot decode');
  });

  it('finds a value the upstream sends a few bytes at a time', async () => {
    const answer = await collect(await https('/dribble', bearer));
    expect(answer.body).toContain(`Bearer ${token.placeholder}`);
    expect(leaks(answer.body, SECRET)).toBe(false);
  });

  it('streams: the first event arrives while the upstream still holds the rest, which is scrubbed when it comes', async () => {
    gate.wait = new Promise<void>((resolve) => { gate.open = resolve; });
    const res = await https('/stream', bearer);
    const [first] = (await once(res, 'data')) as [Buffer];
    expect(first.toString()).toContain('data: first');
    gate.open();
    const rest = await collect(res);
    expect(first.toString() + rest.body).toMatch(new RegExp(`data: Bearer ${token.placeholder}\\n\\n$`));
    expect(leaks(rest.body, SECRET)).toBe(false);
  });

  it('reads plain HTTP sent through a tunnel like any other request', async () => {
    const socket = await tunnel('127.0.0.2', httpPort);
    socket.write(`GET /echo HTTP/1.1\r\nHost: 127.0.0.2:${httpPort}\r\nX-Key: ${token.placeholder}\r\nConnection: close\r\n\r\n`);
    let answer = '';
    socket.on('data', (chunk: Buffer) => { answer += chunk.toString('utf8'); });
    await once(socket, 'close');
    expect(seen.at(-1)?.headers['x-key']).toBe(SECRET);
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toContain(`"x-key":"${token.placeholder}"`);
    expect(leaks(answer, SECRET)).toBe(false);
  });

  it('substitutes over plain http to a loopback host, in the body too when the credential allows it', async () => {
    const answer = await collect(await plain(`http://127.0.0.2:${httpPort}/echo`, { 'x-key': token.placeholder, 'content-type': 'application/json' }, { method: 'POST', body: `{"key":"${bodyToken.placeholder}"}` }));
    expect(seen.at(-1)?.headers['x-key']).toBe(SECRET);
    expect(seen.at(-1)?.body).toBe(`{"key":"${BODY_SECRET}"}`);
    expect(leaks(answer.body, SECRET) || leaks(answer.body, BODY_SECRET)).toBe(false);
    expect(answer.body).toContain(bodyToken.placeholder);
  });

  it('refuses plain http that would carry a value to a host that is not loopback, saying why', async () => {
    const before = seen.length;
    const answer = await collect(await plain(`http://api.example.test:${httpPort}/echo`, bearer));
    expect(answer.status).toBe(403);
    expect(answer.body).toContain('is substituted only over https');
    expect(seen.length).toBe(before);
    expect(refusals.at(-1)).toContain('api.example.test');
  });

  it('dials the address it checked, and refuses a name that resolved to a private address', async () => {
    resolved.length = 0;
    const answer = await collect(await plain(`http://private.example.test:${httpPort}/echo`));
    expect(answer.status).toBe(403);
    expect(answer.body).toContain('resolved to an address in');
    expect(answer.body).not.toContain('10.0.0.7');
    expect(resolved).toEqual(['private.example.test']);
  });

  it('refuses a request whose Host header names another host than its tunnel', async () => {
    const before = seen.length;
    const answer = await collect(await https('/echo', bearer, { host: 'elsewhere.example:443' }));
    expect(answer.status).toBe(421);
    expect(answer.body).toContain('a request goes only to the host it connected to');
    expect(seen.length).toBe(before);
  });

  /** Everything a tunnel's other end sends until it closes. */
  async function readAll(socket: Socket): Promise<string> {
    let text = '';
    socket.on('data', (chunk: Buffer) => { text += chunk.toString('latin1'); });
    await once(socket, 'close');
    return text;
  }

  /** Stores a note on 127.0.0.2 with the body credential's placeholder in it, which the proxy fills in on the way. */
  async function storeNote(): Promise<void> {
    const stored = await collect(await plain(`http://127.0.0.2:${httpPort}/notes`, {}, { method: 'POST', body: bodyToken.placeholder }));
    expect(stored.status).toBe(200);
    expect(seen.at(-1)?.body).toBe(BODY_SECRET);
  }

  it('refuses a WebSocket to every host, a credential\'s or not, saying why', async () => {
    const credentialHost = await collect(await https('/ws', { ...bearer, connection: 'Upgrade', upgrade: 'websocket' }));
    expect(credentialHost.status).toBe(403);
    expect(credentialHost.body).toContain('permessage-deflate');

    // a note stored through the credential's host, read back over a WebSocket from another host
    await storeNote();
    const socket = await tunnel('127.0.0.3', notesPort);
    socket.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.3:${notesPort}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    const answer = await readAll(socket);
    expect(answer).toMatch(/^HTTP\/1\.1 403 /);
    expect(answer).toContain('refused in a session with credentials, to every host');
    expect(leaks(answer, BODY_SECRET)).toBe(false);
    expect(refusals.at(-1)).toContain(`127.0.0.3:${notesPort}`);
  });

  it('reads a request with line breaks before its request line as HTTP, and scrubs its answer', async () => {
    await storeNote();
    const socket = await tunnel('127.0.0.3', notesPort);
    socket.write(`\r\nGET /note HTTP/1.1\r\nHost: 127.0.0.3:${notesPort}\r\nConnection: close\r\n\r\n`);
    const answer = await readAll(socket);
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toContain(`note: ${bodyToken.placeholder}`);
    expect(leaks(answer, BODY_SECRET)).toBe(false);
  });

  it('scrubs what comes back over a tunnel that is neither TLS nor HTTP', async () => {
    await storeNote();
    const socket = await tunnel('127.0.0.3', rawNotesPort);
    socket.write('read\n');
    const answer = await readAll(socket);
    expect(answer).toBe(`note: ${bodyToken.placeholder}\n`);
  });

  it('lets a raw protocol\'s last few held bytes go to a peer that waits for them, and still replaces the value they begin', async () => {
    await storeNote();
    const socket = await tunnel('127.0.0.3', rawNotesPort);
    let text = '';
    socket.on('data', (chunk: Buffer) => { text += chunk.toString('latin1'); });
    socket.write('split\n');
    while (!text.endsWith(`ready ${BODY_SECRET.slice(0, 2)}`)) await once(socket, 'data');
    socket.write('more\n');
    await once(socket, 'close');
    expect(text).toBe(`ready ${BODY_SECRET.slice(0, 2)}${bodyToken.placeholder}\n`);
  });

  it("tunnels a protocol that is neither TLS nor HTTP to a host without credentials, and refuses it to a credential's host", async () => {
    const open = await tunnel('127.0.0.3', rawPort);
    open.write('\x00hello');
    const [echoed] = (await once(open, 'data')) as [Buffer];
    expect(echoed.toString()).toBe('\x00hello');
    open.destroy();

    const refused = await tunnel('127.0.0.2', rawPort);
    refused.write('\x00hello');
    await once(refused, 'close');
    expect(refusals.at(-1)).toContain('neither TLS nor HTTP');
  });
});

describe("the credential proxy behind the host's own forward proxy", () => {
  let dir: string;
  let proxy: CredentialProxy;
  let socketPath: string;
  let authority: MitmAuthority;
  const servers: Array<{ close(): unknown; closeAllConnections?: () => void }> = [];
  const asked: string[] = []; // what the forward proxy was asked for
  const seen: Seen[] = [];
  const refusals: string[] = [];
  let httpPort: number;
  let httpsPort: number;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'eh-credential-proxy-parent-'));
    const upstreamCa = new MitmAuthority();
    const handler = echoHandler(seen, { wait: Promise.resolve() });
    const plain = createHttpServer(handler);
    const secure = createHttpsServer(upstreamCa.certificateFor('api.example.test'), handler);
    // the forward proxy: it alone knows where api.example.test is (127.0.0.2 for http, 127.0.0.4 for https)
    const forward = createHttpServer((req, res) => {
      asked.push(`${req.method} ${req.url}`);
      const url = new URL(req.url ?? '');
      const upstream = httpRequest({ host: '127.0.0.2', port: url.port, path: `${url.pathname}${url.search}`, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      req.pipe(upstream);
    });
    forward.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
      asked.push(`CONNECT ${req.url}`);
      const upstream = netConnect({ host: '127.0.0.4', port: Number((req.url ?? '').split(':')[1]) }, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    servers.push(plain, secure, forward);
    await Promise.all([
      new Promise<void>((r) => plain.listen(0, '127.0.0.2', r)),
      new Promise<void>((r) => secure.listen(0, '127.0.0.4', r)),
      new Promise<void>((r) => forward.listen(0, '127.0.0.6', r)),
    ]);
    httpPort = (plain.address() as AddressInfo).port;
    httpsPort = (secure.address() as AddressInfo).port;
    const parent = new URL(`http://127.0.0.6:${(forward.address() as AddressInfo).port}`);
    authority = new MitmAuthority();
    socketPath = path.join(dir, 'proxy.sock');
    const dialer = new UpstreamDialer({
      networking: unrestricted,
      egressOptions: () => ({}),
      ca: [upstreamCa.certPem],
      parent: { http: parent, https: parent, noProxy: [] },
      // looked up only to check where a name points; the forward proxy is handed the name, and resolves it itself
      resolve: async (host) => ({ 'api.example.test': ['93.184.216.34'], 'x.nip.io': ['127.0.0.1'], 'lan.example.test': ['93.184.216.34', '192.168.1.10'] })[host] ?? [],
    });
    const credential = { ...token, networking: { type: 'limited' as const, allowed_hosts: ['api.example.test'] } };
    proxy = await startCredentialProxy({ socketPath, credentials: [credential], authority, dialer, onRefusal: (line) => refusals.push(line) });
  });

  afterAll(() => tearDown(proxy, servers, dir));

  /** `GET /echo` over HTTPS to `host` through a CONNECT tunnel, trusting only the sandbox's authority. */
  async function echoOverHttps(host: string, headers: Record<string, string> = {}): Promise<Answer> {
    const socket = netConnect({ path: socketPath });
    await once(socket, 'connect');
    socket.write(`CONNECT ${host}:${httpsPort} HTTP/1.1\r\n\r\n`);
    await once(socket, 'data');
    const secure = tlsConnect({ socket, servername: host, ca: [authority.certPem] });
    await once(secure, 'secureConnect');
    const req = httpRequest({ createConnection: () => secure, path: '/echo', headers: { host: `${host}:${httpsPort}`, ...headers } });
    req.end();
    return collect((await once(req, 'response'))[0] as IncomingMessage);
  }

  it('sends https through a CONNECT to it, the value substituted and the echo scrubbed', async () => {
    const answer = await echoOverHttps('api.example.test', { authorization: `Bearer ${token.placeholder}` });
    expect(asked).toContain(`CONNECT api.example.test:${httpsPort}`);
    expect(seen.at(-1)?.headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(answer.body).toContain(`Bearer ${token.placeholder}`);
    expect(leaks(answer.body, SECRET)).toBe(false);
  });

  it('sends plain http to it in absolute form', async () => {
    const req = httpRequest({ socketPath, path: `http://api.example.test:${httpPort}/echo`, headers: { host: `api.example.test:${httpPort}` } });
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    expect((await collect(res)).status).toBe(200);
    expect(asked).toContain(`GET http://api.example.test:${httpPort}/echo`);
  });

  it('refuses a name that resolves to loopback or the LAN before handing it to the forward proxy, which would dial it', async () => {
    const before = asked.length;
    const viaHttp = await collect(await (async () => {
      const req = httpRequest({ socketPath, path: `http://x.nip.io:${httpPort}/echo`, headers: { host: `x.nip.io:${httpPort}` } });
      req.end();
      return (await once(req, 'response'))[0] as IncomingMessage;
    })());
    expect(viaHttp.status).toBe(403);
    expect(viaHttp.body).toContain('egress to x.nip.io refused: it resolved to the machine the runtime itself runs on');

    const viaHttps = await echoOverHttps('lan.example.test');
    expect(viaHttps.status).toBe(403);
    expect(viaHttps.body).toContain('resolved to an address in private range 192.168.0.0/16');
    expect(refusals.at(-1)).toContain('lan.example.test');
    expect(asked.length).toBe(before);
  });
});

/** Stops a proxy and its test upstreams, and removes its scratch dir. */
async function tearDown(proxy: { close(): Promise<void> } | undefined, servers: ReadonlyArray<{ close(): unknown; closeAllConnections?: () => void }>, dir: string): Promise<void> {
  await proxy?.close();
  for (const server of servers) {
    server.closeAllConnections?.();
    server.close();
  }
  rmSync(dir, { recursive: true, force: true });
}
