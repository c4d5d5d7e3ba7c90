// How the credential proxy reaches an upstream. Directly: the name resolved once, each address judged by the egress
// policy (sandbox-runtime's own resolved-address guard does not cover connections it hands to the proxy), the
// checked address dialed, TLS verified against the host's roots. Or through the host's HTTP(S)_PROXY, as
// sandbox-runtime would send the traffic of a session without credentials, after the same check of the name.
import { lookup } from 'node:dns/promises';
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { decideEgress, decideResolvedAddress, type EgressOptions } from '../egress-policy.ts';
import type { Networking } from '../hands.ts';
import { refusedResolution } from './resolve-check.ts';

export interface UpstreamTarget {
  /** As sandbox-runtime canonicalized it (lowercase, IPv6 without brackets). */
  host: string;
  port: number;
  scheme: 'http' | 'https';
}

/** A refusal by the egress policy: answered with 403 and this reason. */
export class EgressRefused extends Error {}

/** The host's forward proxy, from its environment. */
export interface ParentProxy {
  http?: URL;
  https?: URL;
  /** NO_PROXY entries: `*`, or host names that also cover their subdomains. */
  noProxy: string[];
}

export interface UpstreamDialerOptions {
  networking: Networking;
  /** Read at each dial: this machine's addresses change as interfaces come and go. */
  egressOptions: () => EgressOptions;
  /** The roots upstream certificates are verified against. */
  ca: readonly string[];
  parent?: ParentProxy;
  /** Resolves a name to its addresses (tests answer for names no DNS knows). */
  resolve?: (host: string) => Promise<string[]>;
}

/** A connection to an upstream, ready for HTTP/1.1. */
export interface Upstream {
  socket: Socket | TLSSocket;
}

const DIAL_TIMEOUT_MS = 30_000;

export class UpstreamDialer {
  private readonly o: UpstreamDialerOptions;
  /**
   * Made once: a context holding the host's few hundred roots takes milliseconds to build, which every upstream TLS
   * dial would otherwise pay again.
   */
  private readonly secureContext: SecureContext;

  constructor(options: UpstreamDialerOptions) {
    this.o = options;
    this.secureContext = createSecureContext({ ca: [...options.ca] });
  }

  /**
   * Whether requests to `target` go out in absolute form (`GET http://host/path`): plain HTTP through the host's
   * forward proxy, which `dial` then connects to.
   */
  absoluteForm(target: UpstreamTarget): boolean {
    return target.scheme === 'http' && this.parentFor(target) !== undefined;
  }

  /** Opens a connection to `target`, or rejects with `EgressRefused` (or a network error). */
  async dial(target: UpstreamTarget): Promise<Upstream> {
    const parent = this.parentFor(target);
    if (parent) {
      await this.checkBeforeParent(target.host);
      if (target.scheme === 'http') return { socket: await openTcp(parent.hostname, portOf(parent)) };
      const tunnel = await connectThrough(parent, target);
      return { socket: await this.tls(tunnel, target) };
    }
    const address = await this.checkedAddress(target.host);
    const socket = await openTcp(address, target.port);
    return { socket: target.scheme === 'https' ? await this.tls(socket, target) : socket };
  }

  /**
   * A plain TCP connection to `target` for bytes that are neither TLS nor HTTP: directly to the checked address, or
   * through a CONNECT to the host's forward proxy for HTTPS.
   */
  async tunnel(target: { host: string; port: number }): Promise<Socket> {
    const parent = this.parentFor({ ...target, scheme: 'https' });
    if (parent) {
      await this.checkBeforeParent(target.host);
      return connectThrough(parent, { ...target, scheme: 'https' });
    }
    return openTcp(await this.checkedAddress(target.host), target.port);
  }

  /**
   * Before `host` goes to the host's forward proxy, which resolves names itself and would dial a name that points
   * at loopback or the LAN (`x.nip.io` → 127.0.0.1, where the runtime's API listens): the name resolved here and
   * refused if the egress policy refuses any of its addresses (a name this machine cannot resolve is left to the
   * forward proxy: `refusedResolution` says why); an IP literal judged as `checkedAddress` judges one.
   * Best effort: the forward proxy resolves the name again, and a name whose answer changes between the two lookups
   * (DNS rebinding with a TTL of 0) can still take it elsewhere. Only dialing the checked address, as the direct
   * path does, is sure, and a forward proxy rules that out.
   */
  private async checkBeforeParent(host: string): Promise<void> {
    const options = this.o.egressOptions();
    if (isIP(host)) {
      const decision = decideEgress(this.o.networking, `http://${host.includes(':') ? `[${host}]` : host}/`, options);
      if (!decision.allow) throw new EgressRefused(decision.reason);
      return;
    }
    const refusal = await refusedResolution(this.o.networking, host, { ...options, ...(this.o.resolve ? { resolve: this.o.resolve } : {}) });
    if (refusal !== undefined) throw new EgressRefused(refusal);
  }

  /**
   * The address to dial for `host`: an IP literal as the egress policy judges it; a name resolved once, its first
   * address the policy allows (a public one, or a private one `limited` lists as that literal). Never resolved
   * twice, so what is dialed is what was checked.
   */
  async checkedAddress(host: string): Promise<string> {
    const options = this.o.egressOptions();
    if (isIP(host)) {
      const decision = decideEgress(this.o.networking, `http://${host.includes(':') ? `[${host}]` : host}/`, options);
      if (!decision.allow) throw new EgressRefused(decision.reason);
      return host;
    }
    let addresses: string[];
    try {
      addresses = await (this.o.resolve ?? resolveAll)(host);
    } catch (error) {
      throw new Error(`could not resolve ${host} (${error instanceof Error ? error.message : String(error)})`);
    }
    let refusal: string | undefined;
    for (const address of addresses) {
      const decision = decideResolvedAddress(this.o.networking, host, address, options);
      if (decision.allow) return address;
      refusal ??= decision.reason;
    }
    throw new EgressRefused(refusal ?? `egress to ${host} refused: it resolved to no address`);
  }

  private parentFor(target: UpstreamTarget): URL | undefined {
    const parent = this.o.parent;
    const url = target.scheme === 'https' ? parent?.https : parent?.http;
    if (!parent || !url) return undefined;
    // the host's loopback is never behind its forward proxy
    if (/^(127\.|::1$|localhost$)/.test(target.host)) return undefined;
    const bypass = parent.noProxy.some((entry) => entry === '*' || target.host === entry || target.host.endsWith(`.${entry}`));
    return bypass ? undefined : url;
  }

  private tls(socket: Socket, target: UpstreamTarget): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      const secure = tlsConnect({
        socket,
        // the certificate is checked against the name the sandbox asked for, and SNI carries it (not for an IP)
        host: target.host,
        ...(isIP(target.host) ? {} : { servername: target.host }),
        secureContext: this.secureContext,
        ALPNProtocols: ['http/1.1'],
      });
      secure.once('secureConnect', () => {
        secure.removeListener('error', reject);
        resolve(secure);
      });
      secure.once('error', reject);
    });
  }
}

/** HTTP(S)_PROXY and NO_PROXY as sandbox-runtime reads them, or undefined when neither proxy is set. */
export function parentProxyFromEnv(env: NodeJS.ProcessEnv): ParentProxy | undefined {
  const parse = (value: string | undefined): URL | undefined => {
    if (!value) return undefined;
    try {
      return new URL(value.includes('://') ? value : `http://${value}`);
    } catch {
      return undefined;
    }
  };
  const https = parse(env.HTTPS_PROXY ?? env.https_proxy);
  const http = parse(env.HTTP_PROXY ?? env.http_proxy);
  if (!https && !http) return undefined;
  const noProxy = (env.NO_PROXY ?? env.no_proxy ?? '')
    .split(',')
    .map((e) => e.trim().toLowerCase().replace(/^\*?\./, '').replace(/:\d+$/, ''))
    .filter((e) => e !== '');
  return { ...(http ? { http } : {}), ...(https ? { https } : {}), noProxy };
}

async function resolveAll(host: string): Promise<string[]> {
  return (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
}

function portOf(url: URL): number {
  return Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
}

function openTcp(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // a proxy relays small writes (a request head, an event) as they come: no waiting to fill a segment
    const socket = tcpConnect({ host, port, noDelay: true });
    socket.setTimeout(DIAL_TIMEOUT_MS, () => socket.destroy(new Error(`connecting to port ${port} timed out`)));
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** A CONNECT tunnel to `target` through the parent proxy `parent`. */
async function connectThrough(parent: URL, target: UpstreamTarget): Promise<Socket> {
  const socket = await openTcp(parent.hostname, portOf(parent));
  const authority = target.host.includes(':') ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
  const auth = parent.username
    ? `Proxy-Authorization: Basic ${Buffer.from(`${decodeURIComponent(parent.username)}:${decodeURIComponent(parent.password)}`).toString('base64')}\r\n`
    : '';
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`);
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (head.length > 16_384) fail(new Error('the parent proxy answered CONNECT with too long a header'));
        return;
      }
      socket.removeListener('data', onData);
      socket.removeListener('error', fail);
      const status = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      if (!/^HTTP\/1\.[01] 2\d\d/.test(status)) {
        socket.destroy();
        reject(new Error(`the parent proxy refused CONNECT ${authority}: ${status}`));
        return;
      }
      const rest = head.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    const fail = (error: Error): void => {
      socket.destroy();
      reject(error);
    };
    socket.on('data', onData);
    socket.once('error', fail);
  });
}
