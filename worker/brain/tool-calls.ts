// Settling the tool calls a step finds open in the log: agent toolset calls run in the sandbox and MCP calls on
// their server (or are refused: denied by the user, unknown, input that violates the schema, over max_tool_calls);
// calls that need the client — custom tools, and `always_ask` tools not yet confirmed — are what the session waits for.
import { agentMcpToolResult, agentToolResult, sessionError, type EventOf, type NewEvent, type SessionEvent } from '../../contract/events.ts';
import type { SessionSpec } from '../../contract/session-spec.ts';
import { redactContent, type SandboxCredential } from '../../sandbox/credentials.ts';
import type { Hands, MemoryChanges, SandboxFile, SandboxMemoryStore, SandboxRepository, SandboxSkill, SandboxSpec } from '../../sandbox/hands.ts';
import { redactMemoryChanges } from './memory-mounts.ts';
import type { McpServers } from './mcp-servers.ts';
import { checkToolInput, type ResolvedTool } from './tools.ts';

/** The sandbox's view of a session: its spec, with the credentials, repositories, files and skills read for this call. */
function sandboxSpec(spec: SessionSpec, credentials: SandboxCredential[], repositories: SandboxRepository[], files: SandboxFile[], skills: SandboxSkill[], memoryStores: SandboxMemoryStore[]): SandboxSpec {
  return {
    sessionId: spec.sessionId,
    workspaceId: spec.workspaceId,
    environmentId: spec.environmentId,
    networking: spec.networking,
    credentials,
    repositories,
    files,
    skills,
    ...(memoryStores.length ? { memoryStores } : {}),
  };
}

export interface ToolCallContext {
  spec: SessionSpec;
  tools: Map<string, ResolvedTool>;
  hands: Hands;
  /** The session's credentials, read from the vault only when a call is about to run. */
  credentials: () => Promise<SandboxCredential[]>;
  /** The session's repositories with their tokens, for the hands to clone when they provision the sandbox. */
  repositories: () => Promise<SandboxRepository[]>;
  /** The session's file resources, for the hands to place before the call runs (bytes read only if they ask). */
  files: () => Promise<SandboxFile[]>;
  /** The agent's skills with their files, for the hands to place before the call runs (bytes read only if they ask). */
  skills: () => Promise<SandboxSkill[]>;
  /** The session's memory stores with their memories now, for the hands to mount before the call runs. */
  memoryStores: () => Promise<SandboxMemoryStore[]>;
  /** Saves what a call wrote under the memory mounts, once per call id; answers notes for the agent (memory-mounts.ts). */
  saveMemory: (callId: string, changes: MemoryChanges[], stores: SandboxMemoryStore[]) => Promise<string[]>;
  emit: (events: NewEvent[]) => Promise<SessionEvent[]>;
  /** How many more calls max_tool_calls lets run. */
  callsLeft: number;
  /** The MCP servers this step is connected to. */
  mcp: McpServers;
  /** Claims an MCP call before it runs: false when an earlier brain claimed it (the call may have run). */
  claim: (key: string) => Promise<boolean>;
}

/** What an MCP call an earlier brain started, and never recorded, is answered with: it is not run twice. */
const MCP_INTERRUPTED =
  'This tool call was interrupted: it was sent to the MCP server earlier and its result was never recorded (the brain ' +
  'running it stopped). It is not run again, because it may have taken effect; check its effect before calling it again.';

/**
 * Answers every tool call in `events` that has no result yet. Each call's `agent.tool_use` id is its idempotency
 * key with the hands, so a call a dead brain already ran returns its recorded outcome instead of running again.
 * Returns the ids the session must wait for, and whether a call went unrun because max_tool_calls was reached.
 */
export async function settleToolCalls(events: SessionEvent[], ctx: ToolCallContext): Promise<{ waiting: string[]; limitReached: boolean }> {
  const answered = new Set<string>();
  const confirmations = new Map<string, EventOf<'user.tool_confirmation'>>();
  for (const e of events) {
    if (e.type === 'agent.tool_result') answered.add(e.tool_use_id);
    if (e.type === 'agent.mcp_tool_result') answered.add(e.mcp_tool_use_id);
    if (e.type === 'user.custom_tool_result') answered.add(e.custom_tool_use_id);
    if (e.type === 'user.tool_confirmation') confirmations.set(e.tool_use_id, e);
  }
  const waiting: string[] = [];
  let left = ctx.callsLeft;
  let limitReached = false;
  for (const call of events) {
    if ((call.type !== 'agent.tool_use' && call.type !== 'agent.custom_tool_use' && call.type !== 'agent.mcp_tool_use') || answered.has(call.id)) continue;
    const name = call.name;
    const input = call.input ?? {};
    const mcpServer = call.type === 'agent.mcp_tool_use' ? call.mcp_server_name : null;
    const found = ctx.tools.get(name);
    // An MCP call goes to the server it was made to; a same-named tool of another kind is not it.
    const tool = found && (found.kind === 'mcp') === (mcpServer !== null) && found.server === (mcpServer ?? undefined) ? found : undefined;
    const refuse = (text: string) =>
      ctx.emit([mcpServer !== null ? agentMcpToolResult(call.id, [{ type: 'text', text }], true) : agentToolResult(call.id, [{ type: 'text', text }], true)]);
    if (!tool) {
      if (mcpServer === null) await refuse(`Tool '${name}' is not available to this agent.`);
      else {
        const server = ctx.mcp.server(mcpServer);
        await refuse(server.ok ? `Tool '${name}' is not available from MCP server '${mcpServer}'.` : `Not run: ${server.reason}.`);
      }
      continue;
    }
    const problem = checkToolInput(tool.definition, input);
    if (problem) {
      await refuse(`Invalid input for tool '${name}': ${problem}`);
      continue;
    }
    if (tool.kind === 'custom') {
      waiting.push(call.id);
      continue;
    }
    if (tool.permission.type === 'always_ask') {
      const confirmation = confirmations.get(call.id);
      if (!confirmation) {
        waiting.push(call.id);
        continue;
      }
      if (confirmation.result === 'deny') {
        await refuse(confirmation.deny_message || 'The user denied this tool call.');
        continue;
      }
    }
    if (left <= 0) {
      // No more tool runs: the call is answered, not run, and the turn stops (the caller reports why).
      await refuse('Not run: the session reached its max_tool_calls limit.');
      limitReached = true;
      continue;
    }
    left--;
    if (mcpServer !== null) {
      // No ledger on the server's side: the claim in the log is what keeps a call from running twice.
      if (!(await ctx.claim(call.id))) {
        await refuse(MCP_INTERRUPTED);
        continue;
      }
      const outcome = await ctx.mcp.call(mcpServer, name, input);
      await ctx.emit([agentMcpToolResult(call.id, outcome.content, outcome.isError)]);
      continue;
    }
    let credentials: SandboxCredential[];
    let repositories: SandboxRepository[];
    let files: SandboxFile[];
    let skills: SandboxSkill[];
    let memoryStores: SandboxMemoryStore[];
    try {
      [credentials, repositories, files, skills, memoryStores] = await Promise.all([ctx.credentials(), ctx.repositories(), ctx.files(), ctx.skills(), ctx.memoryStores()]);
    } catch (err) {
      // e.g. a master key missing after a rotation: the call is answered (not run), the session goes on
      await refuse(`Not run: the session's vault credentials, repository tokens, file resources, skills or memory stores could not be read (${(err as Error).message}).`);
      continue;
    }
    const outcome = await ctx.hands.execute(sandboxSpec(ctx.spec, credentials, repositories, files, skills, memoryStores), { name, input, idempotencyKey: call.id });
    // saved before the result is appended: by the end of the call, what it wrote under a mount is memories
    const memoryNotes = outcome.memoryChanges?.length ? await ctx.saveMemory(call.id, redactMemoryChanges(outcome.memoryChanges, credentials), memoryStores) : [];
    const content = [...outcome.content, ...memoryNotes.map((text) => ({ type: 'text' as const, text }))];
    // A repository that could not be cloned: the session goes on without it ("always retrying", as the SDK says).
    // A file that could not be placed: likewise, the session goes on without it.
    const notices = [...(outcome.repositoryErrors ?? []), ...(outcome.fileErrors ?? [])].map((e) => sessionError({ ...e, retry_status: { type: 'retrying' } }));
    // The hands redact too; this is the last gate before the log, whatever provider ran the call.
    const extension = outcome.sandboxStart ? { sandbox_start: outcome.sandboxStart } : {};
    await ctx.emit([...notices, agentToolResult(call.id, redactContent(content, credentials), outcome.isError, extension)]);
  }
  return { waiting, limitReached };
}
