// The console's only way to the API: signs in (an API key exchanged for a short-lived access token), keeps that
// token in sessionStorage, and sends every request with it. The key itself is never stored.

const STORAGE_KEY = 'edgeharness.console.access';

/** Raised for an answer that is not 2xx: `status`, and the API's error message when it sent one. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The stored access token `{token, expires_at, workspace_id}`, or null when there is none or it has expired. */
export function currentAccess() {
  const raw = sessionStorage.getItem(STORAGE_KEY);
  if (!raw) return null;
  try {
    const access = JSON.parse(raw);
    if (typeof access.token !== 'string' || !(Date.parse(access.expires_at) > Date.now())) {
      sessionStorage.removeItem(STORAGE_KEY);
      return null;
    }
    return access;
  } catch {
    sessionStorage.removeItem(STORAGE_KEY);
    return null;
  }
}

/**
 * Exchanges `apiKey` for an access token and keeps only the token and its expiry. The key is sent once, in the
 * header of this one request, and forgotten.
 */
export async function signIn(apiKey) {
  const res = await fetch('/v1/access_tokens', {
    method: 'POST',
    headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
    body: JSON.stringify({ ttl_seconds: 3600 }),
  });
  const body = await readBody(res);
  if (!res.ok) throw new ApiError(res.status, errorMessage(res, body));
  const access = { token: body.token, expires_at: body.expires_at, workspace_id: body.workspace_id };
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(access));
  return access;
}

export function signOut() {
  sessionStorage.removeItem(STORAGE_KEY);
}

/** Called when the token is gone or refused (set by the app: it shows the sign-in form). */
let onSignedOut = () => {};
export function whenSignedOut(handler) {
  onSignedOut = handler;
}

/**
 * One API request with the access token: `body` is sent as JSON. A 401 (the token expired or was refused) signs
 * out and throws; any other error throws an ApiError carrying the API's message.
 */
export async function api(method, path, body) {
  const access = currentAccess();
  if (!access) {
    onSignedOut('Your sign-in has expired. Sign in again.');
    throw new ApiError(401, 'not signed in');
  }
  const headers = { authorization: `Bearer ${access.token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const answer = await readBody(res);
  if (res.status === 401) {
    signOut();
    onSignedOut('Your sign-in has expired. Sign in again.');
  }
  if (!res.ok) throw new ApiError(res.status, errorMessage(res, answer));
  return answer;
}

async function readBody(res) {
  const text = await res.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text;
  }
}

function errorMessage(res, body) {
  return body?.error?.message ?? `${res.status} ${res.statusText}`;
}
