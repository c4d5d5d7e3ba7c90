// /v1/vaults: create, retrieve, update, list, delete, archive; and each vault's credentials, whose secrets are
// write-only (no response carries one), plus mcp_oauth_validate.
// Deliberately the same shape as every resource's routes file (see routes/agents.ts).
import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { parseQuery, readJson, unwrap, workspace } from '../http.ts';
import { ListQuery } from '../../../contract/common.ts';
import { CredentialCreateParams, CredentialUpdateParams, VaultCreateParams, VaultUpdateParams } from '../../../contract/vault.ts';

export const vaults = new Hono<AppEnv>()
  .post('/', async (c) => {
    const body = await readJson(c, VaultCreateParams);
    return c.json(unwrap(await workspace(c).createVault(body)));
  })
  .get('/', async (c) => {
    const q = parseQuery(c, ListQuery);
    return c.json(unwrap(await workspace(c).listVaults({ limit: q.limit, page: q.page, includeArchived: q.include_archived })));
  })
  .get('/:id', async (c) => c.json(unwrap(await workspace(c).getVault(c.req.param('id')))))
  .post('/:id', async (c) => {
    const body = await readJson(c, VaultUpdateParams);
    return c.json(unwrap(await workspace(c).updateVault(c.req.param('id'), body)));
  })
  .delete('/:id', async (c) => c.json(unwrap(await workspace(c).deleteVault(c.req.param('id')))))
  .post('/:id/archive', async (c) => c.json(unwrap(await workspace(c).archiveVault(c.req.param('id')))))
  .post('/:id/credentials', async (c) => {
    const body = await readJson(c, CredentialCreateParams);
    return c.json(unwrap(await workspace(c).createCredential(c.req.param('id'), body)));
  })
  .get('/:id/credentials', async (c) => {
    const q = parseQuery(c, ListQuery);
    return c.json(
      unwrap(await workspace(c).listCredentials(c.req.param('id'), { limit: q.limit, page: q.page, includeArchived: q.include_archived })),
    );
  })
  .get('/:id/credentials/:cid', async (c) => c.json(unwrap(await workspace(c).getCredential(c.req.param('id'), c.req.param('cid')))))
  .post('/:id/credentials/:cid', async (c) => {
    const body = await readJson(c, CredentialUpdateParams);
    return c.json(unwrap(await workspace(c).updateCredential(c.req.param('id'), c.req.param('cid'), body)));
  })
  .delete('/:id/credentials/:cid', async (c) => c.json(unwrap(await workspace(c).deleteCredential(c.req.param('id'), c.req.param('cid')))))
  .post('/:id/credentials/:cid/archive', async (c) =>
    c.json(unwrap(await workspace(c).archiveCredential(c.req.param('id'), c.req.param('cid')))),
  )
  .post('/:id/credentials/:cid/mcp_oauth_validate', async (c) =>
    // The brain probes the credential's MCP server (routes reach no upstream themselves).
    c.json(unwrap(await c.env.BRAIN.validateMcpCredential(c.get('workspaceId'), c.req.param('id'), c.req.param('cid')))),
  );
