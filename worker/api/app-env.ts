// The Hono context every route sees: bindings plus the caller's workspace and request id.
import type { Env } from '../env.ts';

export interface AppEnv {
  Bindings: Env;
  Variables: {
    workspaceId: string;
    /** Set by hono/request-id (see app.ts). */
    requestId: string;
  };
}
