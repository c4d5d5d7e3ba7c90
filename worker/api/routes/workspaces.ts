// /v1/organizations/workspaces (`client.beta.organization.workspaces`, admin key only): create, retrieve, update,
// list, archive. The workspaces live in the Directory; each one's objects in its own WorkspaceStore.
import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { parseQuery, readJson, unwrap } from '../http.ts';
import { directory } from '../../../durable-objects/stubs.ts';
import { WorkspaceCreateParams, WorkspaceListQuery, WorkspaceUpdateParams } from '../../../contract/workspace.ts';

export const workspaces = new Hono<AppEnv>()
  .post('/', async (c) => {
    const body = await readJson(c, WorkspaceCreateParams);
    return c.json(unwrap(await directory(c.env).createWorkspace(body)));
  })
  .get('/', async (c) => c.json(unwrap(await directory(c.env).listWorkspaces(parseQuery(c, WorkspaceListQuery)))))
  .get('/:id', async (c) => c.json(unwrap(await directory(c.env).getWorkspace(c.req.param('id')))))
  .post('/:id', async (c) => {
    const body = await readJson(c, WorkspaceUpdateParams);
    return c.json(unwrap(await directory(c.env).updateWorkspace(c.req.param('id'), body)));
  })
  .post('/:id/archive', async (c) => c.json(unwrap(await directory(c.env).archiveWorkspace(c.req.param('id')))));
