// How anything reaches a Durable Object: by name, through one function per class, typed as a plain async
// interface (RPC's wrapped result types add nothing for the plain JSON values these objects return). Nothing else
// calls `idFromName` or casts a stub.
import type { Env } from '../worker/env.ts';
import type { DeploymentScheduler } from './deployment-scheduler.ts';
import type { Directory } from './directory.ts';
import type { SessionLog } from './session-log.ts';
import type { WorkspaceStore } from './workspace-store.ts';
import type { WebhookOutbox } from './webhook-outbox.ts';
import type { TelemetryOutbox } from './telemetry-outbox.ts';

/** The public methods of a Durable Object class, as its stub exposes them. */
export type Remote<T> = {
  [K in keyof T as T[K] extends (...args: never[]) => unknown ? K : never]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

type Handlers = 'fetch' | 'alarm' | 'webSocketMessage' | 'webSocketClose' | 'webSocketError';
export type WorkspaceStub = Remote<Omit<WorkspaceStore, Handlers>>;
export type SessionLogStub = Remote<Omit<SessionLog, Exclude<Handlers, 'fetch'>>>;
export type DirectoryStub = Remote<Omit<Directory, Handlers>>;
export type DeploymentSchedulerStub = Remote<Omit<DeploymentScheduler, Handlers>>;

/** The workspace's store. Its name is the workspace id, which sealed vault secrets are bound to. */
export function workspaceStore(env: Pick<Env, 'WORKSPACE'>, workspaceId: string): WorkspaceStub {
  return env.WORKSPACE.get(env.WORKSPACE.idFromName(workspaceId)) as unknown as WorkspaceStub;
}

export function sessionLog(env: Pick<Env, 'SESSION_LOG'>, sessionId: string): SessionLogStub {
  return env.SESSION_LOG.get(env.SESSION_LOG.idFromName(sessionId)) as unknown as SessionLogStub;
}

/** The one Directory of this deployment. */
export function directory(env: Pick<Env, 'DIRECTORY'>): DirectoryStub {
  return env.DIRECTORY.get(env.DIRECTORY.idFromName('directory')) as unknown as DirectoryStub;
}

/** The alarm of one deployment's schedule (durable-objects/deployment-scheduler.ts). */
export function deploymentScheduler(env: Pick<Env, 'DEPLOYMENT_SCHEDULER'>, workspaceId: string, deploymentId: string): DeploymentSchedulerStub {
  const ns = env.DEPLOYMENT_SCHEDULER;
  return ns.get(ns.idFromName(`${workspaceId}/${deploymentId}`)) as unknown as DeploymentSchedulerStub;
}

export type WebhookOutboxStub = Remote<Omit<WebhookOutbox, Handlers>>;

/** The one WebhookOutbox of this deployment: the organization's webhook endpoints and their delivery queue. */
export function webhookOutbox(env: Pick<Env, 'WEBHOOKS'>): WebhookOutboxStub {
  return env.WEBHOOKS.get(env.WEBHOOKS.idFromName('organization')) as unknown as WebhookOutboxStub;
}

export type TelemetryOutboxStub = Remote<Omit<TelemetryOutbox, Handlers>>;

/** The one TelemetryOutbox of this deployment: the organization's telemetry destinations and their span queue. */
export function telemetryOutbox(env: Pick<Env, 'TELEMETRY'>): TelemetryOutboxStub {
  return env.TELEMETRY.get(env.TELEMETRY.idFromName('organization')) as unknown as TelemetryOutboxStub;
}
