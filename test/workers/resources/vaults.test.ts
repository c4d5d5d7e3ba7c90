// The vaults module queried directly: credentials sealed at rest and opened only for a session, one active
// credential per variable in a vault, and a vault's archive or delete reaching every credential in it.
import { describe, expect, it } from 'vitest';
import type { CredentialCreateParams } from '../../../contract/vault.ts';
import { inWorkspace, modules, refusal, value } from './workspace.ts';

const envVar = (name: string, secret: string): CredentialCreateParams => ({
  auth: { type: 'environment_variable', secret_name: name, secret_value: secret, networking: { type: 'unrestricted' } },
});

function sealedColumns(sql: SqlStorage, id: string) {
  return sql.exec<{ key_id: string | null; iv: string | null; ciphertext: string | null }>(
    `SELECT key_id, iv, ciphertext FROM vault_credentials WHERE id = ?`,
    id,
  ).one();
}

describe('vaults and credentials', () => {
  it('seals a credential’s secret, never shows it, and opens it for a session', () =>
    inWorkspace('vaults_seal', async (storage) => {
      const { vaults, credentials } = modules(storage, 'wrkspc_resources_vaults_seal');
      const vault = value(vaults.create({ display_name: 'Alice' }));
      const credential = value(await credentials.create(vault.id, envVar('GITHUB_TOKEN', 'ghp_secret_value')));
      expect(JSON.stringify(credential)).not.toContain('ghp_secret_value');
      const row = storage.sql.exec<{ body: string; ciphertext: string }>(`SELECT body, ciphertext FROM vault_credentials WHERE id = ?`, credential.id).one();
      expect(row.body + row.ciphertext).not.toContain('ghp_secret_value');
      expect((await credentials.forSession([vault.id])).map((c) => [c.name, c.value])).toEqual([['GITHUB_TOKEN', 'ghp_secret_value']]);
    }));

  it('opens the MCP credentials of a session’s vaults, in vault order, leaving out archived ones and environment variables', () =>
    inWorkspace('vaults_mcp', async (storage) => {
      const { vaults, credentials } = modules(storage, 'wrkspc_resources_vaults_mcp');
      const a = value(vaults.create({ display_name: 'a' }));
      const b = value(vaults.create({ display_name: 'b' }));
      value(await credentials.create(a.id, envVar('TOKEN', 'not-mcp')));
      const gone = value(await credentials.create(a.id, { auth: { type: 'static_bearer', token: 'archived-token', mcp_server_url: 'https://old.example.com/mcp' } }));
      value(credentials.archive(a.id, gone.id));
      const oauth = value(
        await credentials.create(b.id, {
          auth: { type: 'mcp_oauth', access_token: 'oauth-access', mcp_server_url: 'https://docs.example.com/mcp', expires_at: '2099-01-01T00:00:00Z' },
        }),
      );
      const bearer = value(await credentials.create(a.id, { auth: { type: 'static_bearer', token: 'bearer-token', mcp_server_url: 'https://orders.example.com/mcp' } }));
      expect(await credentials.mcpForSession([a.id, b.id])).toEqual([
        { credentialId: bearer.id, vaultId: a.id, type: 'static_bearer', mcpServerUrl: 'https://orders.example.com/mcp', token: 'bearer-token', expiresAt: null, refresh: null },
        { credentialId: oauth.id, vaultId: b.id, type: 'mcp_oauth', mcpServerUrl: 'https://docs.example.com/mcp', token: 'oauth-access', expiresAt: '2099-01-01T00:00:00Z', refresh: null },
      ]);
      expect(await credentials.forSession([a.id, b.id])).toHaveLength(1);
    }));

  it('refuses a second active credential for one variable in a vault, and finds a credential only in its own vault', () =>
    inWorkspace('vaults_unique', async (storage) => {
      const { vaults, credentials } = modules(storage, 'wrkspc_resources_vaults_unique');
      const a = value(vaults.create({ display_name: 'a' }));
      const b = value(vaults.create({ display_name: 'b' }));
      const first = value(await credentials.create(a.id, envVar('TOKEN', 'one')));
      expect(refusal(await credentials.create(a.id, envVar('TOKEN', 'two')))).toMatchObject({ type: 'conflict_error' });
      value(await credentials.create(b.id, envVar('TOKEN', 'three')));
      expect(refusal(credentials.get(b.id, first.id)).message).toBe(`credential '${first.id}' not found in vault '${b.id}'`);
    }));

  it('archives a vault with its credentials, dropping their secrets, and takes no new ones', () =>
    inWorkspace('vaults_archive', async (storage) => {
      const { vaults, credentials } = modules(storage, 'wrkspc_resources_vaults_archive');
      const vault = value(vaults.create({ display_name: 'v' }));
      const credential = value(await credentials.create(vault.id, envVar('TOKEN', 'v')));
      const archived = value(vaults.archive(vault.id));
      expect(archived.archived_at).not.toBeNull();
      expect(value(credentials.get(vault.id, credential.id)).archived_at).toBe(archived.archived_at);
      expect(sealedColumns(storage.sql, credential.id)).toEqual({ key_id: null, iv: null, ciphertext: null });
      expect(await credentials.forSession([vault.id])).toEqual([]);
      expect(refusal(await credentials.create(vault.id, envVar('OTHER', 'v'))).message).toContain('is archived');
      expect(refusal(vaults.update(vault.id, { display_name: 'w' })).message).toBe(`vault '${vault.id}' is archived and cannot be updated`);
    }));

  it('deletes a vault with every credential in it', () =>
    inWorkspace('vaults_delete', async (storage) => {
      const { vaults, credentials } = modules(storage, 'wrkspc_resources_vaults_delete');
      const vault = value(vaults.create({ display_name: 'v' }));
      value(await credentials.create(vault.id, envVar('TOKEN', 'v')));
      expect(value(vaults.delete(vault.id))).toEqual({ id: vault.id, type: 'vault_deleted' });
      expect(storage.sql.exec(`SELECT COUNT(*) AS n FROM vault_credentials WHERE vault_id = ?`, vault.id).one().n).toBe(0);
      expect(refusal(credentials.list(vault.id, { limit: 10 }))).toEqual({ type: 'not_found_error', message: `vault '${vault.id}' not found` });
    }));

  it('lists a vault’s credentials newest first, archived ones only when asked', () =>
    inWorkspace('vaults_list', async (storage) => {
      const { vaults, credentials } = modules(storage, 'wrkspc_resources_vaults_list');
      const vault = value(vaults.create({ display_name: 'v' }));
      const one = value(await credentials.create(vault.id, envVar('ONE', 'v')));
      const two = value(await credentials.create(vault.id, envVar('TWO', 'v')));
      value(credentials.archive(vault.id, one.id));
      expect(value(credentials.list(vault.id, { limit: 10 })).data.map((c) => c.id)).toEqual([two.id]);
      expect(value(credentials.list(vault.id, { limit: 10, includeArchived: true })).data.map((c) => c.id)).toEqual([two.id, one.id]);
    }));
});
