// The HTTP API: request ids, auth, the body limit, Idempotency-Key, the resource routes, and the one place errors become responses.
import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import type { AppEnv } from './app-env.ts';
import type { Env } from '../env.ts';
import { authenticate } from './auth.ts';
import { cors } from './cors.ts';
import { ApiError, notFound } from './errors.ts';
import { bodyLimited } from './http.ts';
import { idempotency } from './idempotency.ts';
import { accessTokens } from './routes/access-tokens.ts';
import { agents } from './routes/agents.ts';
import { apiKeys } from './routes/api-keys.ts';
import { deploymentHooks } from './routes/deployment-hooks.ts';
import { deploymentRuns, deployments } from './routes/deployments.ts';
import { environments } from './routes/environments.ts';
import { events } from './routes/events.ts';
import { files } from './routes/files.ts';
import { memoryStores } from './routes/memory-stores.ts';
import { sessionResources } from './routes/session-resources.ts';
import { sessions } from './routes/sessions.ts';
import { skills } from './routes/skills.ts';
import { threads } from './routes/threads.ts';
import { vaults } from './routes/vaults.ts';
import { workspaces } from './routes/workspaces.ts';
import { webhooks } from './routes/webhooks.ts';
import { telemetryDestinations } from './routes/telemetry-destinations.ts';
import { resourceWebhooks } from './resource-webhooks.ts';

export function createApp() {
  const app = new Hono<AppEnv>();

  app.use(
    requestId({
      headerName: 'request-id',
      // 0: a client's own `request-id` header is never adopted; an id names one answer of ours, as the official API's do.
      limitLength: 0,
      generator: () => `req_${crypto.randomUUID().replace(/-/g, '')}`,
    }),
  );
  // requestId() sets the header on answers built through the context (c.json); a Durable Object's event stream
  // and an idempotent replay are Responses of their own, stamped here. c.header copies a finalized Response, so
  // the stream's immutable headers (and a WebSocket upgrade) go out stamped too.
  app.use(async (c, next) => {
    await next();
    if (!c.res.headers.has('request-id')) c.header('request-id', c.var.requestId);
  });

  app.get('/healthz', (c) => c.json({ ok: true }));
  // The console (web/console/): deployed, the assets binding serves its files before the Worker runs; a path that
  // names no file reaches here. It is one page, and a session's page is that page at a path of its own, so a link to
  // a session can be opened, bookmarked and reloaded.
  app.get('/console/sessions/:id', (c) => consoleAsset(c.env, new URL('/console/', c.req.url), c.var.requestId));
  app.on(['GET', 'HEAD'], ['/console', '/console/*'], (c) => consoleAsset(c.env, c.req.raw, c.var.requestId));
  // Public: a deployment's inbound webhook trigger, authenticated by its signature, not an API key.
  app.route('/hooks', deploymentHooks);

  // Before auth: a browser's preflight carries no credentials.
  app.use('/v1/*', cors);
  app.use('/v1/*', authenticate);
  app.use('/v1/*', bodyLimited);
  // After auth: keys are scoped to the caller's workspace.
  app.use('/v1/*', idempotency);
  // Inside idempotency: a replayed answer raises no second webhook event.
  app.use('/v1/*', resourceWebhooks);
  app.route('/v1/access_tokens', accessTokens);
  app.route('/v1/agents', agents);
  app.route('/v1/deployments', deployments);
  app.route('/v1/deployment_runs', deploymentRuns);
  app.route('/v1/environments', environments);
  app.route('/v1/files', files);
  app.route('/v1/memory_stores', memoryStores);
  app.route('/v1/sessions', events);
  app.route('/v1/sessions', sessions);
  app.route('/v1/sessions', sessionResources);
  app.route('/v1/sessions', threads);
  app.route('/v1/skills', skills);
  app.route('/v1/vaults', vaults);
  app.route('/v1/organizations/workspaces', workspaces);
  app.route('/v1/organizations/api_keys', apiKeys);
  app.route('/v1/organizations/webhooks', webhooks);
  app.route('/v1/organizations/telemetry_destinations', telemetryDestinations);

  app.notFound((c) => notFound(`no route for ${c.req.method} ${c.req.path}`).toResponse(c.var.requestId));

  app.onError((err, c) => {
    if (err instanceof ApiError) return err.toResponse(c.var.requestId);
    console.error(`unhandled error on ${c.req.method} ${c.req.path} (${c.var.requestId}):`, err);
    return new ApiError('api_error', 'internal error; see the runtime log for this request id').toResponse(c.var.requestId);
  });

  return app;
}

/** A console file from the assets binding (where a request reaches the Worker first, as under test, too). */
function consoleAsset(env: Env, request: Request | URL, requestId: string): Promise<Response> | Response {
  if (!env.ASSETS) return notFound('this runtime serves no console (no ASSETS binding)').toResponse(requestId);
  return env.ASSETS.fetch(request);
}
