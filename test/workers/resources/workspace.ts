// Runs a test inside a workspace's Durable Object, on its storage, with every resource's migrations applied (the
// host's constructor ran them). Each name is its own database, so a test starts from empty tables.
import { env, runInDurableObject } from 'cloudflare:test';
import type { Result, StoreError } from '../../../contract/result.ts';
import { Agents } from '../../../resources/agents/agents.ts';
import { Environments } from '../../../resources/environments/environments.ts';
import { Files } from '../../../resources/files/files.ts';
import { Sessions } from '../../../resources/sessions/sessions.ts';
import { SessionResources } from '../../../resources/session-resources/session-resources.ts';
import { Credentials } from '../../../resources/vaults/credentials.ts';
import { VaultKeys } from '../../../resources/vaults/keys.ts';
import { Vaults } from '../../../resources/vaults/vaults.ts';

export function inWorkspace<T>(name: string, fn: (storage: DurableObjectStorage) => T | Promise<T>): Promise<T> {
  const workspaceId = `wrkspc_resources_${name}`;
  return runInDurableObject(env.WORKSPACE.get(env.WORKSPACE.idFromName(workspaceId)), (_obj, state) => fn(state.storage));
}

/** Every resource module over one storage, wired as the WorkspaceStore wires them. */
export function modules(storage: DurableObjectStorage, workspaceId = 'wrkspc_resources') {
  const agents = new Agents(storage);
  const environments = new Environments(storage);
  const vaults = new Vaults(storage);
  const keys = new VaultKeys(() => env, () => workspaceId);
  const credentials = new Credentials(storage, vaults, keys);
  const files = new Files(storage);
  const sessionResources: SessionResources = new SessionResources(storage, keys, (id) => sessions.find(id), files);
  const sessions: Sessions = new Sessions(storage, { agents, environments, vaults, resources: sessionResources });
  return { agents, environments, vaults, credentials, sessions, sessionResources, files };
}

/** The value of an ok Result; a refusal fails the test with its message. */
export function value<T>(r: Result<T>): T {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.type}: ${r.error.message}`);
  return r.value;
}

/** The error of a refused Result. */
export function refusal(r: Result<unknown>): StoreError {
  if (r.ok) throw new Error('expected a refusal, got ok');
  return r.error;
}
