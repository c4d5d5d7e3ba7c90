// A bearer-protected MCP server for tests, built with the official SDK's server (`McpServer`) over its streamable
// HTTP transport, stateless (a fresh server per request). Its tools: `lookup_order` answers from a fixed table,
// `show_authorization` echoes the Authorization header it received (a server that leaks the token back).
// `GET /_calls?order_id=…` (no token needed) says how many times `lookup_order` ran for that order; `GET /_requests`
// lists each MCP request served (JSON-RPC method, wall-clock start, ms spent), for benchmarks that subtract the
// server's own time from a tool call's. `POST /token` is
// an OAuth token endpoint: the refresh_token grant of client `edgeharness-test` (client_secret_post) gets the token
// (or, for a refresh token marked `.refused`, one the server refuses; see refreshTokenFor), and `GET
// /_grants?refresh_token=…` says how many grants were asked for with it. `POST /_tokens?grant=…` makes the server accept
// one more token, `POST /_tokens?revoke=…` refuses it again (a token revoked while a client holds it). It listens on 127.0.0.2, not 127.0.0.1: the
// runtime reaches plain-http MCP servers only there (contract/agent.ts, mcpServerUrlProblem).
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { OAUTH_CLIENT } from './mcp-oauth-client.ts';

/** One MCP request the server answered: `startedAt` is epoch ms (fractional), comparable to events' processed_at. */
export interface ServedRequest {
  method: string;
  startedAt: number;
  ms: number;
}

export interface TestMcpServer {
  url: string;
  close(): Promise<void>;
}

function mcpServer(req: IncomingMessage, calls: Map<string, number>): McpServer {
  const server = new McpServer({ name: 'orders', version: '1.0.0' });
  server.registerTool(
    'lookup_order',
    { description: 'Looks up an order by id', inputSchema: { order_id: z.string() } },
    async ({ order_id }) => {
      calls.set(order_id, (calls.get(order_id) ?? 0) + 1);
      return { content: [{ type: 'text', text: `order ${order_id}: shipped on 2026-11-30` }] };
    },
  );
  server.registerTool('show_authorization', { description: 'Shows the Authorization header the server received', inputSchema: {} }, async () => ({
    content: [{ type: 'text', text: `you sent: ${req.headers.authorization ?? '(none)'}` }],
  }));
  return server;
}

/** Serves MCP at `/mcp` to requests carrying `Authorization: Bearer <token>`; others get 401. */
export async function startMcpServer(token: string): Promise<TestMcpServer> {
  const calls = new Map<string, number>();
  const grants = new Map<string, number>();
  const accepted = new Set<string>();
  const served: ServedRequest[] = [];
  const http = createServer(async (req, res) => {
    if (req.method === 'GET' && req.url === '/_requests') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ requests: served }));
      return;
    }
    if (req.method === 'GET' && req.url?.startsWith('/_calls')) {
      const order = new URL(req.url, 'http://x').searchParams.get('order_id') ?? '';
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ calls: calls.get(order) ?? 0 }));
      return;
    }
    if (req.method === 'POST' && req.url?.startsWith('/_tokens')) {
      const q = new URL(req.url, 'http://x').searchParams;
      if (q.get('grant')) accepted.add(q.get('grant')!);
      if (q.get('revoke')) accepted.delete(q.get('revoke')!);
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'GET' && req.url?.startsWith('/_grants')) {
      const refreshToken = new URL(req.url, 'http://x').searchParams.get('refresh_token') ?? '';
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ grants: grants.get(refreshToken) ?? 0 }));
      return;
    }
    if (req.method === 'POST' && req.url === '/token') {
      let form = '';
      for await (const c of req) form += String(c);
      const p = new URLSearchParams(form);
      const refreshToken = p.get('refresh_token') ?? '';
      grants.set(refreshToken, (grants.get(refreshToken) ?? 0) + 1);
      const ok =
        p.get('grant_type') === 'refresh_token' &&
        p.get('client_id') === OAUTH_CLIENT.clientId &&
        p.get('client_secret') === OAUTH_CLIENT.clientSecret &&
        (refreshToken === OAUTH_CLIENT.refreshToken || refreshToken.startsWith(`${OAUTH_CLIENT.refreshToken}.`));
      const issued = refreshToken.endsWith('.refused') ? `refused-by-the-server-${grants.get(refreshToken)}` : token;
      res.writeHead(ok ? 200 : 400, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? { access_token: issued, token_type: 'Bearer', expires_in: 3600 } : { error: 'invalid_grant' }));
      return;
    }
    const bearer = req.headers.authorization?.replace(/^Bearer /, '');
    if (bearer !== token && !(bearer && accepted.has(bearer))) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' }).end(JSON.stringify({ error: 'unauthorized' }));
      return;
    }
    if (req.method !== 'POST' || !req.url?.startsWith('/mcp')) {
      res.writeHead(405).end();
      return;
    }
    // timed from the request's arrival to its response's end, so reading the body and the SDK's own work count too
    const startedAt = performance.timeOrigin + performance.now();
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const method = (body as { method?: unknown }).method;
    res.on('finish', () => {
      served.push({ method: typeof method === 'string' ? method : '(batch)', startedAt, ms: performance.timeOrigin + performance.now() - startedAt });
    });
    const server = mcpServer(req, calls);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.2', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.2:${port}/mcp`,
    close: () => new Promise((resolve) => http.close(() => resolve())),
  };
}
