// A step's MCP servers: connects to each server an agent's `mcp_toolset` uses (only then, and afresh each step, as
// the brain holds nothing between steps), with the bearer token of the session's vault credential for that server
// URL, offers the tools they list, and calls them. A server that cannot be reached or refuses the credential is a
// `session.error` once per turn, and the turn goes on without its tools.
import { mcpServerUrlProblem } from '../../contract/agent.ts';
import { sessionError, type NewEvent, type SessionEvent } from '../../contract/events.ts';
import type { SessionSpec } from '../../contract/session-spec.ts';
import type { McpCredential } from '../../contract/vault.ts';
import { redactContent, type SandboxCredential } from '../../sandbox/credentials.ts';
import type { McpCallOutcome, McpConnection, McpPort } from './mcp-client.ts';
import { refreshAccessToken } from './mcp-oauth.ts';
import type { VaultPort } from './ports.ts';
import { addMcpTools, mcpServersUsed, type ResolvedTool } from './tools.ts';

export interface McpServers {
  /** A server this step is connected to, or why not (it is then not offered, and its open calls are not run). */
  server(name: string): { ok: true; connection: McpConnection; bearer: string | null } | { ok: false; reason: string };
  /** Calls a tool; the answer has the server's token redacted, should it echo it. */
  call(server: string, name: string, input: Record<string, unknown>): Promise<McpCallOutcome>;
  close(): Promise<void>;
}

export interface McpStepContext {
  spec: SessionSpec;
  /** The step's log: errors recorded earlier in this turn are not tried again until the next turn. */
  seen: SessionEvent[];
  mcp: McpPort;
  vault: VaultPort;
  emit: (events: NewEvent[]) => Promise<SessionEvent[]>;
}

/**
 * Connects the agent's MCP servers and adds their tools to `tools`. An agent without an `mcp_toolset` contacts no
 * server and reads no credential.
 */
export async function connectMcpServers(ctx: McpStepContext, tools: Map<string, ResolvedTool>): Promise<McpServers> {
  /** `fresh`: its token was refreshed in this step, so a refusal is final. */
  const connected = new Map<string, { url: string; connection: McpConnection; bearer: string | null; credential: McpCredential | null; fresh: boolean }>();
  const down = new Map<string, string>();
  const uses = mcpServersUsed(ctx.spec.agent);
  if (uses.length) {
    const failedThisTurn = failuresThisTurn(ctx.seen);
    let credentials: McpCredential[] | string | undefined;
    for (const use of uses) {
      const earlier = failedThisTurn.get(use.name);
      if (earlier) {
        down.set(use.name, earlier);
        continue;
      }
      const failure = async (type: 'mcp_connection_failed_error' | 'mcp_authentication_failed_error', message: string) => {
        down.set(use.name, message);
        await ctx.emit([sessionError({ type, mcp_server_name: use.name, message, retry_status: { type: 'terminal' } })]);
      };
      // Agents are checked on create and update; this one may have been stored before the rule.
      const urlProblem = mcpServerUrlProblem(use.url);
      if (urlProblem) {
        await failure(
          'mcp_connection_failed_error',
          `MCP server '${use.name}' was not contacted: its url ${use.url} is not one the runtime connects to (${urlProblem}); update the agent's mcp_servers. Its tools are not offered this turn`,
        );
        continue;
      }
      credentials ??= await readCredentials(ctx);
      if (typeof credentials === 'string') {
        await failure('mcp_authentication_failed_error', `MCP server '${use.name}': ${credentials}; its tools are not offered this turn`);
        continue;
      }
      const credential = credentials.find((c) => sameUrl(c.mcpServerUrl, use.url)) ?? null;
      const current = credential ? await currentToken(ctx, credential) : null;
      if (current && 'problem' in current) {
        await failure('mcp_authentication_failed_error', `MCP server '${use.name}': ${current.problem}. Its tools are not offered this turn`);
        continue;
      }
      let bearer = current?.token ?? null;
      let fresh = current?.refreshed ?? false;
      let r = await ctx.mcp.connect(use.url, bearer);
      // A token refused before its expires_at (revoked, or rotated elsewhere) is refreshed once and tried once
      // more; one refreshed in this step already is not, so a server that refuses every token costs one refresh.
      if (!r.ok && r.probe.http_response?.status_code === 401 && credential?.refresh && !fresh) {
        const again = await refreshed(ctx, credential, `the server refused the access token of credential ${credential.credentialId} before it expired`);
        if ('problem' in again) {
          await failure('mcp_authentication_failed_error', `MCP server '${use.name}': ${again.problem}. Its tools are not offered this turn`);
          continue;
        }
        bearer = again.token;
        fresh = true;
        r = await ctx.mcp.connect(use.url, bearer);
      }
      if (!r.ok) {
        const what = r.kind === 'authentication' ? `refused the credential${fresh ? ', its access token just refreshed,' : ''}` : 'could not be reached';
        await failure(
          r.kind === 'authentication' ? 'mcp_authentication_failed_error' : 'mcp_connection_failed_error',
          `MCP server '${use.name}' ${what} (${r.message}); its tools are not offered this turn`,
        );
        continue;
      }
      connected.set(use.name, { url: use.url, connection: r.connection, bearer, credential, fresh });
      addMcpTools(tools, use, r.connection.tools);
    }
  }
  return {
    server(name) {
      const c = connected.get(name);
      if (c) return { ok: true, connection: c.connection, bearer: c.bearer };
      return { ok: false, reason: down.get(name) ?? `the agent has no MCP server named '${name}' with an mcp_toolset` };
    },
    async call(server, name, input) {
      const c = connected.get(server);
      if (!c) return { content: [{ type: 'text', text: `Not run: MCP server '${server}' is not connected.` }], isError: true };
      let outcome = await c.connection.call(name, input);
      // Refused mid-step (revoked since the step connected): a 401 means the server ran nothing, so the call is sent
      // once more, over a new connection with a refreshed token; the token is refreshed at most once a step.
      if (outcome.refused && c.credential?.refresh && !c.fresh) {
        const again = await refreshed(ctx, c.credential, `the server refused the access token of credential ${c.credential.credentialId} during the step`);
        c.fresh = true;
        if ('problem' in again) {
          // As when connecting: the session is told, and the server is not used again this turn.
          const message = `MCP server '${server}': ${again.problem}. Its tools are not offered for the rest of this turn`;
          connected.delete(server);
          down.set(server, message);
          await c.connection.close();
          await ctx.emit([sessionError({ type: 'mcp_authentication_failed_error', mcp_server_name: server, message, retry_status: { type: 'terminal' } })]);
          return { content: [{ type: 'text', text: `Not run: ${again.problem}.` }], isError: true };
        }
        const r = await ctx.mcp.connect(c.url, again.token);
        if (r.ok) {
          await c.connection.close();
          Object.assign(c, { connection: r.connection, bearer: again.token });
          outcome = await r.connection.call(name, input);
        }
      }
      const { refused: _, ...answer } = outcome;
      return { ...answer, content: c.bearer ? redactContent(answer.content, [asRedactable(c.bearer)]) : answer.content };
    },
    async close() {
      await Promise.all([...connected.values()].map((c) => c.connection.close()));
    },
  };
}

/**
 * The token to send: the credential's, or, for an `mcp_oauth` token past its `expires_at`, a fresh one from its token
 * endpoint (stored back in the vault). An expired token is never sent.
 */
async function currentToken(ctx: McpStepContext, credential: McpCredential): Promise<{ token: string; refreshed: boolean } | { problem: string }> {
  if (!credential.expiresAt || Date.parse(credential.expiresAt) > Date.now()) return { token: credential.token, refreshed: false };
  return refreshed(ctx, credential, `the access token of credential ${credential.credentialId} expired at ${credential.expiresAt}`);
}

/**
 * A new access token from the credential's token endpoint, stored in the vault; or why there is none (`why` says
 * what made a refresh necessary). The official API's `vault_credential.refresh_failed` is a webhook, and this
 * runtime sends none: the failure is told to the session, in the message of its error.
 */
async function refreshed(ctx: McpStepContext, credential: McpCredential, why: string): Promise<{ token: string; refreshed: true } | { problem: string }> {
  if (!credential.refresh) return { problem: `${why}, and the credential has no refresh token to renew it; update it with a new access_token` };
  const r = await refreshAccessToken(credential.refresh);
  if (!r.ok) return { problem: `${why}, and refreshing it failed: ${r.failure.message}` };
  try {
    await ctx.vault.recordMcpRefresh(ctx.spec.workspaceId, credential, r.token);
  } catch {
    // The new token still serves this step; the next one refreshes again.
  }
  return { token: r.token.accessToken, refreshed: true };
}

/** The session's MCP credentials, or why they could not be read (a master key missing after a rotation). */
async function readCredentials(ctx: McpStepContext): Promise<McpCredential[] | string> {
  if (!ctx.spec.vaultIds.length) return [];
  try {
    return await ctx.vault.sessionMcpCredentials(ctx.spec.workspaceId, ctx.spec.vaultIds);
  } catch (err) {
    return `the session's vault credentials could not be read (${(err as Error).message})`;
  }
}

/** MCP servers that failed since the session last went idle: `mcp_server_name` → the error's message. */
function failuresThisTurn(seen: SessionEvent[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of seen) {
    if (e.type === 'session.status_idle') out.clear();
    if (e.type === 'session.error' && 'mcp_server_name' in e.error) out.set(e.error.mcp_server_name, e.error.message);
  }
  return out;
}

/** A credential's `mcp_server_url` matches the server's URL as URLs (case of the host, default port), not as text. */
function sameUrl(a: string, b: string): boolean {
  try {
    return new URL(a).href === new URL(b).href;
  } catch {
    return a === b;
  }
}

/** The token in the shape the shared redactor takes; every spelling it knows is replaced, as for a sandbox secret. */
function asRedactable(token: string): SandboxCredential {
  return { credentialId: 'mcp', vaultId: '', name: '', placeholder: '[redacted]', value: token, networking: { type: 'unrestricted' }, injection: { header: true, body: false } };
}
