// The Hono context every route sees: bindings plus the caller's workspace and request id.
import type { Env } from '../env.ts';

export interface AppEnv {
  Bindings: Env;
  Variables: {
    workspaceId: string;
    /** The digest of the API key behind the request (an access token's too); null for a session token or the admin key. */
    keyDigest: string | null;
    /** Set by hono/request-id (see app.ts). */
    requestId: string;
  };
}
