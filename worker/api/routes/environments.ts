// /v1/environments: create, retrieve, update, list, delete, archive.
// Deliberately the same shape as every resource's routes file (see routes/agents.ts).
import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { parseQuery, readJson, unwrap, workspace } from '../http.ts';
import { ListQuery } from '../../../contract/common.ts';
import { EnvironmentCreateParams, EnvironmentUpdateParams } from '../../../contract/environment.ts';

export const environments = new Hono<AppEnv>()
  .post('/', async (c) => {
    const body = await readJson(c, EnvironmentCreateParams);
    return c.json(unwrap(await workspace(c).createEnvironment(body)));
  })
  .get('/', async (c) => {
    const q = parseQuery(c, ListQuery);
    return c.json(unwrap(await workspace(c).listEnvironments({ limit: q.limit, page: q.page, includeArchived: q.include_archived })));
  })
  .get('/:id', async (c) => c.json(unwrap(await workspace(c).getEnvironment(c.req.param('id')))))
  .post('/:id', async (c) => {
    const body = await readJson(c, EnvironmentUpdateParams);
    return c.json(unwrap(await workspace(c).updateEnvironment(c.req.param('id'), body)));
  })
  .delete('/:id', async (c) => c.json(unwrap(await workspace(c).deleteEnvironment(c.req.param('id')))))
  .post('/:id/archive', async (c) => c.json(unwrap(await workspace(c).archiveEnvironment(c.req.param('id')))));
