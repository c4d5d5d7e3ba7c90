// Cross-origin access for web apps: the origins an operator lists in EDGEHARNESS_ALLOWED_ORIGINS may call the API
// from a browser; every other origin gets no Access-Control-Allow-Origin, so the browser keeps the answer from the
// page. Browsers do not apply CORS to WebSockets, so a stream upgrade from a foreign origin is refused here.
import type { MiddlewareHandler } from 'hono';
import { cors as honoCors } from 'hono/cors';
import type { AppEnv } from './app-env.ts';
import { ApiError } from './errors.ts';

/** What a browser may read of our answers besides the safelisted headers. */
const EXPOSED = ['request-id', 'retry-after', 'x-should-retry'];
/** How long a browser may reuse a preflight's answer, in seconds. */
const PREFLIGHT_MAX_AGE = 600;

/** The allowed origins from `EDGEHARNESS_ALLOWED_ORIGINS` (comma-separated; `*` allows any); parsed once per value. */
export function allowedOrigins(setting: string | undefined): ReadonlySet<string> {
  if (setting === cachedSetting) return cachedOrigins;
  cachedSetting = setting;
  cachedOrigins = new Set(
    (setting ?? '')
      .split(',')
      .map((o) => o.trim().replace(/\/+$/, ''))
      .filter(Boolean),
  );
  return cachedOrigins;
}
let cachedSetting: string | undefined;
let cachedOrigins: ReadonlySet<string> = new Set();

function isAllowed(origin: string, allowed: ReadonlySet<string>): boolean {
  return allowed.has('*') || allowed.has(origin);
}

/** True when `origin` is the origin the request was sent to (the page was served by this runtime). */
function isSameOrigin(origin: string, request: Request): boolean {
  const host = request.headers.get('host');
  try {
    const o = new URL(origin);
    return o.host === (host ?? new URL(request.url).host);
  } catch {
    return false;
  }
}

const preflight = honoCors({
  origin: (origin, c) => (origin && isAllowed(origin, allowedOrigins(c.env.EDGEHARNESS_ALLOWED_ORIGINS)) ? origin : null),
  allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
  // No fixed list: an allowed origin may send what it asks for (the SDK's x-stainless-* and anthropic-* headers,
  // Authorization, Idempotency-Key, Last-Event-ID…); the origin, not the header, is what is checked.
  exposeHeaders: EXPOSED,
  maxAge: PREFLIGHT_MAX_AGE,
});

/**
 * CORS for `/v1/*`, before authentication (a preflight carries no credentials). A preflight from an origin that is
 * not allowed is answered 403, and a WebSocket upgrade whose Origin is neither this runtime's own nor allowed is
 * refused before it reaches the session.
 */
export const cors: MiddlewareHandler<AppEnv> = async (c, next) => {
  const origin = c.req.header('origin');
  if (origin === undefined) return next();
  const allowed = allowedOrigins(c.env.EDGEHARNESS_ALLOWED_ORIGINS);
  if (!isAllowed(origin, allowed) && !isSameOrigin(origin, c.req.raw)) {
    if (c.req.method === 'OPTIONS') {
      throw new ApiError('permission_error', `origin ${origin} is not allowed; list it in EDGEHARNESS_ALLOWED_ORIGINS`);
    }
    if (c.req.header('upgrade')?.toLowerCase() === 'websocket') {
      throw new ApiError('permission_error', `origin ${origin} may not open a WebSocket here; list it in EDGEHARNESS_ALLOWED_ORIGINS`);
    }
  }
  return preflight(c, next);
};
