// Workspaces and their API keys, mirroring `beta/organization/workspaces/workspaces.d.ts` and `api-keys.d.ts`, plus
// our extensions: creating a key (`POST /v1/organizations/api_keys`) and a key's own `rate_limit_per_minute`.
import type { BetaAPIKey } from '@anthropic-ai/sdk/resources/beta/organization/api-keys';
import type { BetaWorkspace } from '@anthropic-ai/sdk/resources/beta/organization/workspaces/workspaces';
import { z } from 'zod';
import type { Assignable } from './common.ts';
import { LIMITS } from './size-limits.ts';

// ---------- workspaces ----------

const Name = z.string().min(1).max(LIMITS.workspaceName);
const DisplayColor = z.string().regex(/^#[0-9a-fA-F]{6}$/, { message: 'expected a hex color such as #6C5BB9' });
const TagKey = z
  .string()
  .min(1)
  .max(LIMITS.metadataKey)
  .refine((k) => !k.toLowerCase().startsWith('anthropic'), { message: "tag keys may not begin with 'anthropic'" });
const TagValue = z.string().max(LIMITS.metadataValue);
const Tags = z.record(TagKey, TagValue).refine((t) => Object.keys(t).length <= LIMITS.metadataPairs, {
  message: `at most ${LIMITS.metadataPairs} tags`,
});
const Geo = z.enum(['global', 'us']);
const AllowedGeos = z.union([z.literal('unrestricted'), z.array(Geo).min(1)]);

/** Customer-managed keys and user profiles do not exist here: a value for either is refused rather than ignored. */
const Unsupported = (what: string) =>
  z
    .null()
    .optional()
    .or(z.string().refine(() => false, { message: `${what} are not supported by this runtime` }));

export const WorkspaceCreateParams = z.strictObject({
  name: Name,
  display_color: DisplayColor.nullable().optional(),
  tags: Tags.nullable().optional(),
  data_residency: z
    .strictObject({
      allowed_inference_geos: AllowedGeos.nullable().optional(),
      default_inference_geo: Geo.nullable().optional(),
      workspace_geo: z.literal('us').nullable().optional(),
    })
    .nullable()
    .optional(),
  external_key_id: Unsupported('customer-managed encryption keys'),
  user_profile_id: Unsupported('user profiles'),
});
export type WorkspaceCreateParams = z.infer<typeof WorkspaceCreateParams>;

export const WorkspaceUpdateParams = z.strictObject({
  name: Name.optional(),
  display_color: DisplayColor.optional(),
  /** A string upserts the tag, null deletes it (as metadata patches do). */
  tags: z.record(TagKey, TagValue.nullable()).nullable().optional(),
  data_residency: z
    .strictObject({
      allowed_inference_geos: AllowedGeos.nullable().optional(),
      default_inference_geo: Geo.nullable().optional(),
    })
    .nullable()
    .optional(),
  external_key_id: Unsupported('customer-managed encryption keys'),
  user_profile_id: Unsupported('user profiles'),
});
export type WorkspaceUpdateParams = z.infer<typeof WorkspaceUpdateParams>;

export interface DataResidency {
  allowed_inference_geos: Array<'global' | 'us'> | 'unrestricted';
  default_inference_geo: 'global' | 'us';
  workspace_geo: 'us';
}

export interface Workspace {
  type: 'workspace';
  id: string;
  name: string;
  display_color: string;
  tags: Record<string, string>;
  data_residency: DataResidency;
  compartment_id: string;
  external_key_id: null;
  user_profile_id: null;
  created_at: string;
  archived_at: string | null;
}
export type WorkspaceChecked = Assignable<Workspace, BetaWorkspace>;

// ---------- paging: the organization API's `Page` (after_id / before_id, first_id / last_id / has_more) ----------

const boolish = z.enum(['true', 'false']).transform((v) => v === 'true');

const PageParams = {
  limit: z.coerce.number().int().min(1).max(1000).default(20),
  after_id: z.string().min(1).optional(),
  before_id: z.string().min(1).optional(),
};

export const WorkspaceListQuery = z.strictObject({
  ...PageParams,
  include_archived: boolish.optional(),
  include_default: boolish.optional(),
  'ids[]': z.array(z.string().max(LIMITS.id)).max(LIMITS.workspaceIds).optional(),
});
export type WorkspaceListQuery = z.infer<typeof WorkspaceListQuery>;

export interface OrgPage<T> {
  data: T[];
  has_more: boolean;
  first_id: string | null;
  last_id: string | null;
}

// ---------- API keys ----------

const KeyStatus = z.enum(['active', 'inactive', 'archived']);
/** Extension: requests per minute this key may make; unset, the runtime's default (EDGEHARNESS_RATE_LIMIT_PER_MINUTE). */
const RateLimitPerMinute = z.number().int().min(1).max(1_000_000);

export const ApiKeyCreateParams = z.strictObject({
  name: z.string().min(1).max(LIMITS.apiKeyName),
  workspace_id: z.string().min(1).max(LIMITS.id),
  rate_limit_per_minute: RateLimitPerMinute.nullable().optional(),
});
export type ApiKeyCreateParams = z.infer<typeof ApiKeyCreateParams>;

export const ApiKeyUpdateParams = z.strictObject({
  name: z.string().min(1).max(LIMITS.apiKeyName).nullable().optional(),
  status: KeyStatus.nullable().optional(),
  rate_limit_per_minute: RateLimitPerMinute.nullable().optional(),
});
export type ApiKeyUpdateParams = z.infer<typeof ApiKeyUpdateParams>;

export const ApiKeyListQuery = z.strictObject({
  ...PageParams,
  status: z.enum(['active', 'inactive', 'archived', 'expired']).optional(),
  workspace_id: z.string().min(1).optional(),
  created_by_user_id: z.string().min(1).optional(),
});
export type ApiKeyListQuery = z.infer<typeof ApiKeyListQuery>;

export type ApiKeyStatus = z.infer<typeof KeyStatus>;

export interface ApiKey {
  type: 'api_key';
  id: string;
  name: string;
  status: ApiKeyStatus;
  scope: { type: 'workspace'; workspace_id: string };
  partial_key_hint: string;
  created_at: string;
  /** Keys are made with the admin key, which is no user or service account. */
  created_by: null;
  expires_at: null;
  principal: null;
  /** Extension: this key's own limit, or null for the runtime's default. */
  rate_limit_per_minute: number | null;
}
export type ApiKeyChecked = Assignable<ApiKey, BetaAPIKey>;

/** What the create extension answers: the key object plus the key itself, shown this once. */
export type CreatedApiKey = ApiKey & { key: string };

export const DEFAULT_DISPLAY_COLOR = '#6C5BB9';

/** The organization's default workspace: the one EDGEHARNESS_API_KEY belongs to. It cannot be archived. */
export const DEFAULT_WORKSPACE_ID = 'wrkspc_default';
