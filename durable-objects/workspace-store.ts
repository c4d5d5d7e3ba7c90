// WorkspaceStore: one Durable Object per workspace (tenant). Holds that workspace's agents (every version),
// environments, vaults (credentials sealed by vault/crypto.ts), the session index and the Idempotency-Keys its
// requests used (idempotency-keys.ts). Tenancy is structural: another workspace's objects are simply not here.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../worker/env.ts';
import { newId } from '../contract/ids.ts';
import { fail, ok, type Result } from '../contract/result.ts';
import {
  applyAgentUpdate,
  buildDefinition,
  checkAgentDefinition,
  normalizeModel,
  normalizeTools,
  type Agent,
  type AgentCreateParams,
  type AgentDefinition,
  type AgentUpdateParams,
} from '../contract/agent.ts';
import { applyMetadataPatch, decodeCursor, encodeCursor, type Page } from '../contract/common.ts';
import {
  normalizeConfig,
  type Environment,
  type EnvironmentCreateParams,
  type EnvironmentUpdateParams,
} from '../contract/environment.ts';
import {
  emptyUsage,
  type Session,
  type SessionAgent,
  type SessionCreateParams,
  type SessionListQuery,
  type SessionRuntime,
  type SessionUpdateParams,
} from '../contract/session.ts';
import {
  applyCredentialAuthUpdate,
  splitCredentialAuth,
  type Credential,
  type CredentialAuth,
  type CredentialCreateParams,
  type CredentialSecrets,
  type CredentialUpdateParams,
  type CredentialValidation,
  type Vault,
  type VaultCreateParams,
  type VaultUpdateParams,
} from '../contract/vault.ts';
import { MAX_AGENT_BYTES, MAX_ROW_BYTES, storedSizeProblem } from '../contract/size-limits.ts';
import { placeholderFor, type SandboxCredential } from '../sandbox/credentials.ts';
import { IdempotencyKeys, type Claim, type RequestIdentity, type StoredAnswer } from './idempotency-keys.ts';
import { loadKeyring, openSecret, sealSecret, secretAad, VaultCryptoError, type Keyring, type SealedSecret } from '../vault/crypto.ts';


export interface ListArgs {
  limit: number;
  page?: string | undefined;
  includeArchived?: boolean | undefined;
  createdGte?: string | undefined;
  createdLte?: string | undefined;
  createdGt?: string | undefined;
  createdLt?: string | undefined;
}

/** Characters of JSON per list page; a V8 string takes at most two bytes per character, so well under 32 MiB. */
const PAGE_CHARS = 8_000_000;


export class WorkspaceStore extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** The vault keyring, imported from the environment on first use (see loadKeys). */
  private keyringLoad: Promise<Keyring> | undefined;
  private readonly idempotency: IdempotencyKeys;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS agents (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        archived_at TEXT
      );
      CREATE TABLE IF NOT EXISTS agent_versions (
        agent_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (agent_id, version)
      );
      CREATE TABLE IF NOT EXISTS environments (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        archived_at TEXT,
        body TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS sessions (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        archived_at TEXT,
        agent_id TEXT NOT NULL,
        agent_version INTEGER NOT NULL,
        status TEXT NOT NULL,
        body TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS sessions_by_agent ON sessions(agent_id, agent_version);
      CREATE TABLE IF NOT EXISTS vaults (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        archived_at TEXT,
        body TEXT NOT NULL
      );
      -- body is the credential as responses show it (no secret); the secrets are only the sealed columns, which
      -- are NULL once the credential is archived (it can never be used again, so its secret is not kept).
      -- unique_key (env:<secret_name> or mcp:<mcp_server_url>) is unique among a vault's active credentials.
      CREATE TABLE IF NOT EXISTS vault_credentials (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        vault_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        archived_at TEXT,
        auth_type TEXT NOT NULL,
        unique_key TEXT NOT NULL,
        body TEXT NOT NULL,
        key_id TEXT,
        iv TEXT,
        ciphertext TEXT
      );
      CREATE INDEX IF NOT EXISTS vault_credentials_by_vault ON vault_credentials(vault_id, n);
    `);
    this.idempotency = new IdempotencyKeys(this.sql, (fn) => ctx.storage.transactionSync(fn));
  }

  // ---------- Idempotency-Key records (the API's idempotency middleware is their only caller) ----------

  async claimIdempotencyKey(key: string, request: RequestIdentity): Promise<Claim> {
    return this.idempotency.claim(key, request, Date.now());
  }

  async putIdempotentChunk(key: string, token: string, idx: number, data: Uint8Array): Promise<boolean> {
    return this.idempotency.putChunk(key, token, idx, data);
  }

  async completeIdempotencyKey(key: string, token: string, answer: StoredAnswer): Promise<boolean> {
    return this.idempotency.complete(key, token, answer, Date.now());
  }

  async releaseIdempotencyKey(key: string, token: string): Promise<void> {
    this.idempotency.release(key, token);
  }

  async idempotentChunk(key: string, idx: number): Promise<Uint8Array | null> {
    return this.idempotency.chunk(key, idx);
  }

  // ---------- agents ----------

  async createAgent(p: AgentCreateParams): Promise<Result<Agent>> {
    const def = buildDefinition(p);
    const problem = checkAgentDefinition(def);
    if (problem) return fail('invalid_request_error', problem);
    const now = new Date().toISOString();
    const agent: Agent = {
      type: 'agent',
      id: newId('agent'),
      version: 1,
      ...def,
      metadata: p.metadata ?? {},
      created_at: now,
      updated_at: now,
      archived_at: null,
    };
    const tooBig = storedSizeProblem(agent, MAX_AGENT_BYTES, 'agent');
    if (tooBig) return fail('invalid_request_error', tooBig);
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(`INSERT INTO agents (id, version, created_at) VALUES (?, 1, ?)`, agent.id, now);
      this.sql.exec(`INSERT INTO agent_versions (agent_id, version, body) VALUES (?, 1, ?)`, agent.id, JSON.stringify(agent));
    });
    return ok(agent);
  }

  async getAgent(id: string, version?: number): Promise<Result<Agent>> {
    const head = this.agentHead(id);
    if (!head) return fail('not_found_error', `agent '${id}' not found`);
    const v = version ?? head.version;
    const agent = this.agentVersion(id, v);
    if (!agent) return fail('not_found_error', `agent '${id}' has no version ${v} (latest is ${head.version})`);
    return ok({ ...agent, archived_at: head.archived_at });
  }

  /** A change makes a new version; `version`, when given, must be the current one (optimistic concurrency). */
  async updateAgent(id: string, p: AgentUpdateParams): Promise<Result<Agent>> {
    const head = this.agentHead(id);
    if (!head) return fail('not_found_error', `agent '${id}' not found`);
    if (head.archived_at) return fail('invalid_request_error', `agent '${id}' is archived and cannot be updated`);
    if (p.version !== undefined && p.version !== head.version)
      return fail('conflict_error', `version: agent '${id}' is at version ${head.version}, not ${p.version}; retrieve it and retry`);
    const current = this.agentVersion(id, head.version);
    if (!current) return fail('not_found_error', `agent '${id}' not found`);
    const def = applyAgentUpdate(current, p);
    const problem = checkAgentDefinition(def);
    if (problem) return fail('invalid_request_error', problem);
    const metadata = applyMetadataPatch(current.metadata, p.metadata);
    if (typeof metadata === 'string') return fail('invalid_request_error', metadata);
    const next: Agent = { ...current, ...def, metadata };
    // Nothing changed: no new version.
    if (JSON.stringify(next) === JSON.stringify(current)) return ok({ ...current, archived_at: head.archived_at });
    next.version = head.version + 1;
    next.updated_at = new Date().toISOString();
    const tooBig = storedSizeProblem(next, MAX_AGENT_BYTES, 'agent');
    if (tooBig) return fail('invalid_request_error', tooBig);
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(`UPDATE agents SET version = ? WHERE id = ?`, next.version, id);
      this.sql.exec(`INSERT INTO agent_versions (agent_id, version, body) VALUES (?, ?, ?)`, id, next.version, JSON.stringify(next));
    });
    return ok(next);
  }

  async listAgents(args: ListArgs): Promise<Result<Page<Agent>>> {
    const page = this.listRows<{ id: string; version: number; archived_at: string | null }>('agents', args, 'id, version, archived_at');
    if (!page.ok) return page;
    const rows = page.value.rows.map((r) => ({ n: r.n, body: this.agentVersionBody(r.id, r.version)!, archived_at: r.archived_at }));
    const kept = withinPageBudget(rows, (r) => r.body.length);
    const last = kept[kept.length - 1];
    const data = kept.map((r) => ({ ...(JSON.parse(r.body) as Agent), archived_at: r.archived_at }));
    return ok({ data, next_page: kept.length < rows.length && last ? encodeCursor({ n: last.n }) : page.value.next });
  }

  async archiveAgent(id: string): Promise<Result<Agent>> {
    const head = this.agentHead(id);
    if (!head) return fail('not_found_error', `agent '${id}' not found`);
    if (!head.archived_at) this.sql.exec(`UPDATE agents SET archived_at = ? WHERE id = ?`, new Date().toISOString(), id);
    return this.getAgent(id);
  }

  async listAgentVersions(id: string, args: { limit: number; page?: string | undefined }): Promise<Result<Page<Agent>>> {
    const head = this.agentHead(id);
    if (!head) return fail('not_found_error', `agent '${id}' not found`);
    let before = Number.MAX_SAFE_INTEGER;
    if (args.page) {
      const c = decodeCursor(args.page);
      if (!c || typeof c.v !== 'number') return fail('invalid_request_error', 'page: not a cursor returned by this API');
      before = c.v;
    }
    const rows = this.sql
      .exec<{ body: string; version: number }>(
        `SELECT body, version FROM agent_versions WHERE agent_id = ? AND version < ? ORDER BY version DESC LIMIT ?`,
        id,
        before,
        args.limit + 1,
      )
      .toArray();
    const pageRows = rows.slice(0, args.limit);
    const kept = withinPageBudget(pageRows, (r) => r.body.length);
    const data = kept.map((r) => ({ ...(JSON.parse(r.body) as Agent), archived_at: head.archived_at }));
    const last = data[data.length - 1];
    const more = rows.length > args.limit || kept.length < pageRows.length;
    return ok({ data, next_page: more && last ? encodeCursor({ v: last.version }) : null });
  }

  // ---------- environments ----------

  async createEnvironment(p: EnvironmentCreateParams): Promise<Result<Environment>> {
    const now = new Date().toISOString();
    const env: Environment = {
      type: 'environment',
      id: newId('env'),
      name: p.name,
      description: p.description ?? null,
      config: normalizeConfig(p.config),
      metadata: p.metadata ?? {},
      scope: p.scope ?? 'organization',
      created_at: now,
      updated_at: now,
      archived_at: null,
    };
    const tooBig = storedSizeProblem(env, MAX_ROW_BYTES, 'environment');
    if (tooBig) return fail('invalid_request_error', tooBig);
    this.sql.exec(`INSERT INTO environments (id, created_at, body) VALUES (?, ?, ?)`, env.id, now, JSON.stringify(env));
    return ok(env);
  }

  async getEnvironment(id: string): Promise<Result<Environment>> {
    const env = this.environment(id);
    return env ? ok(env) : fail('not_found_error', `environment '${id}' not found`, 'environment_not_found');
  }

  async updateEnvironment(id: string, p: EnvironmentUpdateParams): Promise<Result<Environment>> {
    const env = this.environment(id);
    if (!env) return fail('not_found_error', `environment '${id}' not found`, 'environment_not_found');
    if (env.archived_at) return fail('invalid_request_error', `environment '${id}' is archived`, 'environment_archived');
    const next: Environment = { ...env };
    if (p.name !== undefined && p.name !== null) next.name = p.name;
    if (p.description !== undefined) next.description = p.description || null;
    if (p.scope !== undefined && p.scope !== null) next.scope = p.scope;
    if (p.config !== undefined && p.config !== null) {
      if (p.config.type !== env.config.type)
        return fail('invalid_request_error', `config.type: cannot change from '${env.config.type}' to '${p.config.type}'`, 'invalid_config_type_change');
      next.config = normalizeConfig(p.config);
    }
    const metadata = applyMetadataPatch(env.metadata, p.metadata);
    if (typeof metadata === 'string') return fail('invalid_request_error', metadata, 'invalid_metadata');
    next.metadata = metadata;
    next.updated_at = new Date().toISOString();
    const tooBig = storedSizeProblem(next, MAX_ROW_BYTES, 'environment');
    if (tooBig) return fail('invalid_request_error', tooBig);
    this.sql.exec(`UPDATE environments SET body = ? WHERE id = ?`, JSON.stringify(next), id);
    return ok(next);
  }

  async listEnvironments(args: ListArgs): Promise<Result<Page<Environment>>> {
    const page = this.listRows<{ body: string }>('environments', args, 'body', undefined, (r) => r.body.length);
    if (!page.ok) return page;
    return ok({ data: page.value.rows.map((r) => JSON.parse(r.body) as Environment), next_page: page.value.next });
  }

  async deleteEnvironment(id: string): Promise<Result<{ id: string; type: 'environment_deleted' }>> {
    if (!this.environment(id)) return fail('not_found_error', `environment '${id}' not found`, 'environment_not_found');
    this.sql.exec(`DELETE FROM environments WHERE id = ?`, id);
    return ok({ id, type: 'environment_deleted' });
  }

  async archiveEnvironment(id: string): Promise<Result<Environment>> {
    const env = this.environment(id);
    if (!env) return fail('not_found_error', `environment '${id}' not found`, 'environment_not_found');
    if (env.archived_at) return ok(env);
    const now = new Date().toISOString();
    const next = { ...env, archived_at: now, updated_at: now };
    this.sql.exec(`UPDATE environments SET archived_at = ?, body = ? WHERE id = ?`, now, JSON.stringify(next), id);
    return ok(next);
  }

  // ---------- vaults and their credentials (secrets sealed by vault/crypto.ts; no response carries one) ----------

  async createVault(p: VaultCreateParams): Promise<Result<Vault>> {
    const now = new Date().toISOString();
    const vault: Vault = {
      type: 'vault',
      id: newId('vlt'),
      display_name: p.display_name,
      metadata: p.metadata ?? {},
      created_at: now,
      updated_at: now,
      archived_at: null,
    };
    this.sql.exec(`INSERT INTO vaults (id, created_at, body) VALUES (?, ?, ?)`, vault.id, now, JSON.stringify(vault));
    return ok(vault);
  }

  async getVault(id: string): Promise<Result<Vault>> {
    const vault = this.vault(id);
    return vault ? ok(vault) : vaultNotFound(id);
  }

  async updateVault(id: string, p: VaultUpdateParams): Promise<Result<Vault>> {
    const vault = this.vault(id);
    if (!vault) return vaultNotFound(id);
    if (vault.archived_at) return fail('invalid_request_error', `vault '${id}' is archived and cannot be updated`);
    const next: Vault = { ...vault };
    if (p.display_name !== undefined && p.display_name !== null) next.display_name = p.display_name;
    const metadata = applyMetadataPatch(vault.metadata, p.metadata);
    if (typeof metadata === 'string') return fail('invalid_request_error', metadata);
    next.metadata = metadata;
    next.updated_at = new Date().toISOString();
    this.sql.exec(`UPDATE vaults SET body = ? WHERE id = ?`, JSON.stringify(next), id);
    return ok(next);
  }

  async listVaults(args: ListArgs): Promise<Result<Page<Vault>>> {
    const page = this.listRows<{ body: string }>('vaults', args, 'body', undefined, (r) => r.body.length);
    if (!page.ok) return page;
    return ok({ data: page.value.rows.map((r) => JSON.parse(r.body) as Vault), next_page: page.value.next });
  }

  /** Deletes the vault and every credential in it. Sessions that named it simply no longer get its credentials. */
  async deleteVault(id: string): Promise<Result<{ id: string; type: 'vault_deleted' }>> {
    if (!this.vault(id)) return vaultNotFound(id);
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(`DELETE FROM vault_credentials WHERE vault_id = ?`, id);
      this.sql.exec(`DELETE FROM vaults WHERE id = ?`, id);
    });
    return ok({ id, type: 'vault_deleted' });
  }

  /** Archives the vault and its active credentials (whose secrets are dropped): nothing in it can be used again. */
  async archiveVault(id: string): Promise<Result<Vault>> {
    const vault = this.vault(id);
    if (!vault) return vaultNotFound(id);
    if (vault.archived_at) return ok(vault);
    const now = new Date().toISOString();
    const next: Vault = { ...vault, archived_at: now, updated_at: now };
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(`UPDATE vaults SET archived_at = ?, body = ? WHERE id = ?`, now, JSON.stringify(next), id);
      const active = this.sql
        .exec<{ id: string; body: string }>(`SELECT id, body FROM vault_credentials WHERE vault_id = ? AND archived_at IS NULL`, id)
        .toArray();
      for (const row of active) this.archiveCredentialRow(row.id, JSON.parse(row.body) as Credential, now);
    });
    return ok(next);
  }

  /**
   * Stores a credential: its public part as the row's body, its secrets sealed under the current master key and
   * bound to this workspace, vault and credential. Refused in an archived vault, and when the vault already has an
   * active credential for the same secret_name (environment_variable) or mcp_server_url (the MCP types).
   */
  async createCredential(vaultId: string, p: CredentialCreateParams): Promise<Result<Credential>> {
    const { auth, secrets } = splitCredentialAuth(p.auth);
    const uniqueKey = credentialUniqueKey(auth);
    const before = this.credentialCreateProblem(vaultId, uniqueKey);
    if (before) return before;
    const keys = await this.keyring();
    if (!keys.ok) return keys;
    const id = newId('vcrd');
    const sealed = await sealSecret(keys.value, secretAad(this.workspaceId(), vaultId, id), JSON.stringify(secrets));
    // Checked again: other requests may have run while the secret was being sealed.
    const after = this.credentialCreateProblem(vaultId, uniqueKey);
    if (after) return after;
    const now = new Date().toISOString();
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
      JSON.stringify(credential),
      sealed.keyId,
      sealed.iv,
      sealed.ciphertext,
    );
    return ok(credential);
  }

  async getCredential(vaultId: string, id: string): Promise<Result<Credential>> {
    const row = this.credentialRow(vaultId, id);
    return row.ok ? ok(row.value.credential) : row;
  }

  /**
   * Updates display_name, metadata (patch) and auth (same type only; see applyCredentialAuthUpdate). A changed auth
   * is re-sealed under the current master key, which is how secrets move off a rotated-out key.
   */
  async updateCredential(vaultId: string, id: string, p: CredentialUpdateParams): Promise<Result<Credential>> {
    const found = this.credentialRow(vaultId, id);
    if (!found.ok) return found;
    const { credential, sealed } = found.value;
    if (credential.archived_at) return fail('invalid_request_error', `credential '${id}' is archived and cannot be updated`);
    const next: Credential = { ...credential };
    if (p.display_name !== undefined && p.display_name !== null) next.display_name = p.display_name;
    const metadata = applyMetadataPatch(credential.metadata, p.metadata);
    if (typeof metadata === 'string') return fail('invalid_request_error', metadata);
    next.metadata = metadata;
    let resealed: SealedSecret | null = null;
    if (p.auth) {
      if (p.auth.type !== credential.auth.type)
        return fail('invalid_request_error', `auth.type: this credential is ${credential.auth.type}; its type cannot be changed to ${p.auth.type}`);
      const keys = await this.keyring();
      if (!keys.ok) return keys;
      if (!sealed) return fail('invalid_request_error', `credential '${id}' has no stored secret`);
      const aad = secretAad(this.workspaceId(), vaultId, id);
      const secrets = JSON.parse(await openSecret(keys.value, aad, sealed)) as CredentialSecrets;
      const parts = applyCredentialAuthUpdate({ auth: credential.auth, secrets }, p.auth);
      if (typeof parts === 'string') return fail('invalid_request_error', parts);
      next.auth = parts.auth;
      resealed = await sealSecret(keys.value, aad, JSON.stringify(parts.secrets));
    }
    // Optimistic: a concurrent update or archive while the secret was being opened and sealed wins, this one retries.
    const current = this.credentialRow(vaultId, id);
    if (!current.ok) return current;
    if (JSON.stringify(current.value) !== JSON.stringify(found.value))
      return fail('conflict_error', `credential '${id}' was changed by another request meanwhile; retrieve it and retry`);
    next.updated_at = new Date().toISOString();
    if (resealed)
      this.sql.exec(
        `UPDATE vault_credentials SET body = ?, key_id = ?, iv = ?, ciphertext = ? WHERE id = ?`,
        JSON.stringify(next),
        resealed.keyId,
        resealed.iv,
        resealed.ciphertext,
        id,
      );
    else this.sql.exec(`UPDATE vault_credentials SET body = ? WHERE id = ?`, JSON.stringify(next), id);
    return ok(next);
  }

  async listCredentials(vaultId: string, args: ListArgs): Promise<Result<Page<Credential>>> {
    if (!this.vault(vaultId)) return vaultNotFound(vaultId);
    const page = this.listRows<{ body: string }>('vault_credentials', args, 'body', ['vault_id', vaultId], (r) => r.body.length);
    if (!page.ok) return page;
    return ok({ data: page.value.rows.map((r) => JSON.parse(r.body) as Credential), next_page: page.value.next });
  }

  async deleteCredential(vaultId: string, id: string): Promise<Result<{ id: string; type: 'vault_credential_deleted' }>> {
    const found = this.credentialRow(vaultId, id);
    if (!found.ok) return found;
    this.sql.exec(`DELETE FROM vault_credentials WHERE id = ?`, id);
    return ok({ id, type: 'vault_credential_deleted' });
  }

  /** Archives the credential and drops its sealed secret: an archived credential is never used or updated again. */
  async archiveCredential(vaultId: string, id: string): Promise<Result<Credential>> {
    const found = this.credentialRow(vaultId, id);
    if (!found.ok) return found;
    const { credential } = found.value;
    if (credential.archived_at) return ok(credential);
    return ok(this.archiveCredentialRow(id, credential, new Date().toISOString()));
  }

  /**
   * `mcp_oauth_validate`. This runtime has no MCP client yet, so it cannot probe the server: an mcp_oauth
   * credential with a stored token gets the honest verdict `unknown` ("the probe couldn't tell"), an archived one
   * (its token dropped) `invalid` ("no access token is stored"). Other types are refused with 400, as the endpoint
   * validates MCP OAuth credentials only.
   */
  async validateCredential(vaultId: string, id: string): Promise<Result<CredentialValidation>> {
    const found = this.credentialRow(vaultId, id);
    if (!found.ok) return found;
    const { credential, sealed } = found.value;
    if (credential.auth.type !== 'mcp_oauth')
      return fail(
        'invalid_request_error',
        `credential '${id}' is a ${credential.auth.type} credential; mcp_oauth_validate validates mcp_oauth credentials only`,
      );
    return ok({
      type: 'vault_credential_validation',
      credential_id: id,
      vault_id: vaultId,
      status: sealed ? 'unknown' : 'invalid',
      has_refresh_token: sealed !== null && credential.auth.refresh !== null,
      mcp_probe: null,
      refresh: null,
      validated_at: new Date().toISOString(),
    });
  }

  /**
   * The usable environment_variable credentials of these vaults, decrypted, in vault order then creation order.
   * Archived vaults and credentials are left out; unknown vault ids too. When credentials of different vaults
   * share a secret_name, the first in that order wins (the sandbox has one variable of each name); within one
   * vault a name is unique among active credentials. Throws VaultCryptoError when a secret cannot be opened (the
   * master key unset, or the key it was sealed under no longer configured).
   */
  async sessionCredentials(vaultIds: string[]): Promise<SandboxCredential[]> {
    const picked: Array<{ vaultId: string; id: string; credential: Credential; sealed: SealedSecret }> = [];
    const names = new Set<string>();
    for (const vaultId of vaultIds) {
      const vault = this.vault(vaultId);
      if (!vault || vault.archived_at) continue;
      const rows = this.sql
        .exec<{ id: string; body: string; key_id: string; iv: string; ciphertext: string }>(
          `SELECT id, body, key_id, iv, ciphertext FROM vault_credentials
           WHERE vault_id = ? AND auth_type = 'environment_variable' AND archived_at IS NULL AND ciphertext IS NOT NULL ORDER BY n`,
          vaultId,
        )
        .toArray();
      for (const row of rows) {
        const credential = JSON.parse(row.body) as Credential;
        if (credential.auth.type !== 'environment_variable' || names.has(credential.auth.secret_name)) continue;
        names.add(credential.auth.secret_name);
        picked.push({ vaultId, id: row.id, credential, sealed: { keyId: row.key_id, iv: row.iv, ciphertext: row.ciphertext } });
      }
    }
    if (picked.length === 0) return [];
    const keys = await this.loadKeys();
    const workspaceId = this.workspaceId();
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

  // ---------- sessions (index; the SessionLog owns status and usage and pushes them here) ----------

  /** Resolves the agent (pinned version, optional overrides) and environment, and records the session. */
  async createSession(p: SessionCreateParams): Promise<Result<Session>> {
    const ref = typeof p.agent === 'string' ? { type: 'agent' as const, id: p.agent } : p.agent;
    const head = this.agentHead(ref.id);
    if (!head) return fail('not_found_error', `agent: agent '${ref.id}' not found`);
    if (head.archived_at) return fail('invalid_request_error', `agent: agent '${ref.id}' is archived`);
    const version = ref.version ?? head.version;
    const agent = this.agentVersion(ref.id, version);
    if (!agent) return fail('not_found_error', `agent.version: agent '${ref.id}' has no version ${version}`);
    let def: AgentDefinition = pickDefinition(agent);
    if (ref.type === 'agent_with_overrides') {
      def = { ...def };
      if (ref.model !== undefined) def.model = normalizeModel(ref.model);
      if (ref.system !== undefined) def.system = ref.system || null;
      if (ref.tools !== undefined) def.tools = normalizeTools(ref.tools);
      if (ref.mcp_servers !== undefined) def.mcp_servers = ref.mcp_servers;
      if (ref.skills !== undefined)
        def.skills = ref.skills.map((s) => ({ type: s.type, skill_id: s.skill_id, version: s.version ?? 'latest' }));
      const problem = checkAgentDefinition(def);
      if (problem) return fail('invalid_request_error', `agent.${problem}`);
    }
    const env = this.environment(p.environment_id);
    if (!env) return fail('not_found_error', `environment_id: environment '${p.environment_id}' not found`, 'environment_not_found');
    if (env.archived_at) return fail('invalid_request_error', `environment_id: environment '${p.environment_id}' is archived`, 'environment_archived');
    const vaults = this.sessionVaultsProblem(p.vault_ids ?? []);
    if (vaults) return vaults;

    const now = new Date().toISOString();
    const sessionAgent: SessionAgent = { type: 'agent', id: agent.id, version, ...def };
    // The snapshot is copied into the session's row and its log's state: an agent stored before the limits
    // existed, or grown by overrides, is refused here rather than failing to be written.
    const agentTooBig = storedSizeProblem(sessionAgent, MAX_AGENT_BYTES, `agent '${agent.id}' (version ${version})`, 'agent');
    if (agentTooBig) return fail('invalid_request_error', `${agentTooBig}; shrink it with an agent update, or override the field`);
    const session: Session = {
      type: 'session',
      id: newId('sesn'),
      agent: sessionAgent,
      environment_id: env.id,
      title: p.title ?? null,
      metadata: p.metadata ?? {},
      budget: p.budget ?? null,
      limits: p.limits ?? {},
      compaction: p.compaction ?? {},
      resources: p.resources ?? [],
      vault_ids: p.vault_ids ?? [],
      outcome_evaluations: [],
      status: 'idle',
      usage: emptyUsage(),
      stats: { active_seconds: 0, duration_seconds: 0 },
      created_at: now,
      updated_at: now,
      archived_at: null,
    };
    const tooBig = storedSizeProblem(session, MAX_ROW_BYTES, 'session');
    if (tooBig) return fail('invalid_request_error', tooBig);
    this.sql.exec(
      `INSERT INTO sessions (id, created_at, agent_id, agent_version, status, body) VALUES (?, ?, ?, ?, ?, ?)`,
      session.id,
      now,
      agent.id,
      version,
      session.status,
      JSON.stringify(session),
    );
    return ok(session);
  }

  async getSession(id: string): Promise<Result<Session>> {
    const s = this.session(id);
    return s ? ok(s) : fail('not_found_error', `session '${id}' not found`);
  }

  async updateSession(id: string, p: SessionUpdateParams): Promise<Result<Session>> {
    const s = this.session(id);
    if (!s) return fail('not_found_error', `session '${id}' not found`);
    const next: Session = { ...s };
    if (p.title !== undefined) next.title = p.title || null;
    if (p.budget !== undefined) next.budget = p.budget;
    if (p.limits !== undefined) next.limits = p.limits ?? {};
    if (p.agent) {
      const agent = { ...s.agent };
      if (p.agent.tools !== undefined) agent.tools = normalizeTools(p.agent.tools);
      if (p.agent.mcp_servers !== undefined) agent.mcp_servers = p.agent.mcp_servers;
      const problem = checkAgentDefinition(agent) ?? storedSizeProblem(agent, MAX_AGENT_BYTES, 'agent', 'agent');
      if (problem) return fail('invalid_request_error', problem.startsWith('agent') ? problem : `agent.${problem}`);
      next.agent = agent;
    }
    const metadata = applyMetadataPatch(s.metadata, p.metadata);
    if (typeof metadata === 'string') return fail('invalid_request_error', metadata);
    next.metadata = metadata;
    next.updated_at = new Date().toISOString();
    const tooBig = storedSizeProblem(next, MAX_ROW_BYTES, 'session');
    if (tooBig) return fail('invalid_request_error', tooBig);
    this.sql.exec(`UPDATE sessions SET body = ? WHERE id = ?`, JSON.stringify(next), id);
    return ok(next);
  }

  async listSessions(q: SessionListQuery): Promise<Result<Page<Session>>> {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (!q.include_archived) where.push('archived_at IS NULL');
    if (q.agent_id) {
      where.push('agent_id = ?');
      args.push(q.agent_id);
    }
    if (q.agent_version !== undefined) {
      where.push('agent_version = ?');
      args.push(q.agent_version);
    }
    const statuses = q['statuses[]'];
    if (statuses?.length) {
      where.push(`status IN (${statuses.map(() => '?').join(',')})`);
      args.push(...statuses);
    }
    const range = dateFilters({
      createdGt: q['created_at[gt]'],
      createdGte: q['created_at[gte]'],
      createdLt: q['created_at[lt]'],
      createdLte: q['created_at[lte]'],
    });
    if (!range.ok) return range;
    where.push(...range.value.where);
    args.push(...range.value.args);
    // Memory stores and deployments do not exist in this runtime: such filters match nothing.
    if (q.memory_store_id || q.deployment_id) where.push('0');
    const desc = q.order === 'desc';
    const cursor = decodeSessionCursor(q.page);
    if (cursor === false) return fail('invalid_request_error', 'page: not a cursor returned by this API');
    // A backward cursor (prev_page) walks the other way from its row, then the page is put back in order.
    const walkDesc = cursor?.back ? !desc : desc;
    if (cursor) {
      where.push(walkDesc ? 'n < ?' : 'n > ?');
      args.push(cursor.n);
    }
    const rows = this.sql
      .exec<{ n: number; body: string }>(
        `SELECT n, body FROM sessions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY n ${walkDesc ? 'DESC' : 'ASC'} LIMIT ?`,
        ...args,
        q.limit + 1,
      )
      .toArray();
    const walked = rows.slice(0, q.limit);
    const pageRows = withinPageBudget(walked, (r) => r.body.length);
    const more = rows.length > q.limit || pageRows.length < walked.length;
    if (cursor?.back) pageRows.reverse();
    const first = pageRows[0];
    const last = pageRows[pageRows.length - 1];
    const hasNext = cursor?.back ? true : more;
    const hasPrev = cursor?.back ? more : cursor !== null;
    return ok({
      data: pageRows.map((r) => JSON.parse(r.body) as Session),
      next_page: hasNext && last ? encodeCursor({ n: last.n }) : null,
      prev_page: hasPrev && first ? encodeCursor({ n: first.n, back: 1 }) : null,
    });
  }

  async archiveSession(id: string): Promise<Result<Session>> {
    const s = this.session(id);
    if (!s) return fail('not_found_error', `session '${id}' not found`);
    if (s.archived_at) return ok(s);
    const now = new Date().toISOString();
    const next = { ...s, archived_at: now, updated_at: now };
    this.sql.exec(`UPDATE sessions SET archived_at = ?, body = ? WHERE id = ?`, now, JSON.stringify(next), id);
    return ok(next);
  }

  async deleteSession(id: string): Promise<Result<{ id: string; type: 'session_deleted' }>> {
    if (!this.session(id)) return fail('not_found_error', `session '${id}' not found`);
    this.sql.exec(`DELETE FROM sessions WHERE id = ?`, id);
    return ok({ id, type: 'session_deleted' });
  }

  /** Called by the session's log whenever status or usage changes. */
  async applySessionRuntime(id: string, rt: SessionRuntime): Promise<void> {
    const s = this.session(id);
    if (!s) return;
    const next: Session = { ...s, ...rt };
    this.sql.exec(`UPDATE sessions SET status = ?, body = ? WHERE id = ?`, rt.status, JSON.stringify(next), id);
  }

  // ---------- internals ----------

  private agentHead(id: string): { version: number; archived_at: string | null } | undefined {
    return this.sql
      .exec<{ version: number; archived_at: string | null }>(`SELECT version, archived_at FROM agents WHERE id = ?`, id)
      .toArray()[0];
  }

  private agentVersion(id: string, version: number): Agent | undefined {
    const body = this.agentVersionBody(id, version);
    return body ? (JSON.parse(body) as Agent) : undefined;
  }

  private agentVersionBody(id: string, version: number): string | undefined {
    return this.sql
      .exec<{ body: string }>(`SELECT body FROM agent_versions WHERE agent_id = ? AND version = ?`, id, version)
      .toArray()[0]?.body;
  }

  private environment(id: string): Environment | undefined {
    const row = this.sql.exec<{ body: string }>(`SELECT body FROM environments WHERE id = ?`, id).toArray()[0];
    return row ? (JSON.parse(row.body) as Environment) : undefined;
  }

  private vault(id: string): Vault | undefined {
    const row = this.sql.exec<{ body: string }>(`SELECT body FROM vaults WHERE id = ?`, id).toArray()[0];
    return row ? (JSON.parse(row.body) as Vault) : undefined;
  }

  /** A credential of this vault: one of another vault is not found here, even in the same workspace. */
  private credentialRow(vaultId: string, id: string): Result<{ credential: Credential; sealed: SealedSecret | null }> {
    if (!this.vault(vaultId)) return vaultNotFound(vaultId);
    const row = this.sql
      .exec<{ body: string; key_id: string | null; iv: string | null; ciphertext: string | null }>(
        `SELECT body, key_id, iv, ciphertext FROM vault_credentials WHERE id = ? AND vault_id = ?`,
        id,
        vaultId,
      )
      .toArray()[0];
    if (!row) return fail('not_found_error', `credential '${id}' not found in vault '${vaultId}'`);
    const sealed = row.key_id && row.iv && row.ciphertext ? { keyId: row.key_id, iv: row.iv, ciphertext: row.ciphertext } : null;
    return ok({ credential: JSON.parse(row.body) as Credential, sealed });
  }

  private credentialCreateProblem(vaultId: string, uniqueKey: string): Result<never> | null {
    const vault = this.vault(vaultId);
    if (!vault) return vaultNotFound(vaultId);
    if (vault.archived_at) return fail('invalid_request_error', `vault '${vaultId}' is archived; an archived vault cannot get new credentials`);
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

  private archiveCredentialRow(id: string, credential: Credential, now: string): Credential {
    const next: Credential = { ...credential, archived_at: now, updated_at: now };
    this.sql.exec(
      `UPDATE vault_credentials SET archived_at = ?, body = ?, key_id = NULL, iv = NULL, ciphertext = NULL WHERE id = ?`,
      now,
      JSON.stringify(next),
      id,
    );
    return next;
  }

  /** Every id names a vault of this workspace, active, listed once. Another workspace's vault is not found here. */
  private sessionVaultsProblem(vaultIds: string[]): Result<never> | null {
    const seen = new Set<string>();
    for (const [i, id] of vaultIds.entries()) {
      if (seen.has(id)) return fail('invalid_request_error', `vault_ids[${i}]: vault '${id}' is listed more than once`);
      seen.add(id);
      const vault = this.vault(id);
      if (!vault) return fail('not_found_error', `vault_ids[${i}]: vault '${id}' not found`);
      if (vault.archived_at) return fail('invalid_request_error', `vault_ids[${i}]: vault '${id}' is archived`);
    }
    return null;
  }

  /** The workspace this store belongs to: its Durable Object name. Sealed secrets are bound to it. */
  private workspaceId(): string {
    const name = this.ctx.id.name;
    if (!name) throw new Error('WorkspaceStore must be reached by workspaceStore(env, workspaceId) (durable-objects/stubs.ts): vault secrets are bound to that name');
    return name;
  }

  /** The vault keyring, imported once per instance. Throws VaultCryptoError when the keys are missing or malformed. */
  private async loadKeys(): Promise<Keyring> {
    this.keyringLoad ??= loadKeyring(this.env);
    try {
      return await this.keyringLoad;
    } catch (err) {
      this.keyringLoad = undefined;
      throw err;
    }
  }

  /** loadKeys for the API: a missing or malformed master key is the operator's to fix, said plainly, never a 500. */
  private async keyring(): Promise<Result<Keyring>> {
    try {
      return ok(await this.loadKeys());
    } catch (err) {
      if (err instanceof VaultCryptoError) return fail('invalid_request_error', `vault: ${err.message}`, 'vault_not_configured');
      throw err;
    }
  }

  private session(id: string): Session | undefined {
    const row = this.sql.exec<{ body: string }>(`SELECT body FROM sessions WHERE id = ?`, id).toArray()[0];
    return row ? (JSON.parse(row.body) as Session) : undefined;
  }

  /** Newest first, cursor = the row's insertion number. */
  private listRows<R extends Record<string, SqlStorageValue>>(
    table: 'agents' | 'environments' | 'vaults' | 'vault_credentials',
    args: ListArgs,
    columns: string,
    scope?: [column: 'vault_id', value: string],
    sizeOf?: (row: R) => number,
  ): Result<{ rows: Array<R & { n: number }>; next: string | null }> {
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (scope) {
      where.push(`${scope[0]} = ?`);
      params.push(scope[1]);
    }
    if (!args.includeArchived) where.push('archived_at IS NULL');
    const range = dateFilters(args);
    if (!range.ok) return range;
    where.push(...range.value.where);
    params.push(...range.value.args);
    const cursor = parsePosition(args.page);
    if (cursor === false) return fail('invalid_request_error', 'page: not a cursor returned by this API');
    if (cursor !== null) {
      where.push('n < ?');
      params.push(cursor);
    }
    const rows = this.sql
      .exec<R & { n: number }>(
        `SELECT n, ${columns} FROM ${table} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY n DESC LIMIT ?`,
        ...params,
        args.limit + 1,
      )
      .toArray();
    const walked = rows.slice(0, args.limit);
    const pageRows = sizeOf ? withinPageBudget(walked, sizeOf) : walked;
    const last = pageRows[pageRows.length - 1];
    const more = rows.length > args.limit || pageRows.length < walked.length;
    return ok({ rows: pageRows, next: more && last ? encodeCursor({ n: last.n }) : null });
  }
}

function pickDefinition(a: Agent): AgentDefinition {
  return {
    name: a.name,
    description: a.description,
    model: a.model,
    system: a.system,
    tools: a.tools,
    mcp_servers: a.mcp_servers,
    skills: a.skills,
    execution_identity: a.execution_identity,
    multiagent: a.multiagent,
  };
}

/**
 * The longest prefix of a page whose bodies stay within PAGE_CHARS (always at least one row): a page travels back
 * as one RPC reply, limited to 32 MiB, and stored objects may be up to a row each.
 */
function withinPageBudget<T>(rows: T[], size: (row: T) => number): T[] {
  let total = 0;
  for (let i = 0; i < rows.length; i++) {
    total += size(rows[i]!);
    if (i > 0 && total > PAGE_CHARS) return rows.slice(0, i);
  }
  return rows;
}

const vaultNotFound = (id: string): Result<never> => fail('not_found_error', `vault '${id}' not found`);

/** What must be unique among a vault's active credentials: one per variable name, one per MCP server. */
function credentialUniqueKey(auth: CredentialAuth): string {
  return auth.type === 'environment_variable' ? `env:${auth.secret_name}` : `mcp:${auth.mcp_server_url}`;
}

function decodeSessionCursor(page: string | undefined): { n: number; back: boolean } | null | false {
  if (!page) return null;
  const c = decodeCursor(page);
  return c && typeof c.n === 'number' ? { n: c.n, back: c.back === 1 } : false;
}

/** null: no cursor; false: a cursor we did not issue. */
function parsePosition(page: string | undefined): number | null | false {
  if (!page) return null;
  const c = decodeCursor(page);
  return c && typeof c.n === 'number' ? c.n : false;
}

function dateFilters(a: {
  createdGte?: string | undefined;
  createdLte?: string | undefined;
  createdGt?: string | undefined;
  createdLt?: string | undefined;
}): Result<{ where: string[]; args: string[] }> {
  const where: string[] = [];
  const args: string[] = [];
  const pairs: Array<[string | undefined, string, string]> = [
    [a.createdGte, '>=', 'created_at[gte]'],
    [a.createdLte, '<=', 'created_at[lte]'],
    [a.createdGt, '>', 'created_at[gt]'],
    [a.createdLt, '<', 'created_at[lt]'],
  ];
  for (const [value, op, name] of pairs) {
    if (value === undefined) continue;
    const t = Date.parse(value);
    if (Number.isNaN(t)) return fail('invalid_request_error', `${name}: expected an RFC 3339 timestamp`);
    where.push(`created_at ${op} ?`);
    args.push(new Date(t).toISOString());
  }
  return ok({ where, args });
}
