// A secret looked for everywhere the agent or the model can look, and at rest: the session's events as the API lists
// them, the scripted model's requests, and every file of the runtime's state. The end-to-end tests of each kind of
// secret (MCP bearer, repository token) end with it.
import type Anthropic from '@anthropic-ai/sdk';
import { expect } from 'vitest';
import { filesHolding } from './files.ts';
import type { ScriptedRuntime } from './scripted-runtime.ts';

/** `atRest`: further spellings the secret could take in a state file (its base64, an encoded header). Returns the listed events. */
export async function expectSecretNowhere(
  run: ScriptedRuntime,
  sessionId: string,
  secret: string,
  atRest: string[] = [],
): Promise<Anthropic.Beta.Sessions.BetaManagedAgentsSessionEvent[]> {
  const listed = await run.client.beta.sessions.events.list(sessionId, { limit: 1000 });
  expect(JSON.stringify(listed.data)).not.toContain(secret);
  expect(JSON.stringify(run.model.model.requests)).not.toContain(secret);
  for (const spelling of [secret, ...atRest]) expect(filesHolding(run.stateDir, spelling)).toEqual([]);
  return listed.data;
}
