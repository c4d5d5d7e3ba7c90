// Directory: the single Durable Object that maps API keys (stored as SHA-256 digests) to workspaces.
// The default workspace's key comes from EDGEHARNESS_API_KEY and needs no row here.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../worker/env.ts';
import { DIRECTORY_MIGRATIONS } from './directory-schema.ts';
import { migrate } from '../resources/shared/migrations.ts';

export class Directory extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrate(ctx.storage, DIRECTORY_MIGRATIONS);
  }

  async workspaceForKey(keySha256: string): Promise<string | null> {
    const row = this.sql
      .exec<{ workspace_id: string }>(`SELECT workspace_id FROM api_keys WHERE key_sha256 = ?`, keySha256)
      .toArray()[0];
    return row ? row.workspace_id : null;
  }
}
