// /v1/sessions/{id}/resources: add (a file), list, retrieve, update (a repository's token), delete. A repository's
// authorization_token is write-only: no response carries it. Deliberately the same shape as every resource's
// routes file (see routes/agents.ts).
import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { parseQuery, readJson, unwrap, workspace } from '../http.ts';
import { ListQuery } from '../../../contract/common.ts';
import { ResourceAddParams, ResourceUpdateParams } from '../../../contract/session-resource.ts';

const PageQuery = ListQuery.pick({ limit: true, page: true });

export const sessionResources = new Hono<AppEnv>()
  .post('/:id/resources', async (c) => {
    const body = await readJson(c, ResourceAddParams);
    return c.json(unwrap(await workspace(c).addSessionResource(c.req.param('id'), body)));
  })
  .get('/:id/resources', async (c) => {
    const q = parseQuery(c, PageQuery);
    return c.json(unwrap(await workspace(c).listSessionResources(c.req.param('id'), { limit: q.limit, page: q.page })));
  })
  .get('/:id/resources/:rid', async (c) => c.json(unwrap(await workspace(c).getSessionResource(c.req.param('id'), c.req.param('rid')))))
  .post('/:id/resources/:rid', async (c) => {
    const body = await readJson(c, ResourceUpdateParams);
    return c.json(unwrap(await workspace(c).updateSessionResource(c.req.param('id'), c.req.param('rid'), body)));
  })
  .delete('/:id/resources/:rid', async (c) => c.json(unwrap(await workspace(c).deleteSessionResource(c.req.param('id'), c.req.param('rid')))));
