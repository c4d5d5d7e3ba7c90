// What the Worker and the container's resource script (container-resources.ts) exchange: the plan the Worker writes
// for root, the state root keeps in the container, and the report root prints. Types and names only, so that the
// Worker's bundle takes nothing of the script's.
import type { RepositoryError, SandboxRepository } from '../hands.ts';

/** One file to place: staged by the Worker in the state directory, put at `mountPath` (absolute, in the container). */
export interface PlacedItem {
  id: string;
  mountPath: string;
  /** Empty directories left by its removal are removed up to (not including) this one; none: no directory is. */
  pruneUpTo?: string;
}

export interface ResourcePlan {
  /** Repositories to clone, unless the record says this container tried them already. */
  repositories: SandboxRepository[];
  /** Sent by git as `x-edgeharness-clone`, so that the egress handler lets the platform's clone through. */
  cloneMarker?: string;
  /** Files to place: each staged as `<state>/<stage>`. */
  place: Array<PlacedItem & { stage: string }>;
  /** Files that could not even be staged (gone, too large): recorded as failed, so that they are reported once. */
  unplaceable: PlacedItem[];
  /** Every placed file not listed here, or listed at another path, is removed. */
  keep: Record<string, string>;
}

export interface ResourceState {
  repositories: Record<string, 'cloned' | 'failed'>;
  placed: Record<string, PlacedItem>;
  failed: Record<string, string>;
}

export interface ResourceReport {
  repositoryErrors: RepositoryError[];
  /** Files that could not be placed, with why. */
  failed: Array<{ id: string; reason: string }>;
}

/** The state directory's record of what this container holds (it dies with the container). */
export const STATE_FILE = 'resources.json';

/**
 * The header root's git sends with the clone's requests, carrying the marker the egress handler was given for the
 * clone's duration: it tells the platform's clone from the agent's requests, which never know the marker.
 */
export const CLONE_MARKER_HEADER = 'x-edgeharness-clone';
