// What a brain step works with, as interfaces: the session's log (fenced reads and appends, live deltas), the
// model, the hands, the vault and the files messages name. The Brain entrypoint connects them; the step knows nothing else.
import type { LiveDelta, NewEvent, SessionEvent } from '../../contract/events.ts';
import type { EmitOptions, Refusal, StepView } from '../../durable-objects/session-log.ts';
import type { SandboxCredential } from '../../sandbox/credentials.ts';
import type { Hands, SandboxRepository } from '../../sandbox/hands.ts';
import type { ModelPort } from './model-client.ts';

/** The part of the SessionLog a brain may use: fenced reads, fenced appends, live deltas. */
export interface LogPort {
  readForStep(epoch: number, types: string[]): Promise<StepView | Refusal>;
  emit(epoch: number, events: NewEvent[], opts?: EmitOptions): Promise<{ ok: true; events: SessionEvent[] } | Refusal>;
  release(epoch: number): Promise<boolean>;
  broadcastDelta(epoch: number, delta: LiveDelta): Promise<boolean>;
  stillHolds(epoch: number): Promise<boolean>;
}

/**
 * Where a step gets the session's vault credentials and its repositories' tokens (decrypted) when it is about to
 * run a tool.
 */
export interface VaultPort {
  sessionCredentials(workspaceId: string, vaultIds: string[]): Promise<SandboxCredential[]>;
  sessionRepositories(workspaceId: string, sessionId: string): Promise<SandboxRepository[]>;
}

/** Where a step reads the files that image and document blocks name (`source: {type: 'file'}`). */
export interface FilePort {
  /** The file's type and bytes; null when its workspace has no such file any more (deleted since it was sent). */
  read(workspaceId: string, fileId: string): Promise<{ mimeType: string; bytes: Uint8Array } | null>;
}

/** Where a step reads the files that image and document blocks name (`source: {type: 'file'}`). */
export interface FilePort {
  /** The file's type and bytes; null when its workspace has no such file any more (deleted since it was sent). */
  read(workspaceId: string, fileId: string): Promise<{ mimeType: string; bytes: Uint8Array } | null>;
}

export interface StepPorts {
  log: LogPort;
  model: ModelPort;
  hands: Hands;
  vault: VaultPort;
  files: FilePort;
}

/** The log refused an append: a newer epoch holds the session (a takeover, an interrupt), so this step is over. */
export class StaleEpoch extends Error {}
