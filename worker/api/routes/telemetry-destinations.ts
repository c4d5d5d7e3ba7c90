// /v1/organizations/telemetry_destinations (`client.beta.organization.telemetryDestinations`): the organization's
// OpenTelemetry destinations and their workspace lists. Admin key only (auth.ts). Header values are write-only.
import { Hono, type Context } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { invalidRequest, rateLimited } from '../errors.ts';
import { parseQuery, readJson, unwrap } from '../http.ts';
import { directory, telemetryOutbox } from '../../../durable-objects/stubs.ts';
import {
  TelemetryDestinationCreateParams,
  TelemetryDestinationListQuery,
  TelemetryDestinationUpdateParams,
  TelemetryWorkspaceListQuery,
  type WorkspacesParams,
} from '../../../contract/telemetry.ts';

/** Each id's workspace, in order: null for an id that names none. */
async function lookUp(c: Context<AppEnv>, ids: readonly string[]): Promise<({ archived: boolean } | null)[]> {
  const dir = directory(c.env);
  return Promise.all(ids.map(async (id) => {
    const r = await dir.getWorkspace(id);
    return r.ok ? { archived: r.value.archived_at !== null } : null;
  }));
}

/** The archived workspaces among a request's `workspaces.workspace_ids`; an id that names no workspace is a 400. */
async function archivedOf(c: Context<AppEnv>, ws: WorkspacesParams | undefined): Promise<string[]> {
  const ids = ws && ws.type !== 'all' ? (ws.workspace_ids ?? []) : [];
  const found = await lookUp(c, ids);
  const missing = found.findIndex((f) => f === null);
  if (missing >= 0) throw invalidRequest(`workspaces.workspace_ids[${missing}]: no workspace ${ids[missing]}`);
  return ids.filter((_, i) => found[i]!.archived);
}

export const telemetryDestinations = new Hono<AppEnv>()
  .post('/', async (c) => {
    const body = await readJson(c, TelemetryDestinationCreateParams);
    const archived = await archivedOf(c, body.workspaces);
    return c.json(unwrap(await telemetryOutbox(c.env).createDestination(body, archived)));
  })
  .get('/', async (c) => {
    const q = parseQuery(c, TelemetryDestinationListQuery);
    const asked = q['workspace_ids[]'];
    // An id that names none of the organization's workspaces matches no destination, not even an `all` one.
    const distinct = asked ? [...new Set(asked)] : undefined;
    const found = distinct ? await lookUp(c, distinct) : [];
    const workspaceIds = distinct?.filter((_, i) => found[i] !== null);
    return c.json(unwrap(await telemetryOutbox(c.env).listDestinations({ limit: q.limit, page: q.page, workspaceIds })));
  })
  .get('/:id', async (c) => c.json(unwrap(await telemetryOutbox(c.env).getDestination(c.req.param('id')))))
  .post('/:id', async (c) => {
    const body = await readJson(c, TelemetryDestinationUpdateParams);
    const archived = await archivedOf(c, body.workspaces);
    return c.json(unwrap(await telemetryOutbox(c.env).updateDestination(c.req.param('id'), body, archived)));
  })
  .delete('/:id', async (c) => c.json(unwrap(await telemetryOutbox(c.env).deleteDestination(c.req.param('id')))))
  .post('/:id/test', async (c) => {
    const outcome = unwrap(await telemetryOutbox(c.env).testDestination(c.req.param('id')));
    if ('retryAfterSeconds' in outcome)
      throw rateLimited(`wait 10 seconds between tests of one telemetry destination; retry in ${outcome.retryAfterSeconds} s`, outcome.retryAfterSeconds);
    return c.json(outcome.tested);
  })
  .get('/:id/workspaces', async (c) => {
    const q = parseQuery(c, TelemetryWorkspaceListQuery);
    return c.json(unwrap(await telemetryOutbox(c.env).listWorkspaces(c.req.param('id'), q)));
  })
  .post('/:id/workspaces/:workspace_id', async (c) => {
    const workspaceId = c.req.param('workspace_id');
    const [found] = await lookUp(c, [workspaceId]);
    if (!found) throw invalidRequest(`workspace_id: no workspace ${workspaceId}`);
    return c.json(unwrap(await telemetryOutbox(c.env).addWorkspace(c.req.param('id'), workspaceId, found.archived)));
  })
  .delete('/:id/workspaces/:workspace_id', async (c) =>
    c.json(unwrap(await telemetryOutbox(c.env).removeWorkspace(c.req.param('id'), c.req.param('workspace_id')))),
  );
