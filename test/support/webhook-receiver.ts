// A webhook receiver for the tests: a node HTTP server on loopback that records every POST to `/hooks/<name>` (or a
// path below it, such as an OTLP collector's `/hooks/<name>/v1/traces`) and answers as the name asks: `fail-…`
// always 500, `flaky<N>-…` 500 for the first N deliveries then 200, `status<NNN>-…` always NNN (a 3xx with a
// Location), anything else 200. `GET /received/<name>` lists what arrived there, path, headers and raw body, in order.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  status: number;
  /** When it arrived (Date.now()). */
  at: number;
}

export async function startWebhookReceiver(): Promise<{ url: string; received: Map<string, Received[]>; close(): Promise<void> }> {
  const received = new Map<string, Received[]>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const hook = /^\/hooks\/([^/]+)(?:\/.*)?$/.exec(url.pathname);
    const list = /^\/received\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && list) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(received.get(list[1]!) ?? []));
      return;
    }
    if (req.method !== 'POST' || !hook) {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const name = hook[1]!;
      const seen = received.get(name) ?? [];
      const flaky = /^flaky(\d+)-/.exec(name);
      const fixed = /^status(\d{3})-/.exec(name);
      const status = fixed ? Number(fixed[1]) : name.startsWith('fail-') ? 500 : flaky && seen.length < Number(flaky[1]) ? 500 : 200;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      seen.push({ path: url.pathname, headers, body: Buffer.concat(chunks).toString('utf8'), status, at: Date.now() });
      received.set(name, seen);
      res.writeHead(status, { 'content-type': 'text/plain', ...(status >= 300 && status < 400 ? { location: '/elsewhere' } : {}) }).end(status === 200 ? 'ok' : 'failing on purpose');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
