// Raises the webhook events of successful resource changes (agent.created, environment.archived, session.deleted, …;
// contract/webhook.ts `resourceChange`): after the route answered, one unawaited RPC to the WebhookOutbox. An
// Idempotency-Key replay never gets here (the middleware before answers it), so a change raises its event once.
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-env.ts';
import { webhookOutbox } from '../../durable-objects/stubs.ts';
import { ORGANIZATION_ID, resourceChange, type WebhookEventData } from '../../contract/webhook.ts';

export const resourceWebhooks: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  if (c.res.status !== 200) return;
  const change = resourceChange(c.req.method, c.req.path);
  if (!change) return;
  let id = change.id;
  if (id === undefined) {
    try {
      const body = (await c.res.clone().json()) as { id?: unknown };
      if (typeof body.id === 'string') id = body.id;
    } catch {
      // not JSON: nothing to name
    }
  }
  if (id === undefined) return;
  const event: WebhookEventData & { vault_id?: string } = {
    type: change.type,
    id,
    organization_id: ORGANIZATION_ID,
    workspace_id: c.get('workspaceId'),
    ...(change.vault_id ? { vault_id: change.vault_id } : {}),
  };
  const sent = webhookOutbox(c.env)
    .enqueue([event])
    .catch((err: unknown) => console.error('webhook enqueue failed', err));
  try {
    c.executionCtx.waitUntil(sent);
  } catch {
    // No execution context (the app called directly): the promise runs on its own.
  }
};
