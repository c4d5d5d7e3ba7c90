// Refreshing an `mcp_oauth` access token: the OAuth 2.0 refresh_token grant (RFC 6749 §6) against the credential's
// token endpoint, with the client authentication its refresh configuration names. The brain does the exchange
// (resources keep no HTTP); the vault stores what it returns.
import { mcpServerUrlProblem } from '../../contract/agent.ts';
import type { McpCredential, ProbeHttpResponse } from '../../contract/vault.ts';

export interface RefreshedToken {
  accessToken: string;
  /** From `expires_in`; null when the endpoint does not say. */
  expiresAt: string | null;
  /** A rotated refresh token, when the endpoint issues one. */
  refreshToken: string | null;
}

/** Why a refresh failed, in the terms of `mcp_oauth_validate`'s `refresh` object; `message` names no secret. */
export interface RefreshFailure {
  status: 'failed' | 'connect_error';
  message: string;
  /** The endpoint's error answer (status `failed`), scrubbed of the secrets that were sent. */
  httpResponse: ProbeHttpResponse | null;
}

export type RefreshOutcome = { ok: true; token: RefreshedToken } | { ok: false; failure: RefreshFailure };

/** Asks the token endpoint for a new access token. */
export async function refreshAccessToken(refresh: NonNullable<McpCredential['refresh']>, fetchImpl: typeof fetch = fetch): Promise<RefreshOutcome> {
  const where = `the token endpoint ${refresh.tokenEndpoint}`;
  // Checked again here: a credential stored before the URL rule may name the runtime's own ports.
  const refused = mcpServerUrlProblem(refresh.tokenEndpoint);
  if (refused) return { ok: false, failure: { status: 'connect_error', message: `${where} is not one the runtime sends tokens to (${refused})`, httpResponse: null } };
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
    // A redirect is not followed: it could carry the refresh token to a host the URL rule keeps it from.
    res = await fetchImpl(refresh.tokenEndpoint, { method: 'POST', headers, body: form.toString(), redirect: 'manual', signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    return { ok: false, failure: { status: 'connect_error', message: `${where} could not be reached (${(err as Error).message})`, httpResponse: null } };
  }
  const text = await res.text().catch(() => '');
  type TokenAnswer = { access_token?: unknown; expires_in?: unknown; refresh_token?: unknown; error?: unknown };
  let body: TokenAnswer | null;
  try {
    body = JSON.parse(text) as TokenAnswer | null;
  } catch {
    body = null;
  }
  if (!res.ok || !body || typeof body.access_token !== 'string' || !body.access_token) {
    const why = body && typeof body.error === 'string' ? `: ${body.error}` : '';
    const secrets = [refresh.refreshToken, refresh.clientSecret ?? '', typeof body?.access_token === 'string' ? body.access_token : ''];
    return {
      ok: false,
      failure: { status: 'failed', message: `${where} refused the refresh (HTTP ${res.status}${why})`, httpResponse: captured(res, text, secrets) },
    };
  }
  const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : null;
  return {
    ok: true,
    token: {
      accessToken: body.access_token,
      expiresAt: expiresIn ? new Date(Date.now() + expiresIn * 1000).toISOString() : null,
      refreshToken: typeof body.refresh_token === 'string' && body.refresh_token ? body.refresh_token : null,
    },
  };
}

/** How much of an error body a validation shows: enough to read the error, not a page. */
const MAX_CAPTURED_BODY = 2048;

/** An HTTP answer as a validation shows it: the body cut to 2 KiB, every secret in `secrets` replaced. */
export function captured(res: Response, text: string, secrets: string[]): ProbeHttpResponse {
  let body = text;
  for (const s of secrets) if (s.length >= 4) body = body.split(s).join('[redacted]');
  const truncated = body.length > MAX_CAPTURED_BODY;
  return { body: truncated ? body.slice(0, MAX_CAPTURED_BODY) : body, body_truncated: truncated, content_type: res.headers.get('content-type') ?? '', status_code: res.status };
}
