// Directory: the single Durable Object that maps API keys (stored as SHA-256 digests) to workspaces.
// The default workspace's key comes from EDGEHARNESS_API_KEY and needs no row here.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../worker/env.ts';

export class Directory extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS api_keys (
        key_sha256 TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
    `);
  }

  async workspaceForKey(keySha256: string): Promise<string | null> {
    const row = this.sql
      .exec<{ workspace_id: string }>(`SELECT workspace_id FROM api_keys WHERE key_sha256 = ?`, keySha256)
      .toArray()[0];
    return row ? row.workspace_id : null;
  }

  /** Registers a key for a workspace. The admin API that calls this arrives in a later issue; tests use it directly. */
  async addKey(keySha256: string, workspaceId: string): Promise<void> {
    this.sql.exec(
      `INSERT OR REPLACE INTO api_keys (key_sha256, workspace_id, created_at) VALUES (?, ?, ?)`,
      keySha256,
      workspaceId,
      new Date().toISOString(),
    );
  }
}
