// The brain's way into the vault: the session's workspace store decrypts the credentials of the session's vaults
// and the tokens of its repositories.
import type { Env } from '../env.ts';
import type { VaultPort } from './ports.ts';
import { workspaceStore } from '../../durable-objects/stubs.ts';

export function vaultFor(env: Env): VaultPort {
  return {
    sessionCredentials(workspaceId, vaultIds) {
      return workspaceStore(env, workspaceId).sessionCredentials(vaultIds);
    },
    sessionRepositories(workspaceId, sessionId) {
      return workspaceStore(env, workspaceId).sessionRepositories(sessionId);
    },
  };
}
