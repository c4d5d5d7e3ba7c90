// /v1/organizations/webhooks (`client.beta.organization.webhooks`): the organization's outbound webhook endpoints.
// Admin key only (auth.ts). The signing secret is in the create and regenerate answers and nowhere else.
import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { parseQuery, readJson, unwrap } from '../http.ts';
import { webhookOutbox } from '../../../durable-objects/stubs.ts';
import { WebhookCreateParams, WebhookListQuery, WebhookUpdateParams } from '../../../contract/webhook.ts';

export const webhooks = new Hono<AppEnv>()
  .post('/', async (c) => {
    const body = await readJson(c, WebhookCreateParams);
    return c.json(unwrap(await webhookOutbox(c.env).createEndpoint(body)));
  })
  .get('/', async (c) => {
    const q = parseQuery(c, WebhookListQuery);
    return c.json(unwrap(await webhookOutbox(c.env).listEndpoints(q)));
  })
  .get('/:id', async (c) => c.json(unwrap(await webhookOutbox(c.env).getEndpoint(c.req.param('id')))))
  .post('/:id', async (c) => {
    const body = await readJson(c, WebhookUpdateParams);
    return c.json(unwrap(await webhookOutbox(c.env).updateEndpoint(c.req.param('id'), body)));
  })
  .delete('/:id', async (c) => c.json(unwrap(await webhookOutbox(c.env).deleteEndpoint(c.req.param('id')))))
  .post('/:id/regenerate_signing_secret', async (c) => c.json(unwrap(await webhookOutbox(c.env).regenerateSecret(c.req.param('id')))));
