// The brain's way into the vault: the session's workspace store decrypts the credentials of the session's vaults.
import type { Env } from '../env.ts';
import type { VaultPort } from './step.ts';
import type { WorkspaceStore } from '../../durable-objects/workspace-store.ts';

export function vaultFor(env: Env): VaultPort {
  return {
    sessionCredentials(workspaceId, vaultIds) {
      const store = env.WORKSPACE.get(env.WORKSPACE.idFromName(workspaceId)) as unknown as Pick<WorkspaceStore, 'sessionCredentials'>;
      return store.sessionCredentials(vaultIds);
    },
  };
}
