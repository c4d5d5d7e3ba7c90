// Directory: the single Durable Object that holds the organization's workspaces and their API keys (stored as
// SHA-256 digests), answers which workspace a key opens, and keeps the keys' rate-limit buckets. A thin host:
// the queries are in resources/workspaces/. The default workspace's key comes from EDGEHARNESS_API_KEY and needs no
// row here.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../worker/env.ts';
import { DIRECTORY_MIGRATIONS } from './directory-schema.ts';
import { migrate } from '../resources/shared/migrations.ts';
import type { ApiKeyCreateParams, ApiKeyListQuery, ApiKeyUpdateParams, WorkspaceCreateParams, WorkspaceListQuery, WorkspaceUpdateParams } from '../contract/workspace.ts';
import * as workspaces from '../resources/workspaces/workspaces.ts';
import * as apiKeys from '../resources/workspaces/api-keys.ts';
import { TokenBuckets } from './token-buckets.ts';

export class Directory extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly buckets = new TokenBuckets();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrate(ctx.storage, DIRECTORY_MIGRATIONS);
  }

  /** The workspace an active key of a live workspace opens; null for any other key (the admin routes' 403 test). */
  async workspaceForKey(keySha256: string): Promise<string | null> {
    const r = apiKeys.resolveKey(this.sql, keySha256);
    return r && 'workspaceId' in r ? r.workspaceId : null;
  }

  resolveKey(keySha256: string) {
    return apiKeys.resolveKey(this.sql, keySha256);
  }

  /** One request of `bucket` (a key's id) against its per-minute limit. */
  admit(bucket: string, perMinute: number) {
    return this.buckets.take(bucket, perMinute);
  }

  /**
   * A request with a stored key, in one round trip: the key resolved and, when it is counted here, one request taken
   * from its bucket (the key's id, else `fallbackBucket`) at its own limit, else at `defaultPerMinute` (null: keys
   * without a limit of their own are counted elsewhere; 0: not at all).
   */
  authorise(keySha256: string, fallbackBucket: string, defaultPerMinute: number | null) {
    const key = apiKeys.resolveKey(this.sql, keySha256);
    if (!key || 'refused' in key) return { key };
    const perMinute = key.rateLimitPerMinute ?? defaultPerMinute;
    const bucket = key.keyId ?? fallbackBucket;
    return { key, bucket, perMinute, admission: perMinute ? this.buckets.take(bucket, perMinute) : ({ admitted: true } as const) };
  }

  createWorkspace(p: WorkspaceCreateParams) {
    return workspaces.createWorkspace(this.sql, p);
  }
  getWorkspace(id: string) {
    return workspaces.getWorkspace(this.sql, id);
  }
  updateWorkspace(id: string, p: WorkspaceUpdateParams) {
    return this.ctx.storage.transactionSync(() => workspaces.updateWorkspace(this.sql, id, p));
  }
  archiveWorkspace(id: string) {
    return this.ctx.storage.transactionSync(() => workspaces.archiveWorkspace(this.sql, id));
  }
  listWorkspaces(q: WorkspaceListQuery) {
    return workspaces.listWorkspaces(this.sql, q);
  }

  createApiKey(p: ApiKeyCreateParams, key: apiKeys.NewKey) {
    return apiKeys.createApiKey(this.sql, p, key);
  }
  getApiKey(id: string) {
    return apiKeys.getApiKey(this.sql, id);
  }
  updateApiKey(id: string, p: ApiKeyUpdateParams) {
    return apiKeys.updateApiKey(this.sql, id, p);
  }
  listApiKeys(q: ApiKeyListQuery) {
    return apiKeys.listApiKeys(this.sql, q);
  }
}
