// /v1/access_tokens (extension): exchanges an API key for a short-lived token that acts as that key, so a browser
// (the console) holds a token that expires instead of the key itself.
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../app-env.ts';
import { mintAccessToken } from '../auth.ts';
import { readJson } from '../http.ts';

/** Fifteen minutes unless asked otherwise; at most an hour, so a token left in a tab does not outlive the day. */
const DEFAULT_TTL_SECONDS = 900;

const AccessTokenParams = z.strictObject({ ttl_seconds: z.number().int().min(60).max(3600).optional() });

export const accessTokens = new Hono<AppEnv>().post('/', async (c) => {
  const body = await readJson(c, AccessTokenParams, { optional: true });
  const { token, expiresAt } = await mintAccessToken(c, body.ttl_seconds ?? DEFAULT_TTL_SECONDS);
  return c.json({ type: 'access_token', token, workspace_id: c.get('workspaceId'), expires_at: expiresAt.toISOString() });
});
