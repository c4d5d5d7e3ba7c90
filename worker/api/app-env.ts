// The Hono context every route sees: bindings plus the caller's workspace, request id and (once read) body.
import type { Env } from '../env.ts';

export interface AppEnv {
  Bindings: Env;
  Variables: {
    workspaceId: string;
    /** Set by hono/request-id (see app.ts). */
    requestId: string;
    /** The request body once read (see readBody). */
    body: Uint8Array | undefined;
  };
}
