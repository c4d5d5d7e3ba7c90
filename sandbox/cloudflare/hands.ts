// The Cloudflare provider: each session's tools run in its own container, owned by a `SessionSandbox` Durable
// Object (`@cloudflare/sandbox`), with the container's outbound traffic gated by the Worker. See
// docs/cloudflare-sandbox.md.
import type { Hands } from '../hands.ts';
import { createContainerHands } from './container-hands.ts';
import { openSessionSandbox, type SessionSandbox } from './session-sandbox.ts';

export interface CloudflareSandboxEnv {
  /** Bound only by the `cloudflare` wrangler environment (`wrangler deploy --env cloudflare`). */
  SANDBOX?: DurableObjectNamespace<SessionSandbox>;
}

export function cloudflareHands(env: CloudflareSandboxEnv): Hands {
  return createContainerHands((sessionId) => {
    // Thrown on first use, so a misconfigured deployment shows as a tool error naming the fix.
    if (!env.SANDBOX) throw new Error('the SANDBOX Durable Object binding is missing; deploy with `wrangler deploy --env cloudflare`');
    return openSessionSandbox(env.SANDBOX)(sessionId);
  });
}
