// Refreshing an expired `mcp_oauth` access token: the OAuth 2.0 refresh_token grant (RFC 6749 §6) against the
// credential's token endpoint, with the client authentication its refresh configuration names. The brain does the
// exchange (resources keep no HTTP); the vault stores what it returns.
import type { McpCredential } from '../../contract/vault.ts';

export interface RefreshedToken {
  accessToken: string;
  /** From `expires_in`; null when the endpoint does not say. */
  expiresAt: string | null;
  /** A rotated refresh token, when the endpoint issues one. */
  refreshToken: string | null;
}

/** Asks the token endpoint for a new access token; a failure is a message naming what went wrong (never a secret). */
export async function refreshAccessToken(refresh: NonNullable<McpCredential['refresh']>, fetchImpl: typeof fetch = fetch): Promise<RefreshedToken | string> {
  const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh.refreshToken });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (refresh.tokenEndpointAuth === 'client_secret_basic') {
    // RFC 6749 §2.3.1: both parts form-urlencoded before base64.
    const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
    headers.authorization = `Basic ${btoa(`${enc(refresh.clientId)}:${enc(refresh.clientSecret ?? '')}`)}`;
  } else {
    form.set('client_id', refresh.clientId);
    if (refresh.tokenEndpointAuth === 'client_secret_post') form.set('client_secret', refresh.clientSecret ?? '');
  }
  if (refresh.resource) form.set('resource', refresh.resource);
  if (refresh.scope) form.set('scope', refresh.scope);
  let res: Response;
  try {
    res = await fetchImpl(refresh.tokenEndpoint, { method: 'POST', headers, body: form.toString(), signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    return `the token endpoint ${refresh.tokenEndpoint} could not be reached (${(err as Error).message})`;
  }
  const body = (await res.json().catch(() => null)) as { access_token?: unknown; expires_in?: unknown; refresh_token?: unknown; error?: unknown } | null;
  if (!res.ok || !body || typeof body.access_token !== 'string' || !body.access_token) {
    const why = body && typeof body.error === 'string' ? `: ${body.error}` : '';
    return `the token endpoint ${refresh.tokenEndpoint} refused the refresh (HTTP ${res.status}${why})`;
  }
  const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : null;
  return {
    accessToken: body.access_token,
    expiresAt: expiresIn ? new Date(Date.now() + expiresIn * 1000).toISOString() : null,
    refreshToken: typeof body.refresh_token === 'string' && body.refresh_token ? body.refresh_token : null,
  };
}
