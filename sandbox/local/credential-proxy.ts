// The local sandbox's credential proxy. For a session with credentials, sandbox-runtime's proxy hands every
// connection it has allowed (CONNECT tunnels and plain-HTTP requests, after `networkPolicy`) to this one, over a
// Unix socket of the launcher's. It terminates TLS with the sandbox's own authority, puts credential values where
// placeholders are (headers and bodies, for the credential's hosts, by the rule in ../credentials.ts), dials the
// upstream itself (./upstream-dialer.ts), and scrubs every response of every secret of the session before the
// sandbox reads it (../response-scrubbing.ts), so an upstream that echoes a value gives the sandbox nothing to
// re-spell.
import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type Socket } from 'node:net';
import { Duplex, pipeline, Readable, Transform } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { TLSSocket } from 'node:tls';
import { injectableAt, substitute, substituteBody, type RequestTarget, type SandboxCredential } from '../credentials.ts';
import { normalizeHost } from '../egress-policy.ts';
import {
  acceptEncodingFor,
  contentCodings,
  NODE_DECODABLE,
  REQUEST_HEADERS_DROPPED,
  scrubbedBody,
  scrubbedHeaders,
  undecodableReason,
  upgradeRefusal,
} from '../response-scrubbing.ts';
import { SecretForms, SecretScrubber, scrubLatin1 } from '../secret-scrubber.ts';
import type { MitmAuthority } from './mitm-authority.ts';
import { EgressRefused, type UpstreamDialer, type UpstreamTarget } from './upstream-dialer.ts';

export interface CredentialProxyOptions {
  /** Where sandbox-runtime reaches the proxy (`network.mitmProxy.socketPath`). */
  socketPath: string;
  credentials: readonly SandboxCredential[];
  authority: MitmAuthority;
  dialer: UpstreamDialer;
  /** Each refusal, as a line for the result of the call that made the request. */
  onRefusal?: (line: string) => void;
}

export interface CredentialProxy {
  close(): Promise<void>;
}

/** A request body with a placeholder to substitute is read whole, up to this size; a larger one is refused. */
const MAX_SUBSTITUTED_BODY = 32 << 20;
/** How long a tunnel's first bytes may take before it is taken for a protocol whose server speaks first. */
const SNIFF_MS = 3_000;
/** Past this many bytes a tunnel's beginning is judged as it is (a client sending nothing but line breaks). */
const SNIFF_MAX = 4_096;
/**
 * How long a raw tunnel's held-back bytes wait for what follows before the few that may go early are let go: a
 * protocol whose peer waits for the end of a message (one that ends in bytes that may begin a secret's spelling)
 * would otherwise stall. See `SecretScrubber.release`.
 */
const RAW_RELEASE_MS = 100;
/** Hop-by-hop request headers (RFC 9110 7.6.1), and the proxy's own. */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer',
  'transfer-encoding', 'upgrade',
]);
/** Marks the proxy's own refusals, as the Cloudflare outbound handler does. */
const REFUSED_HEADER = 'x-edgeharness-egress';

/** Where requests on one client connection go: the CONNECT target, or the absolute URI of a plain request. */
interface Destination extends UpstreamTarget {
  /** Sends this connection's requests upstream, reusing the upstream connection while it stays open. */
  agent?: Agent;
}

export async function startCredentialProxy(o: CredentialProxyOptions): Promise<CredentialProxy> {
  const forms = new SecretForms(o.credentials);
  const destinations = new WeakMap<Duplex, Destination>();

  const refuse = (res: ServerResponse, method: string, destination: UpstreamTarget, reason: string, status = 403): void => {
    o.onRefusal?.(`${method} ${destination.scheme}://${authorityOf(destination)}: ${reason}`);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', [REFUSED_HEADER]: 'refused', connection: 'close' });
    res.end(`edgeharness: ${reason}\n`);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, destination: Destination): void => {
    req.on('error', () => res.destroy());
    res.on('error', () => {});
    forward(req, res, destination).catch((error: unknown) => {
      if (error instanceof EgressRefused) refuse(res, req.method ?? 'GET', destination, error.message);
      else refuse(res, req.method ?? 'GET', destination, `the request to ${authorityOf(destination)} failed: ${error instanceof Error ? error.message : String(error)}`, 502);
    });
  };

  /** One request: checked, its placeholders substituted, sent upstream; the answer scrubbed on its way back. */
  const forward = async (req: IncomingMessage, res: ServerResponse, destination: Destination): Promise<void> => {
    const method = req.method ?? 'GET';
    const misdirected = hostMismatch(req, destination);
    if (misdirected) return refuse(res, method, destination, misdirected, 421);
    const target: RequestTarget = { host: destination.host, scheme: destination.scheme };
    const usable = injectableAt(o.credentials, destination.host);

    const headers: string[] = [];
    const connectionTokens = new Set((req.headers.connection ?? '').split(',').map((t) => t.trim().toLowerCase()));
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i] as string;
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower) || connectionTokens.has(lower) || REQUEST_HEADERS_DROPPED.includes(lower) || lower === 'accept-encoding') continue;
      let value = req.rawHeaders[i + 1] as string;
      if (lower !== 'host' && usable.length > 0) {
        const result = substitute(value, target, usable, 'header');
        if (!result.ok) return refuse(res, method, destination, result.reason);
        if (result.changed && !validHeaderValue(result.value))
          return refuse(res, method, destination, `a credential's value substituted into the ${name} header is not a valid header value (it holds a control character or a character above U+00FF), so the request to ${destination.host} was refused`);
        value = result.value;
      }
      if (lower === 'content-length' && usable.some((c) => c.injection.body)) continue; // set below, once the body is known
      headers.push(name, value);
    }
    headers.push('Accept-Encoding', acceptEncodingFor(req.headers['accept-encoding'], NODE_DECODABLE));
    if (req.headers.host === undefined) headers.push('Host', hostHeaderOf(destination));

    let body: Uint8Array | undefined;
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    if (hasBody && usable.some((c) => c.injection.body)) {
      const read = await readWhole(req, MAX_SUBSTITUTED_BODY);
      if (read === undefined)
        return refuse(res, method, destination, `the request body is over ${MAX_SUBSTITUTED_BODY} bytes, the most this proxy reads to substitute credentials in, and a credential is substituted in request bodies at ${destination.host}`, 413);
      const result = substituteBody(read, target, usable);
      if (!result.ok) return refuse(res, method, destination, result.reason);
      body = result.body;
      headers.push('Content-Length', String(body.length));
    }

    const upstream = upstreamRequest(destination, method, requestPath(req, destination), headers);
    // a client that goes away takes its upstream request with it
    res.once('close', () => { if (!res.writableFinished) upstream.destroy(); });
    await new Promise<void>((resolve, reject) => {
      upstream.once('error', reject);
      upstream.once('response', (answer) => {
        // from here a failure shows as the body stream's error (which ends the client's response); an error event
        // without a listener would end the whole launcher
        upstream.removeListener('error', reject);
        upstream.on('error', () => {});
        try {
          respond(res, answer, method, destination);
        } catch {
          answer.destroy();
          res.destroy();
        }
        resolve();
      });
      if (body !== undefined) upstream.end(body);
      else req.pipe(upstream);
    });
  };

  /** The upstream's answer, scrubbed: status phrase, headers, body (decoded first) and trailers. */
  const respond = (res: ServerResponse, answer: IncomingMessage, method: string, destination: Destination): void => {
    const status = answer.statusCode ?? 502;
    const bodyless = method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
    const codings = contentCodings(answer.headers['content-encoding']);
    const undecodable = bodyless ? undefined : undecodableReason(codings, NODE_DECODABLE);
    if (undecodable) {
      answer.destroy();
      return refuse(res, method, destination, undecodable, 502);
    }
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i + 1 < answer.rawHeaders.length; i += 2) {
      const name = answer.rawHeaders[i] as string;
      if (!HOP_BY_HOP.has(name.toLowerCase())) pairs.push([name, answer.rawHeaders[i + 1] as string]);
    }
    res.writeHead(status, scrubLatin1(answer.statusMessage ?? '', forms), scrubbedHeaders(pairs, forms).flat());
    if (bodyless) {
      answer.resume();
      res.end();
      return;
    }
    // the web stream types of Node and of the DOM lib differ in name only
    const body = scrubbedBody(Readable.toWeb(answer) as ReadableStream<Uint8Array>, codings, forms);
    const scrubbed = Readable.fromWeb(body as NodeReadableStream<Uint8Array>);
    scrubbed.on('error', () => res.destroy());
    res.once('close', () => { if (!res.writableFinished) scrubbed.destroy(); });
    scrubbed.pipe(res, { end: false });
    scrubbed.once('end', () => {
      const trailers = answer.rawTrailers;
      if (trailers.length > 0) {
        const received: Array<[string, string]> = [];
        for (let i = 0; i + 1 < trailers.length; i += 2) received.push([trailers[i] as string, trailers[i + 1] as string]);
        res.addTrailers(scrubbedHeaders(received, forms));
      }
      res.end();
    });
  };

  const upstreamRequest = (destination: Destination, method: string, path: string, headers: string[]) => {
    // a plain request from sandbox-runtime arrives alone on its connection: its agent serves it once
    destination.agent ??= new DialingAgent(o.dialer, destination);
    const target = o.dialer.absoluteForm(destination) ? `http://${authorityOf(destination)}${path}` : path;
    return httpRequest({ agent: destination.agent, method, path: target, headers, setHost: false });
  };

  /** A WebSocket or any other upgrade: refused, to every host (`upgradeRefusal` says why). */
  const upgrade = (req: IncomingMessage, socket: Duplex, destination: Destination): void => {
    socket.on('error', () => {});
    const reason = upgradeRefusal(req.headers.upgrade ?? 'upgrade');
    o.onRefusal?.(`${req.method ?? 'GET'} ${destination.scheme}://${authorityOf(destination)}: ${reason}`);
    socket.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain; charset=utf-8\r\n${REFUSED_HEADER}: refused\r\nconnection: close\r\n\r\nedgeharness: ${reason}\n`);
  };

  // Connections carved out of tunnels: each carries its destination, set when the tunnel was opened.
  const inner = createServer({ requireHostHeader: false });
  inner.on('request', (req, res) => {
    const destination = destinations.get(req.socket);
    if (destination) handle(req, res, destination);
    else res.destroy();
  });
  inner.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    const destination = destinations.get(socket);
    if (destination) upgrade(req, socket, destination);
    else socket.destroy();
  });
  inner.on('clientError', (_error, socket) => socket.destroy());

  // sandbox-runtime's side: CONNECT for tunnels, absolute-form requests for plain HTTP
  const outer: Server = createServer({ requireHostHeader: false });
  outer.on('request', (req, res) => {
    const destination = absoluteTarget(req.url ?? '');
    if (!destination) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('edgeharness: expected an absolute http:// request target\n');
      return;
    }
    res.once('close', () => destination.agent?.destroy());
    handle(req, res, destination);
  });
  outer.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    const destination = absoluteTarget(req.url ?? '');
    if (destination) upgrade(req, socket, destination);
    else socket.destroy();
  });
  // tunnels leave the server's keeping once CONNECT is answered: closing the proxy ends them itself
  const tunnels = new Set<Duplex>();
  outer.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    tunnels.add(socket);
    socket.once('close', () => tunnels.delete(socket));
    const target = connectTarget(req.url ?? '');
    if (!target) {
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    void openTunnel(socket as Socket, head, target);
  });
  outer.on('clientError', (_error, socket) => socket.destroy());

  /**
   * What the client speaks in a tunnel decides what is done with it: TLS and HTTP are read; anything else is
   * passed, with what comes back scrubbed as a stream of bytes.
   */
  const openTunnel = async (socket: Socket, head: Buffer, target: { host: string; port: number }): Promise<void> => {
    const first = await sniff(socket, head);
    if (socket.destroyed) return;
    // judged past the line breaks an HTTP server skips before a request line: `\r\nGET` is HTTP to it
    const start = first.subarray(leadingLineBreaks(first));
    if (start[0] === 0x16) {
      if (start.length > 0) socket.unshift(start);
      const destination: Destination = { ...target, scheme: 'https' };
      const secure = new TLSSocket(socket, { isServer: true, secureContext: o.authority.contextFor(target.host), ALPNProtocols: ['http/1.1'] });
      secure.on('error', () => secure.destroy());
      secure.once('close', () => destination.agent?.destroy());
      destinations.set(secure, destination);
      inner.emit('connection', secure);
      return;
    }
    if (/^[A-Z]+ /.test(start.toString('latin1'))) {
      // the HTTP server reads a socket's handle directly, past anything unshifted: hand it a stream that starts
      // with the bytes already read
      const destination: Destination = { ...target, scheme: 'http' };
      const stream = replaying(socket, start);
      stream.once('close', () => destination.agent?.destroy());
      destinations.set(stream, destination);
      inner.emit('connection', stream);
      return;
    }
    if (first.length > 0) socket.unshift(first);
    // neither TLS nor HTTP (SSH, a database's wire protocol): nothing to substitute. Refused where a credential
    // applies, since that host is the one that holds its value. Elsewhere what comes back is scrubbed as bytes,
    // which finds a value in the clear; inside a protocol's own encryption or compression nothing can.
    const destination: UpstreamTarget = { ...target, scheme: 'http' };
    if (injectableAt(o.credentials, target.host).length > 0) {
      o.onRefusal?.(`CONNECT ${authorityOf(destination)}: a connection that is neither TLS nor HTTP to ${target.host}, where a credential applies, cannot be checked for the credential's value, so it was refused`);
      socket.destroy();
      return;
    }
    try {
      const upstream = await o.dialer.tunnel(target);
      socket.on('close', () => upstream.destroy());
      socket.pipe(upstream);
      // the tunnel ends when what came back has been scrubbed and delivered (or on any error)
      pipeline(upstream, scrubbingTransform(forms), socket, () => socket.destroy());
    } catch (error) {
      o.onRefusal?.(`CONNECT ${authorityOf(destination)}: ${error instanceof Error ? error.message : String(error)}`);
      socket.destroy();
    }
  };

  await new Promise<void>((resolve, reject) => {
    outer.once('error', reject);
    outer.listen(o.socketPath, () => {
      outer.removeListener('error', reject);
      resolve();
    });
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        outer.closeAllConnections();
        for (const socket of tunnels) socket.destroy();
        outer.close(() => resolve());
      }),
  };
}

/** An agent whose connections the proxy's dialer opens: one per client connection, reused while both stay open. */
class DialingAgent extends Agent {
  private readonly dialer: UpstreamDialer;
  private readonly destination: UpstreamTarget;

  constructor(dialer: UpstreamDialer, destination: UpstreamTarget) {
    super({ keepAlive: true, maxSockets: 1 });
    this.dialer = dialer;
    this.destination = destination;
  }

  // Node's Agent passes a callback and takes a socket handed to it later
  override createConnection(_options: unknown, done?: (error: Error | null, socket: Duplex) => void): undefined {
    this.dialer.dial(this.destination).then(
      ({ socket }) => done?.(null, socket),
      // Node reads the error first and never the socket then
      (error: unknown) => done?.(error instanceof Error ? error : new Error(String(error)), undefined as unknown as Duplex),
    );
    return undefined;
  }
}

/** A duplex over `socket` whose readable side begins with `first`, bytes already read from it. */
function replaying(socket: Socket, first: Buffer): Duplex {
  const stream = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, done) {
      socket.write(chunk, (error) => done(error ?? null));
    },
    final(done) {
      socket.end();
      done();
    },
    destroy(error, done) {
      socket.destroy();
      done(error);
    },
  });
  stream.push(first);
  socket.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.once('end', () => stream.push(null));
  socket.once('close', () => stream.destroy());
  socket.resume();
  return stream;
}

/**
 * A raw tunnel's bytes scrubbed as they stream. Held-back bytes that nothing follows for a while are let go when the
 * scrubber allows (a few; see `SecretScrubber.release`), so an interactive protocol does not stall.
 */
function scrubbingTransform(forms: SecretForms): Transform {
  const scrubber = new SecretScrubber(forms);
  let timer: NodeJS.Timeout | undefined;
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      clearTimeout(timer);
      const out = scrubber.push(chunk);
      if (scrubber.holding > 0) {
        timer = setTimeout(() => {
          const early = scrubber.release();
          if (early.length > 0) transform.push(early);
        }, RAW_RELEASE_MS);
      }
      done(null, out.length > 0 ? out : undefined);
    },
    flush(done) {
      clearTimeout(timer);
      const out = scrubber.end();
      done(null, out.length > 0 ? out : undefined);
    },
    destroy(error, done) {
      clearTimeout(timer);
      done(error);
    },
  });
  return transform;
}

/** How many carriage returns and line feeds `bytes` begins with. */
function leadingLineBreaks(bytes: Buffer): number {
  let at = 0;
  while (at < bytes.length && (bytes[at] === 0x0d || bytes[at] === 0x0a)) at++;
  return at;
}

/**
 * The first bytes a tunnel's client sends: enough to tell TLS from HTTP from anything else (past leading line
 * breaks, which HTTP servers skip), or none in time.
 */
function sniff(socket: Socket, head: Buffer): Promise<Buffer> {
  const enough = (all: Buffer): boolean => {
    if (all.length >= SNIFF_MAX) return true;
    const b = all.subarray(leadingLineBreaks(all));
    return b.length > 0 && (b[0] === 0x16 || b.length >= 16 || b.includes(0x20) || !/^[A-Z]/.test(String.fromCharCode(b[0] as number)));
  };
  if (enough(head)) return Promise.resolve(head);
  return new Promise((resolve) => {
    let got = head;
    const done = (): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('end', done);
      socket.removeListener('close', done);
      socket.pause();
      resolve(got);
    };
    const onData = (chunk: Buffer): void => {
      got = Buffer.concat([got, chunk]);
      if (enough(got)) done();
    };
    const timer = setTimeout(done, SNIFF_MS);
    socket.on('data', onData);
    socket.once('end', done);
    socket.once('close', done);
  });
}

/**
 * Why a request inside a tunnel names another host than the tunnel's, or undefined. The credential is chosen by
 * the tunnel's host; a different Host header would let a shared front end (a CDN) route it to someone else.
 */
function hostMismatch(req: IncomingMessage, destination: Destination): string | undefined {
  const header = req.headers.host;
  if (header === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(`${destination.scheme}://${header}`);
  } catch {
    return `the Host header ${JSON.stringify(header)} is not a host`;
  }
  const port = Number(url.port) || (destination.scheme === 'https' ? 443 : 80);
  if (normalizeHost(url.hostname) === normalizeHost(destination.host) && port === destination.port) return undefined;
  return `the request names ${header} in its Host header but was sent to ${authorityOf(destination)}; a request goes only to the host it connected to`;
}

/** The origin-form target to send upstream, as the client spelled it. */
function requestPath(req: IncomingMessage, destination: Destination): string {
  const url = req.url ?? '/';
  if (url.startsWith('/')) return url;
  const scheme = `${destination.scheme}://`;
  if (url.toLowerCase().startsWith(scheme)) {
    const slash = url.indexOf('/', scheme.length);
    return slash === -1 ? '/' : url.slice(slash);
  }
  return '/';
}

function absoluteTarget(url: string): Destination | undefined {
  if (!url.toLowerCase().startsWith('http://')) return undefined;
  try {
    const parsed = new URL(url);
    return { host: normalizeHost(parsed.hostname), port: Number(parsed.port) || 80, scheme: 'http' };
  } catch {
    return undefined;
  }
}

function connectTarget(authority: string): { host: string; port: number } | undefined {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(authority);
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: normalizeHost(match[1] as string), port };
}

/** The Host header for a target: its port only when not the scheme's default. */
function hostHeaderOf(target: UpstreamTarget): string {
  const host = isIP(target.host) === 6 ? `[${target.host}]` : target.host;
  return target.port === (target.scheme === 'https' ? 443 : 80) ? host : `${host}:${target.port}`;
}

function authorityOf(target: { host: string; port: number }): string {
  return `${isIP(target.host) === 6 ? `[${target.host}]` : target.host}:${target.port}`;
}

/** A header value Node's HTTP client sends: tab, but no other control character, and nothing above U+00FF. */
function validHeaderValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f || code > 0xff) return false;
  }
  return true;
}

/** The whole body, or undefined past `limit` bytes. */
async function readWhole(req: IncomingMessage, limit: number): Promise<Uint8Array | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

