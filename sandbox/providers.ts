// Which hands run a session's tools: the provider SANDBOX_PROVIDER names (default `local`), from a registry of
// factories. A provider is a folder under sandbox/ with a factory that takes only the variables it reads; adding
// one is that folder and a line in HANDS_PROVIDERS.
import type { Hands } from './hands.ts';
import { cloudflareHands } from './cloudflare/hands.ts';
import { localHands } from './local/client.ts';

export const HANDS_PROVIDERS = {
  /** The sandbox host `npm start` runs: bubblewrap on this machine (sandbox/local/). */
  local: localHands,
  /** A container per session, owned by a SessionSandbox Durable Object (sandbox/cloudflare/). */
  cloudflare: cloudflareHands,
} satisfies Record<string, (env: never) => Hands>;

type HandsProviderName = keyof typeof HANDS_PROVIDERS;

const DEFAULT_HANDS_PROVIDER: HandsProviderName = 'local';

/** What `handsFor` reads: the choice, and the variables of every provider (each factory's slice, together). */
export type HandsEnv = { SANDBOX_PROVIDER?: string } & AllOf<{ [K in HandsProviderName]: Parameters<(typeof HANDS_PROVIDERS)[K]>[0] }[HandsProviderName]>;

/**
 * The hands of the provider SANDBOX_PROVIDER names; unset or empty is `local`. An unknown name does not throw
 * here, where every brain step would fail with it: it gives hands whose every tool call is an error naming the
 * variable and the providers there are, so a session shows the fix and a session without tool calls is unaffected.
 */
export function handsFor(env: HandsEnv): Hands {
  const name = env.SANDBOX_PROVIDER?.trim() || DEFAULT_HANDS_PROVIDER;
  if (!isProvider(name)) {
    const known = Object.keys(HANDS_PROVIDERS).map((n) => `"${n}"`).join(', ');
    return unavailableHands(`SANDBOX_PROVIDER: no hands provider is called ${JSON.stringify(name)}; the providers are ${known} (unset: "${DEFAULT_HANDS_PROVIDER}")`);
  }
  return HANDS_PROVIDERS[name](env);
}

function isProvider(name: string): name is HandsProviderName {
  return Object.hasOwn(HANDS_PROVIDERS, name);
}

/** Hands that run nothing and say why. */
function unavailableHands(reason: string): Hands {
  return {
    async provision() {
      throw new Error(reason);
    },
    async execute() {
      return { content: [{ type: 'text', text: `The tool did not run: ${reason}.` }], isError: true };
    },
    async destroy() {
      throw new Error(reason);
    },
  };
}

/** The intersection of a union's members: an env that satisfies every provider's slice at once. */
type AllOf<U> = (U extends unknown ? (slice: U) => void : never) extends (slice: infer I) => void ? I : never;

/** Session deletion: stop and remove the session's sandbox. Never fails the deletion; a failure is logged. */
export async function destroySandbox(env: HandsEnv, sessionId: string): Promise<void> {
  try {
    await handsFor(env).destroy(sessionId);
  } catch (err) {
    console.error(`could not destroy the sandbox of ${sessionId}:`, err);
  }
}
