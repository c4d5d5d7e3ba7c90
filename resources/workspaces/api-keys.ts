// The workspaces' API keys, kept in the Directory by SHA-256 digest (the key itself is never stored): the API key
// objects, their status, and what a request's key resolves to.
import { fail, ok, type Result } from '../../contract/result.ts';
import type { ApiKey, ApiKeyCreateParams, ApiKeyListQuery, ApiKeyStatus, ApiKeyUpdateParams, OrgPage } from '../../contract/workspace.ts';
import { orgPage } from './org-paging.ts';
import { noWorkspace, readWorkspace } from './workspaces.ts';

interface KeyRow extends Record<string, SqlStorageValue> {
  key_sha256: string;
  workspace_id: string;
  created_at: string;
  id: string | null;
  name: string;
  status: string;
  partial_key_hint: string | null;
  rate_limit_per_minute: number | null;
}

/** What the route derived from the new key: its digest, id and hint (the Directory never sees the key). */
export interface NewKey {
  digest: string;
  id: string;
  hint: string;
}

/** What a request's key opens: its workspace, and what rate limiting needs to know of it. */
export interface ResolvedKey {
  workspaceId: string;
  /** Null for a key row written before keys were objects (no id, never listed). */
  keyId: string | null;
  rateLimitPerMinute: number | null;
}

export type KeyRefusal = { refused: 'inactive' | 'archived' | 'workspace_archived' };

function toApiKey(r: KeyRow): ApiKey {
  return {
    type: 'api_key',
    id: r.id ?? '',
    name: r.name,
    status: r.status as ApiKeyStatus,
    scope: { type: 'workspace', workspace_id: r.workspace_id },
    partial_key_hint: r.partial_key_hint ?? '',
    created_at: r.created_at,
    created_by: null,
    expires_at: null,
    principal: null,
    rate_limit_per_minute: r.rate_limit_per_minute,
  };
}

function readKey(sql: SqlStorage, id: string): KeyRow | undefined {
  return sql.exec<KeyRow>(`SELECT * FROM api_keys WHERE id = ?`, id).toArray()[0];
}

const noKey = (id: string): Result<never> => fail('not_found_error', `api_key_id: no API key '${id.slice(0, 64)}'`);

export function createApiKey(sql: SqlStorage, p: ApiKeyCreateParams, key: NewKey): Result<ApiKey> {
  const ws = readWorkspace(sql, p.workspace_id);
  if (!ws) return noWorkspace(p.workspace_id);
  if (ws.archived_at) return fail('invalid_request_error', `workspace_id: workspace '${ws.id}' is archived`);
  sql.exec(
    `INSERT INTO api_keys (key_sha256, workspace_id, created_at, id, name, status, partial_key_hint, rate_limit_per_minute)
     VALUES (?, ?, ?, ?, ?, 'active', ?, ?)`,
    key.digest,
    ws.id,
    new Date().toISOString(),
    key.id,
    p.name,
    key.hint,
    p.rate_limit_per_minute ?? null,
  );
  return ok(toApiKey(readKey(sql, key.id)!));
}

export function getApiKey(sql: SqlStorage, id: string): Result<ApiKey> {
  const row = readKey(sql, id);
  return row ? ok(toApiKey(row)) : noKey(id);
}

/** An archived key stays archived: it may be renamed, never brought back. */
export function updateApiKey(sql: SqlStorage, id: string, p: ApiKeyUpdateParams): Result<ApiKey> {
  const row = readKey(sql, id);
  if (!row) return noKey(id);
  if (p.status && p.status !== row.status && row.status === 'archived')
    return fail('invalid_request_error', `status: API key '${id}' is archived; an archived key cannot be reactivated`);
  sql.exec(
    `UPDATE api_keys SET name = ?, status = ?, rate_limit_per_minute = ? WHERE id = ?`,
    p.name ?? row.name,
    p.status ?? row.status,
    p.rate_limit_per_minute === undefined ? row.rate_limit_per_minute : p.rate_limit_per_minute,
    id,
  );
  return ok(toApiKey(readKey(sql, id)!));
}

/** Keys made through the API, in creation order. Nobody is a creating user here, so that filter matches nothing. */
export function listApiKeys(sql: SqlStorage, q: ApiKeyListQuery): Result<OrgPage<ApiKey>> {
  const where = ['id IS NOT NULL'];
  const params: SqlStorageValue[] = [];
  if (q.status) {
    where.push('status = ?');
    params.push(q.status);
  }
  if (q.workspace_id) {
    where.push('workspace_id = ?');
    params.push(q.workspace_id);
  }
  if (q.created_by_user_id) where.push('0');
  return orgPage<KeyRow, ApiKey>(sql, 'api_keys', { where, params }, q, toApiKey, 'rowid');
}

/** The workspace a key opens, or why it opens nothing now; null for a digest no key has. */
export function resolveKey(sql: SqlStorage, digest: string): ResolvedKey | KeyRefusal | null {
  const row = sql.exec<KeyRow>(`SELECT * FROM api_keys WHERE key_sha256 = ?`, digest).toArray()[0];
  if (!row) return null;
  if (row.status === 'inactive' || row.status === 'archived') return { refused: row.status };
  const ws = readWorkspace(sql, row.workspace_id);
  // A row with no workspace row is a key written directly (tests, older Directories): its workspace is implied.
  if (ws?.archived_at) return { refused: 'workspace_archived' };
  return { workspaceId: row.workspace_id, keyId: row.id, rateLimitPerMinute: row.rate_limit_per_minute };
}
