// The brain's MCP client: one connection per agent MCP server per step, over the official SDK's streamable HTTP
// transport (plain `fetch`, so it runs in workerd), with the vault's bearer token in the Authorization header.
// A failure is a value saying whether the server could not be reached or refused the credential, and which MCP
// request failed with what HTTP answer (what `mcp_oauth_validate` reports).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { jsonSchemaValidator, JsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';
import { z } from 'zod';
import type { McpProbe } from '../../contract/vault.ts';
import { captured } from './mcp-oauth.ts';

/** A tool as the server lists it. */
export interface McpTool {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

/** A content block of a tool's answer, in the shapes `agent.mcp_tool_result` carries. */
export type McpContentBlock =
  | { type: 'text'; text: string }
  | { type: 'image'; source: { type: 'base64'; media_type: string; data: string } };

export interface McpCallOutcome {
  content: McpContentBlock[];
  isError: boolean;
  /** The server answered the call 401: it refused the token before running anything. */
  refused?: boolean;
}

export interface McpConnection {
  tools: McpTool[];
  call(name: string, input: Record<string, unknown>): Promise<McpCallOutcome>;
  close(): Promise<void>;
}

export type McpConnectFailure = {
  kind: 'connection' | 'authentication';
  message: string;
  /** The request that failed and the server's HTTP answer to it, if it gave one (status 401: the token was refused). */
  probe: McpProbe;
};
export type McpConnectResult = { ok: true; connection: McpConnection } | ({ ok: false } & McpConnectFailure);

/** How a step reaches MCP servers; tests may substitute it through the Brain's ports. */
export interface McpPort {
  connect(url: string, bearer: string | null): Promise<McpConnectResult>;
}

/** Connecting and listing must not outlast the lease (30 s by default); a tool call gets the SDK's 60 s. */
const CONNECT_TIMEOUT_MS = 10_000;

export const mcpOverHttp: McpPort = {
  async connect(url, bearer) {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return { ok: false, kind: 'connection', message: `the server URL '${url}' is not a URL`, probe: { method: 'initialize', http_response: null } };
    }
    // The last MCP request sent, and the server's answer to it when that was an HTTP error.
    const last: McpProbe = { method: 'initialize', http_response: null };
    const recording: typeof fetch = async (input, init) => {
      const method = init?.method === 'POST' ? rpcMethod(init.body) : null;
      if (method) Object.assign(last, { method, http_response: null });
      const res = await fetch(input, init);
      if (method && !res.ok) last.http_response = captured(res, await res.clone().text().catch(() => ''), bearer ? [bearer] : []);
      return res;
    };
    const transport = new StreamableHTTPClientTransport(target, {
      requestInit: bearer ? { headers: { Authorization: `Bearer ${bearer}` } } : {},
      fetch: recording,
    });
    // The SDK's default validator (Ajv) compiles schemas with `new Function`, which workerd forbids.
    const client = new Client({ name: 'edgeharness', version: '0.1.0' }, { jsonSchemaValidator: zodValidator });
    try {
      await client.connect(transport, { timeout: CONNECT_TIMEOUT_MS });
      const tools: McpTool[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor ? { cursor } : {}, { timeout: CONNECT_TIMEOUT_MS });
        for (const t of page.tools) tools.push({ name: t.name, description: t.description ?? '', inputSchema: t.inputSchema as Record<string, unknown> });
        cursor = page.nextCursor;
      } while (cursor);
      return {
        ok: true,
        connection: {
          tools,
          async call(name, input) {
            try {
              const r = await client.callTool({ name, arguments: input });
              return { content: toBlocks(r.content as unknown[] | undefined, r.structuredContent), isError: r.isError === true };
            } catch (err) {
              const refused = err instanceof StreamableHTTPError && err.code === 401;
              return { content: [{ type: 'text', text: `The MCP server failed the call: ${describe(err, bearer)}` }], isError: true, ...(refused ? { refused } : {}) };
            }
          },
          close: () => client.close().catch(() => undefined),
        },
      };
    } catch (err) {
      await client.close().catch(() => undefined);
      const refused = err instanceof StreamableHTTPError && (err.code === 401 || err.code === 403);
      return { ok: false, kind: refused ? 'authentication' : 'connection', message: describe(err, bearer), probe: { ...last } };
    }
  },
};

/** The JSON-RPC method a POST carries (`initialize`, `tools/list`, …); null for anything else. */
function rpcMethod(body: unknown): string | null {
  if (typeof body !== 'string') return null;
  try {
    const msg = JSON.parse(body) as { method?: unknown } | Array<{ method?: unknown }>;
    const first = Array.isArray(msg) ? msg[0] : msg;
    return typeof first?.method === 'string' ? first.method : null;
  } catch {
    return null;
  }
}

/** An error's message, without the token should a server have echoed it. */
function describe(err: unknown, bearer: string | null): string {
  const text = err instanceof Error ? err.message : String(err);
  return bearer && bearer.length >= 4 ? text.split(bearer).join('[redacted]') : text;
}

/** MCP content as event content: text and images as they are; other kinds (audio, resources) described in text. */
function toBlocks(content: unknown[] | undefined, structured: unknown): McpContentBlock[] {
  const out: McpContentBlock[] = [];
  for (const raw of content ?? []) {
    const b = raw as { type?: string; text?: string; data?: string; mimeType?: string; resource?: { uri?: string; text?: string }; uri?: string };
    if (b.type === 'text' && typeof b.text === 'string') out.push({ type: 'text', text: b.text });
    else if (b.type === 'image' && b.data && b.mimeType) out.push({ type: 'image', source: { type: 'base64', media_type: b.mimeType, data: b.data } });
    else if (b.type === 'resource' && typeof b.resource?.text === 'string') out.push({ type: 'text', text: b.resource.text });
    else if (b.type === 'resource_link') out.push({ type: 'text', text: `[resource ${b.uri ?? ''}]` });
    else out.push({ type: 'text', text: `[${b.type ?? 'unknown'} content not shown]` });
  }
  if (!out.length && structured !== undefined) out.push({ type: 'text', text: JSON.stringify(structured) });
  return out;
}

/** Validates structured tool output with zod's JSON Schema support; a schema zod cannot express is not checked. */
const zodValidator: jsonSchemaValidator = {
  getValidator<T>(schema: unknown): JsonSchemaValidator<T> {
    let check: z.ZodType | null;
    try {
      check = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
    } catch {
      check = null;
    }
    return (input) => {
      if (!check) return { valid: true, data: input as T, errorMessage: undefined };
      const r = check.safeParse(input);
      return r.success ? { valid: true, data: r.data as T, errorMessage: undefined } : { valid: false, data: undefined, errorMessage: r.error.message };
    };
  },
};
