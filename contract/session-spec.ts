// A session's spec: what it is and what it may do, fixed when it is created (agent, budget and limits change only
// by session update). One type from end to end: the create route builds it, the session's log stores it, every
// brain step reads it, and the sandbox's spec is derived from it.
import type { Networking, SandboxSpec } from '../sandbox/hands.ts';
import type { Budget, Compaction, Limits, Session, SessionAgent } from './session.ts';
import type { SkillSummary } from './skill.ts';
import type { MemoryStoreResource } from './session-resource.ts';

/** A memory store attached to the session, as the system prompt names it (the attachment's snapshot at create). */
export type MountedMemoryStore = Pick<MemoryStoreResource, 'name' | 'description' | 'mount_path' | 'access' | 'instructions'>;

/**
 * The sandbox's part of the spec is the hands' own `SandboxSpec` (session, workspace, environment and the
 * environment's networking when the session was created); only the credentials (and the skills' files) are added per tool call, read
 * from the vaults named here.
 */
export interface SessionSpec extends Omit<SandboxSpec, 'credentials' | 'skills' | 'memoryStores'> {
  /** The agent as the session pinned it (version and overrides applied). */
  agent: SessionAgent;
  /** The agent's custom skills, named and described for the system prompt, with the versions whose files the sandbox gets (absent in specs stored before skills). */
  skills?: SkillSummary[];
  /**
   * The memory stores attached at create, for the system prompt (absent when none, and in specs stored before
   * memory mounts): the hands mount what the session's resources hold when a call runs.
   */
  memoryStores?: MountedMemoryStore[];
  /** The vaults whose credentials the session's sandbox may use. */
  vaultIds: string[];
  budget: Budget | null;
  limits: Limits;
  compaction: Compaction;
  createdAt: string;
}

/** The spec of a session the workspace has just created, in the environment whose networking it was given. */
export function sessionSpec(session: Session, workspaceId: string, networking: Networking, skills: SkillSummary[] = []): SessionSpec {
  return {
    sessionId: session.id,
    workspaceId,
    agent: session.agent,
    skills,
    ...memoryStoresOf(session),
    environmentId: session.environment_id,
    networking,
    vaultIds: session.vault_ids,
    budget: session.budget,
    limits: session.limits,
    compaction: session.compaction,
    createdAt: session.created_at,
  };
}

function memoryStoresOf(session: Session): { memoryStores?: MountedMemoryStore[] } {
  const stores = session.resources.flatMap((r) =>
    r.type === 'memory_store' ? [{ name: r.name, description: r.description, mount_path: r.mount_path, access: r.access, instructions: r.instructions }] : [],
  );
  return stores.length ? { memoryStores: stores } : {};
}

/** What session update may change: later steps use the new values. */
export type SessionSpecChange = Partial<Pick<SessionSpec, 'agent' | 'budget' | 'limits'>>;
