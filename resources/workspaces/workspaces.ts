// The organization's workspaces, kept in the Directory: create, read, update, list and archive. Archiving a
// workspace archives its API keys, so none of them opens anything again.
import { fail, ok, type Result } from '../../contract/result.ts';
import {
  DEFAULT_DISPLAY_COLOR,
  DEFAULT_WORKSPACE_ID,
  type DataResidency,
  type OrgPage,
  type Workspace,
  type WorkspaceCreateParams,
  type WorkspaceListQuery,
  type WorkspaceUpdateParams,
} from '../../contract/workspace.ts';
import { newId } from '../../contract/ids.ts';
import { orgPage } from './org-paging.ts';

const TABLE = 'workspaces';

export function readWorkspace(sql: SqlStorage, id: string): Workspace | undefined {
  const row = sql.exec<{ body: string }>(`SELECT body FROM workspaces WHERE id = ?`, id).toArray()[0];
  return row ? (JSON.parse(row.body) as Workspace) : undefined;
}

export const noWorkspace = (id: string, field = 'workspace_id'): Result<never> =>
  fail('not_found_error', `${field}: no workspace '${id.slice(0, 64)}'`);

export function createWorkspace(sql: SqlStorage, p: WorkspaceCreateParams): Result<Workspace> {
  const residency = residencyOf(
    { allowed_inference_geos: 'unrestricted', default_inference_geo: 'global', workspace_geo: 'us' },
    p.data_residency ?? {},
  );
  if (!residency.ok) return residency;
  const id = newId('wrkspc');
  const ws: Workspace = {
    type: 'workspace',
    id,
    name: p.name,
    display_color: p.display_color ?? DEFAULT_DISPLAY_COLOR,
    tags: p.tags ?? {},
    data_residency: residency.value,
    compartment_id: `cmpt_${id.slice('wrkspc_'.length)}`,
    external_key_id: null,
    user_profile_id: null,
    created_at: new Date().toISOString(),
    archived_at: null,
  };
  sql.exec(`INSERT INTO workspaces (id, body) VALUES (?, ?)`, id, JSON.stringify(ws));
  return ok(ws);
}

export function getWorkspace(sql: SqlStorage, id: string): Result<Workspace> {
  const ws = readWorkspace(sql, id);
  return ws ? ok(ws) : noWorkspace(id);
}

export function updateWorkspace(sql: SqlStorage, id: string, p: WorkspaceUpdateParams): Result<Workspace> {
  const ws = readWorkspace(sql, id);
  if (!ws) return noWorkspace(id);
  if (ws.archived_at) return fail('invalid_request_error', `workspace_id: workspace '${id}' is archived and cannot be changed`);
  const tags = { ...ws.tags };
  for (const [k, v] of Object.entries(p.tags ?? {})) {
    if (v === null) delete tags[k];
    else tags[k] = v;
  }
  const residency = residencyOf(ws.data_residency, p.data_residency ?? {});
  if (!residency.ok) return residency;
  const next: Workspace = {
    ...ws,
    name: p.name ?? ws.name,
    display_color: p.display_color ?? ws.display_color,
    tags,
    data_residency: residency.value,
  };
  sql.exec(`UPDATE workspaces SET body = ? WHERE id = ?`, JSON.stringify(next), id);
  return ok(next);
}

export function archiveWorkspace(sql: SqlStorage, id: string): Result<Workspace> {
  const ws = readWorkspace(sql, id);
  if (!ws) return noWorkspace(id);
  if (id === DEFAULT_WORKSPACE_ID) return fail('invalid_request_error', 'workspace_id: the default workspace cannot be archived');
  if (ws.archived_at) return ok(ws);
  const next: Workspace = { ...ws, archived_at: new Date().toISOString() };
  sql.exec(`UPDATE workspaces SET body = ?, archived_at = ? WHERE id = ?`, JSON.stringify(next), next.archived_at, id);
  sql.exec(`UPDATE api_keys SET status = 'archived' WHERE workspace_id = ?`, id);
  return ok(next);
}

/** In creation order; the default workspace only when asked for (`include_default`), archived ones likewise. */
export function listWorkspaces(sql: SqlStorage, q: WorkspaceListQuery): Result<OrgPage<Workspace>> {
  const where: string[] = [];
  const params: SqlStorageValue[] = [];
  if (!q.include_archived) where.push('archived_at IS NULL');
  if (!q.include_default) {
    where.push('id != ?');
    params.push(DEFAULT_WORKSPACE_ID);
  }
  const ids = q['ids[]'];
  if (ids) {
    where.push(`id IN (${ids.map(() => '?').join(', ') || 'NULL'})`);
    params.push(...ids);
  }
  return orgPage<{ body: string }, Workspace>(sql, TABLE, { where, params }, q, (r) => JSON.parse(r.body) as Workspace);
}

/** `default_inference_geo` must be one of the allowed geos, unless every geo is. */
function residencyOf(
  current: DataResidency,
  p: { allowed_inference_geos?: DataResidency['allowed_inference_geos'] | null; default_inference_geo?: 'global' | 'us' | null },
): Result<DataResidency> {
  const next: DataResidency = {
    allowed_inference_geos: p.allowed_inference_geos ?? current.allowed_inference_geos,
    default_inference_geo: p.default_inference_geo ?? current.default_inference_geo,
    workspace_geo: 'us',
  };
  if (next.allowed_inference_geos !== 'unrestricted' && !next.allowed_inference_geos.includes(next.default_inference_geo))
    return fail('invalid_request_error', `data_residency.default_inference_geo: '${next.default_inference_geo}' is not among allowed_inference_geos`);
  return ok(next);
}
