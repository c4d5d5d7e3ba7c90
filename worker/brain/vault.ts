// The brain's way into the vault: the session's workspace store decrypts the credentials of the session's vaults
// (for the sandbox and for MCP servers) and the tokens of its repositories.
import type { Env } from '../env.ts';
import type { VaultPort } from './ports.ts';
import { workspaceStore } from '../../durable-objects/stubs.ts';

export function vaultFor(env: Env): VaultPort {
  return {
    sessionCredentials(workspaceId, vaultIds) {
      return workspaceStore(env, workspaceId).sessionCredentials(vaultIds);
    },
    sessionMcpCredentials(workspaceId, vaultIds) {
      return workspaceStore(env, workspaceId).sessionMcpCredentials(vaultIds);
    },
    async recordMcpRefresh(workspaceId, credential, token) {
      // Through the credential update the API uses: the same rules, the token re-sealed under the current key.
      // An endpoint that gives no expires_in leaves the old expiry in place (an update cannot clear it), so the
      // token is refreshed again at the next step.
      const r = await workspaceStore(env, workspaceId).updateCredential(credential.vaultId, credential.credentialId, {
        auth: {
          type: 'mcp_oauth',
          access_token: token.accessToken,
          ...(token.expiresAt ? { expires_at: token.expiresAt } : {}),
          ...(token.refreshToken ? { refresh: { refresh_token: token.refreshToken } } : {}),
        },
      });
      if (!r.ok) throw new Error(`the refreshed token could not be stored (${r.error.message})`);
    },
    sessionRepositories(workspaceId, sessionId) {
      return workspaceStore(env, workspaceId).sessionRepositories(sessionId);
    },
  };
}
