// A vault's credentials. The row's body is what responses show (never a secret); the secrets are stored only
// sealed under the current master key and bound to this workspace, vault and credential (vault/crypto.ts), and
// dropped when the credential is archived.
import { newId } from '../../contract/ids.ts';
import { fail, ok, type Result } from '../../contract/result.ts';
import type { Page } from '../../contract/common.ts';
import {
  applyCredentialAuthUpdate,
  splitCredentialAuth,
  type Credential,
  type CredentialAuth,
  type CredentialCreateParams,
  type CredentialSecrets,
  type CredentialUpdateParams,
  type McpCredential,
} from '../../contract/vault.ts';
import { placeholderFor, type SandboxCredential } from '../../sandbox/credentials.ts';
import { openSecret, sealSecret, secretAad, type SealedSecret } from '../../vault/crypto.ts';
import { applyMetadataPatch } from '../shared/metadata.ts';
import { listBodies, type ListArgs } from '../shared/paging.ts';
import { Queries } from '../shared/queries.ts';
import { deserialise, serialise, timestamp, touched } from '../shared/rows.ts';
import type { VaultKeys } from './keys.ts';
import type { Vaults } from './vaults.ts';

const TABLE = 'vault_credentials';

interface CredentialRow {
  credential: Credential;
  sealed: SealedSecret | null;
}

export class Credentials extends Queries {
  private readonly vaults: Vaults;
  private readonly keys: VaultKeys;

  /** `vaults`: the vaults credentials belong to; `keys`: what their secrets are sealed with. */
  constructor(storage: DurableObjectStorage, vaults: Vaults, keys: VaultKeys) {
    super(storage);
    this.vaults = vaults;
    this.keys = keys;
  }

  /**
   * Stores a credential: its public part as the row's body, its secrets sealed. Refused in an archived vault, and
   * when the vault already has an active credential for the same secret_name (environment_variable) or
   * mcp_server_url (the MCP types).
   */
  async create(vaultId: string, p: CredentialCreateParams): Promise<Result<Credential>> {
    const { auth, secrets } = splitCredentialAuth(p.auth);
    const uniqueKey = credentialUniqueKey(auth);
    const before = this.createProblem(vaultId, uniqueKey);
    if (before) return before;
    const keys = await this.keys.forRequest();
    if (!keys.ok) return keys;
    const id = newId('vcrd');
    const sealed = await sealSecret(keys.value, secretAad(this.keys.workspaceId(), vaultId, id), JSON.stringify(secrets));
    // Checked again: other requests may have run while the secret was being sealed.
    const after = this.createProblem(vaultId, uniqueKey);
    if (after) return after;
    const now = timestamp();
    const credential: Credential = {
      type: 'vault_credential',
      id,
      vault_id: vaultId,
      display_name: p.display_name || null,
      auth,
      metadata: p.metadata ?? {},
      created_at: now,
      updated_at: now,
      archived_at: null,
    };
    this.sql.exec(
      `INSERT INTO vault_credentials (id, vault_id, created_at, auth_type, unique_key, body, key_id, iv, ciphertext) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      id,
      vaultId,
      now,
      auth.type,
      uniqueKey,
      serialise(credential),
      sealed.keyId,
      sealed.iv,
      sealed.ciphertext,
    );
    return ok(credential);
  }

  get(vaultId: string, id: string): Result<Credential> {
    const row = this.row(vaultId, id);
    return row.ok ? ok(row.value.credential) : row;
  }

  /**
   * Updates display_name, metadata (patch) and auth (same type only; see applyCredentialAuthUpdate). A changed auth
   * is re-sealed under the current master key, which is how secrets move off a rotated-out key.
   */
  async update(vaultId: string, id: string, p: CredentialUpdateParams): Promise<Result<Credential>> {
    const found = this.row(vaultId, id);
    if (!found.ok) return found;
    const { credential, sealed } = found.value;
    if (credential.archived_at) return fail('invalid_request_error', `credential '${id}' is archived and cannot be updated`);
    const next: Credential = { ...credential };
    // Parallel to the vault's update (vaults.ts), deliberately: the same display_name and metadata rules, each
    // resource stating its own. As with every field of a credential update, null keeps the stored value (the SDK
    // types allow null everywhere).
    if (p.display_name !== undefined && p.display_name !== null) next.display_name = p.display_name;
    const metadata = applyMetadataPatch(credential.metadata, p.metadata);
    if (typeof metadata === 'string') return fail('invalid_request_error', metadata);
    next.metadata = metadata;
    let resealed: SealedSecret | null = null;
    if (p.auth) {
      if (p.auth.type !== credential.auth.type)
        return fail('invalid_request_error', `auth.type: this credential is ${credential.auth.type}; its type cannot be changed to ${p.auth.type}`);
      const keys = await this.keys.forRequest();
      if (!keys.ok) return keys;
      if (!sealed) return fail('invalid_request_error', `credential '${id}' has no stored secret`);
      const aad = secretAad(this.keys.workspaceId(), vaultId, id);
      const secrets = JSON.parse(await openSecret(keys.value, aad, sealed)) as CredentialSecrets;
      const parts = applyCredentialAuthUpdate({ auth: credential.auth, secrets }, p.auth);
      if (typeof parts === 'string') return fail('invalid_request_error', parts);
      next.auth = parts.auth;
      resealed = await sealSecret(keys.value, aad, JSON.stringify(parts.secrets));
    }
    // Optimistic: a concurrent update or archive while the secret was being opened and sealed wins, this one retries.
    const current = this.row(vaultId, id);
    if (!current.ok) return current;
    if (serialise(current.value) !== serialise(found.value))
      return fail('conflict_error', `credential '${id}' was changed by another request meanwhile; retrieve it and retry`);
    const stored = touched(next);
    if (resealed)
      this.sql.exec(
        `UPDATE vault_credentials SET body = ?, key_id = ?, iv = ?, ciphertext = ? WHERE id = ?`,
        serialise(stored),
        resealed.keyId,
        resealed.iv,
        resealed.ciphertext,
        id,
      );
    else this.sql.exec(`UPDATE vault_credentials SET body = ? WHERE id = ?`, serialise(stored), id);
    return ok(stored);
  }

  list(vaultId: string, args: ListArgs): Result<Page<Credential>> {
    const vault = this.vaults.get(vaultId);
    if (!vault.ok) return vault;
    return listBodies<Credential>(this.sql, TABLE, args, { where: ['vault_id = ?'], params: [vaultId] });
  }

  delete(vaultId: string, id: string): Result<{ id: string; type: 'vault_credential_deleted' }> {
    const found = this.row(vaultId, id);
    if (!found.ok) return found;
    this.sql.exec(`DELETE FROM vault_credentials WHERE id = ?`, id);
    return ok({ id, type: 'vault_credential_deleted' });
  }

  /** Archives the credential and drops its sealed secret: an archived credential is never used or updated again. */
  archive(vaultId: string, id: string): Result<Credential> {
    const found = this.row(vaultId, id);
    if (!found.ok) return found;
    const { credential } = found.value;
    if (credential.archived_at) return ok(credential);
    return ok(archiveCredentialRow(this.sql, credential, timestamp()));
  }

  /**
   * What `mcp_oauth_validate` probes with (the brain does the probing; resources keep no HTTP): the credential
   * decrypted, with its refresh secrets, or null when it is archived (its token dropped). Other types are refused with
   * 400, as the endpoint validates MCP OAuth credentials only.
   */
  async forValidation(vaultId: string, id: string): Promise<Result<McpCredential | null>> {
    const found = this.row(vaultId, id);
    if (!found.ok) return found;
    const { credential, sealed } = found.value;
    if (credential.auth.type !== 'mcp_oauth')
      return fail(
        'invalid_request_error',
        `credential '${id}' is a ${credential.auth.type} credential; mcp_oauth_validate validates mcp_oauth credentials only`,
      );
    if (!sealed) return ok(null);
    const keys = await this.keys.forRequest();
    if (!keys.ok) return keys;
    const secrets = JSON.parse(await openSecret(keys.value, secretAad(this.keys.workspaceId(), vaultId, id), sealed)) as CredentialSecrets;
    return ok(mcpCredential(vaultId, id, credential, secrets));
  }

  /**
   * The usable environment_variable credentials of these vaults, decrypted, in vault order then creation order.
   * Archived vaults and credentials are left out; unknown vault ids too. When credentials of different vaults
   * share a secret_name, the first in that order wins (the sandbox has one variable of each name); within one
   * vault a name is unique among active credentials. Throws VaultCryptoError when a secret cannot be opened (the
   * master key unset, or the key it was sealed under no longer configured).
   */
  async forSession(vaultIds: string[]): Promise<SandboxCredential[]> {
    const names = new Set<string>();
    const picked = this.sealedOf(vaultIds, ['environment_variable']).filter(({ credential: { auth } }) => {
      if (auth.type !== 'environment_variable' || names.has(auth.secret_name)) return false;
      names.add(auth.secret_name);
      return true;
    });
    if (picked.length === 0) return [];
    const keys = await this.keys.load();
    const workspaceId = this.keys.workspaceId();
    return Promise.all(
      picked.map(async ({ vaultId, id, credential, sealed }) => {
        const secrets = JSON.parse(await openSecret(keys, secretAad(workspaceId, vaultId, id), sealed)) as CredentialSecrets;
        const auth = credential.auth as Extract<CredentialAuth, { type: 'environment_variable' }>;
        return {
          credentialId: id,
          vaultId,
          name: auth.secret_name,
          placeholder: placeholderFor(id),
          value: secrets.type === 'environment_variable' ? secrets.secret_value : '',
          networking: auth.networking,
          injection: { ...auth.injection_location },
        };
      }),
    );
  }

  /**
   * The usable MCP credentials (`static_bearer`, `mcp_oauth`) of these vaults, decrypted, in vault order then
   * creation order; the brain uses the first whose `mcp_server_url` is the server's. Archived vaults and
   * credentials are left out. An `mcp_oauth` token comes with what refreshing it takes (when it expires, or when the
   * server refuses it early). Throws VaultCryptoError when a secret cannot be opened.
   */
  async mcpForSession(vaultIds: string[]): Promise<McpCredential[]> {
    const picked = this.sealedOf(vaultIds, ['static_bearer', 'mcp_oauth']);
    if (picked.length === 0) return [];
    const keys = await this.keys.load();
    const workspaceId = this.keys.workspaceId();
    const out: McpCredential[] = [];
    for (const { vaultId, id, credential, sealed } of picked) {
      const secrets = JSON.parse(await openSecret(keys, secretAad(workspaceId, vaultId, id), sealed)) as CredentialSecrets;
      const usable = mcpCredential(vaultId, id, credential, secrets);
      if (usable) out.push(usable);
    }
    return out;
  }

  /**
   * The active credentials of these vaults with a secret kept, of the given types: vault order, then creation order.
   * Archived vaults are left out, and another workspace's vault is simply not here.
   */
  private sealedOf(vaultIds: string[], authTypes: readonly CredentialAuth['type'][]): Array<{ vaultId: string; id: string; credential: Credential; sealed: SealedSecret }> {
    const picked: Array<{ vaultId: string; id: string; credential: Credential; sealed: SealedSecret }> = [];
    for (const vaultId of vaultIds) {
      const vault = this.vaults.find(vaultId);
      if (!vault || vault.archived_at) continue;
      const rows = this.sql
        .exec<{ id: string; body: string; key_id: string; iv: string; ciphertext: string }>(
          `SELECT id, body, key_id, iv, ciphertext FROM vault_credentials
           WHERE vault_id = ? AND auth_type IN (${authTypes.map(() => '?').join(', ')}) AND archived_at IS NULL AND ciphertext IS NOT NULL
           ORDER BY n`,
          vaultId,
          ...authTypes,
        )
        .toArray();
      for (const row of rows)
        picked.push({ vaultId, id: row.id, credential: deserialise<Credential>(row.body), sealed: { keyId: row.key_id, iv: row.iv, ciphertext: row.ciphertext } });
    }
    return picked;
  }

  /** A credential of this vault: one of another vault is not found here, even in the same workspace. */
  private row(vaultId: string, id: string): Result<CredentialRow> {
    const vault = this.vaults.get(vaultId);
    if (!vault.ok) return vault;
    const row = this.sql
      .exec<{ body: string; key_id: string | null; iv: string | null; ciphertext: string | null }>(
        `SELECT body, key_id, iv, ciphertext FROM vault_credentials WHERE id = ? AND vault_id = ?`,
        id,
        vaultId,
      )
      .toArray()[0];
    if (!row) return fail('not_found_error', `credential '${id}' not found in vault '${vaultId}'`);
    const sealed = row.key_id && row.iv && row.ciphertext ? { keyId: row.key_id, iv: row.iv, ciphertext: row.ciphertext } : null;
    return ok({ credential: deserialise<Credential>(row.body), sealed });
  }

  private createProblem(vaultId: string, uniqueKey: string): Result<never> | null {
    const vault = this.vaults.get(vaultId);
    if (!vault.ok) return vault;
    if (vault.value.archived_at) return fail('invalid_request_error', `vault '${vaultId}' is archived; an archived vault cannot get new credentials`);
    const taken = this.sql
      .exec<{ id: string }>(`SELECT id FROM vault_credentials WHERE vault_id = ? AND unique_key = ? AND archived_at IS NULL`, vaultId, uniqueKey)
      .toArray()[0];
    if (!taken) return null;
    const [field, value] = uniqueKey.startsWith('env:') ? ['auth.secret_name', uniqueKey.slice(4)] : ['auth.mcp_server_url', uniqueKey.slice(4)];
    return fail(
      'conflict_error',
      `${field}: vault '${vaultId}' already has an active credential for '${value}' (${taken.id}); update, archive or delete that one instead`,
    );
  }
}

/** Archives every active credential of a vault (the vault is being archived), dropping their secrets. */
export function archiveActiveCredentials(sql: SqlStorage, vaultId: string, at: string): void {
  const active = sql.exec<{ body: string }>(`SELECT body FROM vault_credentials WHERE vault_id = ? AND archived_at IS NULL`, vaultId).toArray();
  for (const row of active) archiveCredentialRow(sql, deserialise<Credential>(row.body), at);
}

function archiveCredentialRow(sql: SqlStorage, credential: Credential, at: string): Credential {
  const next: Credential = { ...credential, archived_at: at, updated_at: at };
  sql.exec(
    `UPDATE vault_credentials SET archived_at = ?, body = ?, key_id = NULL, iv = NULL, ciphertext = NULL WHERE id = ?`,
    at,
    serialise(next),
    credential.id,
  );
  return next;
}

/** An MCP credential's public part and secrets as the brain uses them; null for any other type. */
function mcpCredential(vaultId: string, id: string, credential: Credential, secrets: CredentialSecrets): McpCredential | null {
  const { auth } = credential;
  if (auth.type === 'static_bearer')
    return {
      credentialId: id,
      vaultId,
      type: auth.type,
      mcpServerUrl: auth.mcp_server_url,
      token: secrets.type === 'static_bearer' ? secrets.token : '',
      expiresAt: null,
      refresh: null,
    };
  if (auth.type !== 'mcp_oauth' || secrets.type !== 'mcp_oauth') return null;
  const r = auth.refresh;
  const refresh =
    r && secrets.refresh_token
      ? {
          tokenEndpoint: r.token_endpoint,
          clientId: r.client_id,
          tokenEndpointAuth: r.token_endpoint_auth.type,
          clientSecret: secrets.client_secret,
          refreshToken: secrets.refresh_token,
          resource: r.resource,
          scope: r.scope,
        }
      : null;
  return { credentialId: id, vaultId, type: auth.type, mcpServerUrl: auth.mcp_server_url, token: secrets.access_token, expiresAt: auth.expires_at, refresh };
}

/** What must be unique among a vault's active credentials: one per variable name, one per MCP server. */
function credentialUniqueKey(auth: CredentialAuth): string {
  return auth.type === 'environment_variable' ? `env:${auth.secret_name}` : `mcp:${auth.mcp_server_url}`;
}
