// The hands: where a session's tools run. One interface for every provider (local bubblewrap host, Cloudflare
// container); the brain sees only this. Sandboxes are cattle: provisioned on the first tool call, replaced when
// they die, destroyed with the session.
import type { SandboxCredential } from './credentials.ts';

/** What a sandbox may reach. Mirrors the environment's `config.networking`. */
export type Networking =
  | { type: 'unrestricted' }
  | { type: 'limited'; allowed_hosts: string[]; allow_package_managers: boolean; allow_mcp_servers: boolean };

export interface SandboxSpec {
  sessionId: string;
  workspaceId: string;
  environmentId: string;
  networking: Networking;
  /**
   * The session's `environment_variable` credentials (from its vaults), values included: the sandbox gets each
   * variable set to its placeholder and the provider's egress proxy substitutes the value (see credentials.ts).
   * Providers redact the values from every outcome. Absent or empty: no credentials.
   */
  credentials?: SandboxCredential[];
  /**
   * The session's `github_repository` resources, tokens included. The local provider clones each into its mount
   * path (under the sandbox's workspace) before the session's first tool call runs, outside the sandbox, and the
   * token never enters it; the Cloudflare provider clones each as root in a fresh container, before any tool runs
   * there, with the token in root's git alone (docs/cloudflare-sandbox.md). Either reports a failed clone once
   * (`repositoryErrors`). Absent or empty: nothing to clone.
   */
  repositories?: SandboxRepository[];
  /**
   * The session's `file` resources. The local provider places each missing one read-only at its mount path (under
   * the sandbox's workspace) before the call runs, reading its bytes with `read` only then, and removes the copy of
   * one no longer listed; the Cloudflare provider does the same at the mount path itself, in its container.
   * Absent: nothing to place (and nothing removed).
   */
  files?: SandboxFile[];
  /**
   * The agent's custom skills, each placed read-only under `/mnt/skills/<name>/` before the call runs (the files
   * of the version the session pinned). Absent: nothing to place (and nothing removed).
   */
  skills?: SandboxSkill[];
  /**
   * The session's memory stores, each with every memory it holds now: the provider makes the files under each mount
   * path (`/mnt/memory/<slug>/<memory path>`) match them before the call runs (read-only for a `read_only` mount),
   * and after the call reports in `memoryChanges` what the agent wrote or deleted there. Absent: nothing mounted.
   */
  memoryStores?: SandboxMemoryStore[];
}

/** A memory store mounted in a session's sandbox, with the memories to place (sandbox/memory-mount.ts). */
export interface SandboxMemoryStore {
  storeId: string;
  /** `/mnt/memory/<slug>`; the local provider puts it under the workspace (and /mnt is bound there). */
  mountPath: string;
  access: 'read_write' | 'read_only';
  /** Each memory's path in the store (`/notes/a.md`) and its content. */
  memories: Array<{ path: string; content: string }>;
}

/** One change the agent made under a mount: a file written (created or changed) or deleted. */
export type SandboxMemoryWrite = { type: 'write'; path: string; content: string } | { type: 'delete'; path: string };

/** What the agent changed under one store's mount during a call: changes to save, and files that cannot be memories. */
export interface MemoryChanges {
  storeId: string;
  writes: SandboxMemoryWrite[];
  /** Files under the mount that are not saved (not text, too large, not a regular file, a read-only mount), and why. */
  refused: Array<{ path: string; reason: string }>;
}

/** A custom skill to place in a session's sandbox: its files, read-only, under `/mnt/skills/<name>/`. */
export interface SandboxSkill {
  skillId: string;
  version: string;
  /** The skill's name from its SKILL.md: the directory under `/mnt/skills/`. */
  name: string;
  /** Each file's path relative to the skill's directory (`SKILL.md`, `scripts/run.py`), with a reader. */
  files: Array<{ path: string; read: () => Promise<Uint8Array | null> }>;
}

/** A file to place in a session's sandbox. `read` is not sent anywhere: the provider calls it for the bytes. */
export interface SandboxFile {
  resourceId: string;
  fileId: string;
  /** Absolute and normalised (contract/session-resource.ts); the local provider puts it under the workspace. */
  mountPath: string;
  /** The file's bytes; null when the workspace has no such file any more. */
  read: () => Promise<Uint8Array | null>;
}

/** Why a file resource could not be placed in the sandbox, reported on the session as session.error. */
export interface FileError {
  type: 'unknown_error';
  message: string;
}

/** A repository to clone into a session's sandbox. `token` is for the clone only: never the sandbox's, never shown. */
export interface SandboxRepository {
  resourceId: string;
  url: string;
  checkout: { type: 'branch'; name: string } | { type: 'commit'; sha: string } | null;
  /** Absolute and normalised (contract/session-resource.ts); the local provider puts it under the workspace. */
  mountPath: string;
  token: string | null;
}

/** Why a repository could not be cloned: the SDK's repository error types, reported on the session as session.error. */
export interface RepositoryError {
  type: 'repository_authentication_error' | 'repository_forbidden_error' | 'repository_not_found_error' | 'repository_checkout_error' | 'repository_clone_error';
  message: string;
  repository_url: string | null;
}

/**
 * How a call found its sandbox: `cold` when the call had to start one (the session's first call, or the first after
 * the sandbox died, went idle or was restarted), `warm` when one was already running.
 */
export type SandboxStart = 'cold' | 'warm';

export interface ToolOutcome {
  /** Tool result blocks as the Messages API takes them (text only for the agent toolset). */
  content: Array<{ type: 'text'; text: string }>;
  isError: boolean;
  /**
   * Whether the call started its sandbox; absent when the tool never reached a sandbox (it could not be started or
   * reached) or the provider could not tell. A repeat of a call reports what its first run did.
   */
  sandboxStart?: SandboxStart;
  /** The session's repositories that could not be cloned when this call provisioned its sandbox (once per session). */
  repositoryErrors?: RepositoryError[];
  /** The session's file resources that could not be placed before this call (each reported once). */
  fileErrors?: FileError[];
  /**
   * What the agent changed under each memory store's mount during this call (only stores with changes), recorded
   * with the outcome, so a repeat of the call reports the same changes; the brain saves them once per call.
   */
  memoryChanges?: MemoryChanges[];
}

export interface ToolCall {
  /** One of the agent toolset's tools: bash, read, write, edit, glob, grep. */
  name: string;
  input: Record<string, unknown>;
  /**
   * The `agent.tool_use` event id. A call repeated with the same key (a brain that crashed and was re-woken)
   * returns the recorded outcome instead of running the tool again; a call whose first run is still in flight
   * waits for it.
   */
  idempotencyKey: string;
  /** Per-call limit; providers default to 120 s. */
  timeoutMs?: number;
}

export interface Hands {
  /** Starts (or reattaches to) the session's sandbox. Idempotent; `execute` calls it when needed. */
  provision(spec: SandboxSpec): Promise<void>;
  /**
   * Runs one tool call in the session's sandbox, provisioning it first if there is none (`sandboxStart` says
   * which). A sandbox that dies mid-call yields `isError: true` with a message saying so (never a thrown error);
   * the next call gets a fresh sandbox. Output over 100,000 characters is truncated in the result and kept whole
   * in a file in the workspace, and the result says where.
   */
  execute(spec: SandboxSpec, call: ToolCall): Promise<ToolOutcome>;
  /** Stops the session's sandbox and frees what it holds. Idempotent. */
  destroy(sessionId: string): Promise<void>;
}

export const DEFAULT_TOOL_TIMEOUT_MS = 120_000;
export const MAX_RESULT_CHARS = 100_000;
