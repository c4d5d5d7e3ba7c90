// The HTTP API: request ids, auth, Idempotency-Key, the resource routes, and the one place errors become responses.
import { Hono } from 'hono';
import type { AppEnv } from './app-env.ts';
import { authenticate } from './auth.ts';
import { ApiError, notFound } from './errors.ts';
import { idempotency } from './idempotency.ts';
import { agents } from './routes/agents.ts';
import { environments } from './routes/environments.ts';
import { events } from './routes/events.ts';
import { sessions } from './routes/sessions.ts';
import { vaults } from './routes/vaults.ts';

export function createApp() {
  const app = new Hono<AppEnv>();

  app.use('*', async (c, next) => {
    const requestId = `req_${crypto.randomUUID().replace(/-/g, '')}`;
    c.set('requestId', requestId);
    await next();
    if (c.res.status === 101 || c.res.headers.has('request-id')) return;
    try {
      c.res.headers.set('request-id', requestId);
    } catch {
      // Responses passed through from a Durable Object have immutable headers; they go out as they are.
    }
  });

  app.get('/healthz', (c) => c.json({ ok: true }));

  app.use('/v1/*', authenticate);
  // After auth: keys are scoped to the caller's workspace.
  app.use('/v1/*', idempotency);
  app.route('/v1/agents', agents);
  app.route('/v1/environments', environments);
  app.route('/v1/sessions', events);
  app.route('/v1/sessions', sessions);
  app.route('/v1/vaults', vaults);

  app.notFound((c) => notFound(`no route for ${c.req.method} ${c.req.path}`).toResponse(c.get('requestId') ?? 'req_unknown'));

  app.onError((err, c) => {
    const requestId = c.get('requestId') ?? 'req_unknown';
    if (err instanceof ApiError) return err.toResponse(requestId);
    console.error(`unhandled error on ${c.req.method} ${c.req.path}:`, err);
    return new ApiError('api_error', 'internal error; see the runtime log for this request id').toResponse(requestId);
  });

  return app;
}
