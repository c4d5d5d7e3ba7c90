// What the API and the brain need of the hands beyond running tools: an environment's networking in the hands'
// terms, and a session's sandbox removed with the session. Which provider runs the tools: sandbox/providers.ts.
import type { EnvironmentConfig } from '../../contract/environment.ts';
import type { Networking } from '../../sandbox/hands.ts';
import { handsFor, type HandsEnv } from '../../sandbox/providers.ts';

export function sandboxNetworking(config: EnvironmentConfig): Networking {
  if (config.type === 'cloud' && config.networking.type === 'limited') return { ...config.networking };
  return { type: 'unrestricted' };
}

/** Session deletion: stop and remove the sandbox. Never fails the deletion. */
export async function destroySandbox(env: HandsEnv, sessionId: string): Promise<void> {
  try {
    await handsFor(env).destroy(sessionId);
  } catch (err) {
    console.error(`could not destroy the sandbox of ${sessionId}:`, err);
  }
}
