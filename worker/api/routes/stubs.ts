// Durable Object stubs for the caller's workspace and for a session's log, typed as plain async interfaces
// (RPC's wrapped result types add nothing for the plain JSON values these objects return).
import type { Context } from 'hono';
import type { AppEnv } from '../app-env.ts';
import type { Env } from '../../env.ts';
import type { SessionLog } from '../../../durable-objects/session-log.ts';
import type { WorkspaceStore } from '../../../durable-objects/workspace-store.ts';

/** The public methods of a Durable Object class, as its stub exposes them. */
export type Remote<T> = {
  [K in keyof T as T[K] extends (...args: never[]) => unknown ? K : never]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

export type WorkspaceStub = Remote<Omit<WorkspaceStore, 'fetch' | 'alarm' | 'webSocketMessage' | 'webSocketClose' | 'webSocketError'>>;
export type SessionLogStub = Remote<Omit<SessionLog, 'alarm' | 'webSocketMessage' | 'webSocketClose' | 'webSocketError'>>;

export function workspace(c: Context<AppEnv>): WorkspaceStub {
  return c.env.WORKSPACE.get(c.env.WORKSPACE.idFromName(c.get('workspaceId'))) as unknown as WorkspaceStub;
}

export function sessionLog(env: Env, sessionId: string): SessionLogStub {
  return env.SESSION_LOG.get(env.SESSION_LOG.idFromName(sessionId)) as unknown as SessionLogStub;
}
