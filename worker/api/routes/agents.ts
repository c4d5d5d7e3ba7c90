// /v1/agents: create, retrieve (optionally a version), update (new version, 409 on a stale `version`), list,
// archive, versions list.
// Deliberately the same shape as every resource's routes file: one line per route, naming its schema and the
// workspace store's method; what differs between resources lives in contract/ and resources/.
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../app-env.ts';
import { parseQuery, readJson, unwrap, workspace } from '../http.ts';
import { AgentCreateParams, AgentUpdateParams } from '../../../contract/agent.ts';
import { ListQuery } from '../../../contract/common.ts';

const RetrieveQuery = z.object({ version: z.coerce.number().int().min(1).optional() });
const VersionsQuery = z.object({ limit: ListQuery.shape.limit, page: z.string().min(1).optional() });

export const agents = new Hono<AppEnv>()
  .post('/', async (c) => {
    const body = await readJson(c, AgentCreateParams);
    return c.json(unwrap(await workspace(c).createAgent(body)));
  })
  .get('/', async (c) => {
    const q = parseQuery(c, ListQuery);
    return c.json(
      unwrap(
        await workspace(c).listAgents({
          limit: q.limit,
          page: q.page,
          includeArchived: q.include_archived,
          createdGte: q['created_at[gte]'],
          createdLte: q['created_at[lte]'],
        }),
      ),
    );
  })
  .get('/:id', async (c) => {
    const q = parseQuery(c, RetrieveQuery);
    return c.json(unwrap(await workspace(c).getAgent(c.req.param('id'), q.version)));
  })
  .post('/:id', async (c) => {
    const body = await readJson(c, AgentUpdateParams);
    return c.json(unwrap(await workspace(c).updateAgent(c.req.param('id'), body)));
  })
  .post('/:id/archive', async (c) => c.json(unwrap(await workspace(c).archiveAgent(c.req.param('id')))))
  .get('/:id/versions', async (c) => {
    const q = parseQuery(c, VersionsQuery);
    return c.json(unwrap(await workspace(c).listAgentVersions(c.req.param('id'), q)));
  });
