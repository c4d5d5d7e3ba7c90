// Worker entry: the HTTP API, the Brain entrypoint (woken by session alarms), and the Durable Object classes.
import { createApp } from './api/app.ts';
import type { Env } from './env.ts';

export { Brain } from './brain/brain.ts';
export { SessionLog } from '../durable-objects/session-log.ts';
export { WorkspaceStore } from '../durable-objects/workspace-store.ts';
export { Directory } from '../durable-objects/directory.ts';
export { DeploymentScheduler } from '../durable-objects/deployment-scheduler.ts';
export { WebhookOutbox } from '../durable-objects/webhook-outbox.ts';
export { TelemetryOutbox } from '../durable-objects/telemetry-outbox.ts';
// Cloudflare provider of the hands (`wrangler deploy --env cloudflare`); inert where no SANDBOX binding exists.
export { SessionSandbox, ContainerProxy } from '../sandbox/cloudflare/session-sandbox.ts';

const app = createApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
