// /v1/organizations/api_keys (`client.beta.organization.apiKeys`, admin key only): retrieve, update, list; and our
// extension, create, which answers the key itself this once. Only the key's digest is kept (the Directory never
// sees the key), so no later answer can show it.
import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { apiKeyIdOf, sha256Hex } from '../auth.ts';
import { parseQuery, readJson, unwrap } from '../http.ts';
import { directory } from '../../../durable-objects/stubs.ts';
import { ApiKeyCreateParams, ApiKeyListQuery, ApiKeyUpdateParams, type CreatedApiKey } from '../../../contract/workspace.ts';
import { toBase64Url } from '../../../contract/common.ts';

export const apiKeys = new Hono<AppEnv>()
  .post('/', async (c) => {
    const body = await readJson(c, ApiKeyCreateParams);
    // 32 random bytes: a key is guessed no sooner than the digest it is stored as is reversed.
    const key = `sk-eh-${toBase64Url(crypto.getRandomValues(new Uint8Array(32)))}`;
    const digest = await sha256Hex(key);
    const created = unwrap(
      await directory(c.env).createApiKey(body, { digest, id: await apiKeyIdOf(digest), hint: `${key.slice(0, 10)}...${key.slice(-4)}` }),
    );
    return c.json({ ...created, key } satisfies CreatedApiKey);
  })
  .get('/', async (c) => c.json(unwrap(await directory(c.env).listApiKeys(parseQuery(c, ApiKeyListQuery)))))
  .get('/:id', async (c) => c.json(unwrap(await directory(c.env).getApiKey(c.req.param('id')))))
  .post('/:id', async (c) => {
    const body = await readJson(c, ApiKeyUpdateParams);
    return c.json(unwrap(await directory(c.env).updateApiKey(c.req.param('id'), body)));
  });
