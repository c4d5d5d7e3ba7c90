// Which hands run a session's tools (the local sandbox host under npm start, or Cloudflare containers), and
// what the environment lets them reach.
import type { Env } from '../env.ts';
import type { EnvironmentConfig } from '../../contract/environment.ts';
import type { Hands, Networking } from '../../sandbox/hands.ts';
import { cloudflareHands } from '../../sandbox/cloudflare/hands.ts';
import { localHands } from '../../sandbox/local/client.ts';

export function handsFor(env: Env): Hands {
  return env.SANDBOX_PROVIDER === 'cloudflare' ? cloudflareHands(env) : localHands(env);
}

export function sandboxNetworking(config: EnvironmentConfig): Networking {
  if (config.type === 'cloud' && config.networking.type === 'limited') return { ...config.networking };
  return { type: 'unrestricted' };
}

/** Session deletion: stop and remove the sandbox. Never fails the deletion. */
export async function destroySandbox(env: Env, sessionId: string): Promise<void> {
  try {
    await handsFor(env).destroy(sessionId);
  } catch (err) {
    console.error(`could not destroy the sandbox of ${sessionId}:`, err);
  }
}
