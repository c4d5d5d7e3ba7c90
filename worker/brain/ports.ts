// What a brain step works with, as interfaces: the session's log (fenced reads and appends, live deltas), the
// model, the hands, the vault, the files messages name and the agent's MCP servers. The Brain entrypoint connects
// them; the step knows nothing else.
import type { LiveDelta, NewEvent, SessionEvent } from '../../contract/events.ts';
import type { EmitOptions, Refusal, StepView } from '../../durable-objects/session-log.ts';
import type { McpCredential } from '../../contract/vault.ts';
import type { SandboxCredential } from '../../sandbox/credentials.ts';
import type { Hands, MemoryChanges, SandboxMemoryStore, SandboxRepository } from '../../sandbox/hands.ts';
import type { McpPort } from './mcp-client.ts';
import type { RefreshedToken } from './mcp-oauth.ts';
import type { ModelPort } from './model-client.ts';

/** The part of the SessionLog a brain may use: fenced reads, fenced appends, live deltas. */
export interface LogPort {
  readForStep(epoch: number, types: string[]): Promise<StepView | Refusal>;
  emit(epoch: number, events: NewEvent[], opts?: EmitOptions): Promise<{ ok: true; events: SessionEvent[] } | Refusal>;
  release(epoch: number): Promise<boolean>;
  /** `thread`: the sub-agent thread the delta is of (its readers get it; the session's stream does not). */
  broadcastDelta(epoch: number, delta: LiveDelta, thread?: string): Promise<boolean>;
  stillHolds(epoch: number): Promise<boolean>;
  /**
   * Fenced claim of a call the brain runs itself (an MCP tool call): true the first time `key` is claimed, false
   * when an earlier brain claimed it (and may have run it).
   */
  claimCall(epoch: number, key: string): Promise<boolean | Refusal>;
}

/**
 * Where a step gets the session's vault credentials and its repositories' tokens (decrypted) when it is about to
 * run a tool or reach an MCP server.
 */
export interface VaultPort {
  sessionCredentials(workspaceId: string, vaultIds: string[]): Promise<SandboxCredential[]>;
  sessionRepositories(workspaceId: string, sessionId: string): Promise<SandboxRepository[]>;
  sessionMcpCredentials(workspaceId: string, vaultIds: string[]): Promise<McpCredential[]>;
  /** Stores the token a refresh of an `mcp_oauth` credential got, so later steps and sessions use it. */
  recordMcpRefresh(workspaceId: string, credential: McpCredential, token: RefreshedToken): Promise<void>;
}

/** Where a step reads the files that image and document blocks name (`source: {type: 'file'}`). */
export interface FilePort {
  /** The file's type and bytes; null when its workspace has no such file any more (deleted since it was sent). */
  read(workspaceId: string, fileId: string): Promise<{ mimeType: string; bytes: Uint8Array } | null>;
  /** The session's `file` resources, for the hands to place in its sandbox (bytes read through `read`). */
  sessionFiles(workspaceId: string, sessionId: string): Promise<Array<{ resourceId: string; fileId: string; mountPath: string }>>;
  /** The paths of a skill version's files; null when the workspace has no such version any more. */
  skillFiles(workspaceId: string, skillId: string, version: string): Promise<string[] | null>;
  /** One file of a skill version; null when its bytes are gone. */
  readSkillFile(workspaceId: string, skillId: string, version: string, path: string): Promise<Uint8Array | null>;
  /** The session's memory stores with their memories as they are now, for the hands to mount. */
  sessionMemoryStores(workspaceId: string, sessionId: string): Promise<SandboxMemoryStore[]>;
  /** Saves what a tool call wrote under the session's mounts, once per call id; a repeat answers what the first save did. */
  saveMemoryChanges(workspaceId: string, sessionId: string, callId: string, changes: MemoryChanges[]): Promise<SavedMemoryWrites[]>;
}

/** What became of one store's part of a call's changes (the workspace store's answer): each write's outcome, or why none applied. */
export type SavedMemoryWrites = { storeId: string; problem: string } | { storeId: string; applied: Array<{ path: string; outcome: string; reason?: string }> };

export interface StepPorts {
  log: LogPort;
  model: ModelPort;
  hands: Hands;
  vault: VaultPort;
  mcp: McpPort;
  files: FilePort;
}

/** The log refused an append: a newer epoch holds the session (a takeover, an interrupt), so this step is over. */
export class StaleEpoch extends Error {}
