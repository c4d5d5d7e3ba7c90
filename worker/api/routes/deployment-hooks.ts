// Extension: the inbound webhook trigger of a deployment. POST /hooks/workspaces/{workspace}/deployments/{id}
// needs no API key (it is outside /v1, which auth.ts guards) but a signature by the deployment's signing secret:
// Standard Webhooks (`webhook-id`, `webhook-timestamp` within 5 minutes, `webhook-signature`), verified by the
// `standardwebhooks` package, or GitHub's `X-Hub-Signature-256` (HMAC-SHA256 of the body, keyed by the whole
// secret; GitHub sends no timestamp, so redelivery, not age, is what `X-GitHub-Delivery` guards). Verified → 202
// and the deployment run, whose session gets the body (through the trigger's `message_template`, when set) as a
// `user.message` after the initial events; the same
// delivery id again → the same run. Anything unverified → 401 and nothing is created. See docs/deployments.md.
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { Webhook } from 'standardwebhooks';
import type { AppEnv } from '../app-env.ts';
import { invalidRequest, notFound, tooLarge, unauthenticated } from '../errors.ts';
import { unwrap } from '../http.ts';
import { renderTemplate } from '../../../contract/webhook-template.ts';
import { workspaceStore } from '../../../durable-objects/stubs.ts';

/** The largest webhook body taken: 1 MB, ample for GitHub's and most services' events. */
export const MAX_HOOK_BODY_BYTES = 1_000_000;

const ACCEPTED_TYPE = /^(application\/json|application\/[a-z0-9.+-]+\+json|text\/[a-z0-9.+-]+)\s*(;|$)/i;

const unverified = () => unauthenticated('webhook signature could not be verified');

export const deploymentHooks = new Hono<AppEnv>().post(
  '/workspaces/:workspace/deployments/:id',
  bodyLimit({ maxSize: MAX_HOOK_BODY_BYTES, onError: () => { throw tooLarge(`request body exceeds the limit of ${MAX_HOOK_BODY_BYTES} bytes`); } }),
  async (c) => {
    const id = c.req.param('id');
    const workspaceId = c.req.param('workspace');
    // Ids of the shapes this runtime makes, before any Durable Object is reached by a name from the outside.
    if (!/^depl_[0-9A-Za-z]{24}$/.test(id) || !/^[0-9A-Za-z_-]{1,64}$/.test(workspaceId)) throw notFound(`deployment '${id}' has no enabled webhook trigger`);
    const ws = workspaceStore(c.env, workspaceId);
    const contentType = c.req.header('content-type') ?? '';
    if (!ACCEPTED_TYPE.test(contentType))
      throw invalidRequest(`content-type: '${contentType || '(none)'}' is not accepted; send application/json or text/*`);
    const hook = await ws.deploymentWebhook(id);
    if (!hook) throw notFound(`deployment '${id}' has no enabled webhook trigger`);
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    const deliveryId = await verify(c, hook.secret, bytes);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
    } catch {
      throw invalidRequest('request body: not valid UTF-8');
    }
    if (text.trim() === '') throw invalidRequest('request body: empty; the payload becomes the run\'s user.message');
    const message = hook.messageTemplate ? renderTemplate(hook.messageTemplate, text) : text;
    if (message.trim() === '') throw invalidRequest('request body: the message template made an empty message of it (the fields it names are missing)');
    const run = unwrap(await ws.runDeployment(id, { type: 'webhook', webhook_id: deliveryId }, [{ type: 'user.message', content: [{ type: 'text', text: message }] }]));
    return c.json(run, 202);
  },
);

/** The delivery's id once its signature verifies; otherwise a 401. */
async function verify(c: Context<AppEnv>, secret: string, body: Uint8Array): Promise<string> {
  const webhookId = c.req.header('webhook-id');
  if (webhookId !== undefined) {
    const headers = {
      'webhook-id': webhookId,
      'webhook-timestamp': c.req.header('webhook-timestamp') ?? '',
      'webhook-signature': c.req.header('webhook-signature') ?? '',
    };
    try {
      // Checks the signature over `id.timestamp.body` and that the timestamp is within 5 minutes either way.
      new Webhook(secret).verify(new TextDecoder().decode(body), headers);
    } catch {
      throw unverified();
    }
    if (!webhookId || webhookId.length > 256) throw unverified();
    return `std:${webhookId}`;
  }
  const hub = c.req.header('x-hub-signature-256');
  if (hub !== undefined) {
    const m = /^sha256=([0-9a-f]{64})$/i.exec(hub);
    if (!m) throw unverified();
    const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    const sig = new Uint8Array(m[1]!.match(/../g)!.map((h) => parseInt(h, 16)));
    // crypto.subtle.verify compares in constant time.
    if (!(await crypto.subtle.verify('HMAC', key, sig, body))) throw unverified();
    const delivery = c.req.header('x-github-delivery');
    if (delivery && delivery.length <= 256) return `gh:${delivery}`;
    // No delivery id: the body's digest stands in for one, so the same signed body is one run.
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', body));
    return `gh-body:${[...digest].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  }
  throw unverified();
}
