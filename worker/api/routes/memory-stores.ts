// /v1/memory_stores: create, retrieve, update, list, delete, archive; each store's memories (create, retrieve,
// update, list by path_prefix and depth, delete) and memory versions (list, retrieve, redact). Changes are recorded
// as made by the calling API key. Deliberately the same shape as every resource's routes file (see routes/vaults.ts).
import { Hono, type Context } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { callerApiKeyId } from '../auth.ts';
import { parseQuery, readJson, unwrap, workspace } from '../http.ts';
import {
  MemoryCreateParams,
  MemoryDeleteQuery,
  MemoryListQuery,
  MemoryStoreCreateParams,
  MemoryStoreListQuery,
  MemoryStoreUpdateParams,
  MemoryUpdateParams,
  MemoryVersionListQuery,
  ViewQuery,
  type Actor,
} from '../../../contract/memory-store.ts';

const caller = async (c: Context<AppEnv>): Promise<Actor> => ({ type: 'api_actor', api_key_id: await callerApiKeyId(c) });

export const memoryStores = new Hono<AppEnv>()
  .post('/', async (c) => {
    const body = await readJson(c, MemoryStoreCreateParams);
    return c.json(unwrap(await workspace(c).createMemoryStore(body)));
  })
  .get('/', async (c) => {
    const q = parseQuery(c, MemoryStoreListQuery);
    return c.json(
      unwrap(
        await workspace(c).listMemoryStores({
          limit: q.limit,
          page: q.page,
          includeArchived: q.include_archived,
          createdGte: q['created_at[gte]'],
          createdLte: q['created_at[lte]'],
        }),
      ),
    );
  })
  .get('/:id', async (c) => c.json(unwrap(await workspace(c).getMemoryStore(c.req.param('id')))))
  .post('/:id', async (c) => {
    const body = await readJson(c, MemoryStoreUpdateParams);
    return c.json(unwrap(await workspace(c).updateMemoryStore(c.req.param('id'), body)));
  })
  .delete('/:id', async (c) => c.json(unwrap(await workspace(c).deleteMemoryStore(c.req.param('id')))))
  .post('/:id/archive', async (c) => c.json(unwrap(await workspace(c).archiveMemoryStore(c.req.param('id')))))
  // ---------- memories ----------
  .post('/:id/memories', async (c) => {
    const { view } = parseQuery(c, ViewQuery);
    const body = await readJson(c, MemoryCreateParams);
    return c.json(unwrap(await workspace(c).createMemory(c.req.param('id'), body, await caller(c), view ?? 'basic')));
  })
  .get('/:id/memories', async (c) => {
    const q = parseQuery(c, MemoryListQuery);
    return c.json(
      unwrap(await workspace(c).listMemories(c.req.param('id'), { limit: q.limit, page: q.page, pathPrefix: q.path_prefix, depth: q.depth, view: q.view })),
    );
  })
  .get('/:id/memories/:mid', async (c) => {
    const { view } = parseQuery(c, ViewQuery);
    return c.json(unwrap(await workspace(c).getMemory(c.req.param('id'), c.req.param('mid'), view ?? 'full')));
  })
  .post('/:id/memories/:mid', async (c) => {
    const { view } = parseQuery(c, ViewQuery);
    const body = await readJson(c, MemoryUpdateParams);
    return c.json(unwrap(await workspace(c).updateMemory(c.req.param('id'), c.req.param('mid'), body, await caller(c), view ?? 'basic')));
  })
  .delete('/:id/memories/:mid', async (c) => {
    const q = parseQuery(c, MemoryDeleteQuery);
    return c.json(unwrap(await workspace(c).deleteMemory(c.req.param('id'), c.req.param('mid'), q.expected_content_sha256, await caller(c))));
  })
  // ---------- memory versions ----------
  .get('/:id/memory_versions', async (c) => {
    const q = parseQuery(c, MemoryVersionListQuery);
    return c.json(
      unwrap(
        await workspace(c).listMemoryVersions(c.req.param('id'), {
          limit: q.limit,
          page: q.page,
          apiKeyId: q.api_key_id,
          sessionId: q.session_id,
          serviceAccountId: q.service_account_id,
          memoryId: q.memory_id,
          operation: q.operation,
          createdGte: q['created_at[gte]'],
          createdLte: q['created_at[lte]'],
          view: q.view,
        }),
      ),
    );
  })
  .get('/:id/memory_versions/:vid', async (c) => {
    const { view } = parseQuery(c, ViewQuery);
    return c.json(unwrap(await workspace(c).getMemoryVersion(c.req.param('id'), c.req.param('vid'), view ?? 'full')));
  })
  .post('/:id/memory_versions/:vid/redact', async (c) =>
    c.json(unwrap(await workspace(c).redactMemoryVersion(c.req.param('id'), c.req.param('vid'), await caller(c)))),
  );
