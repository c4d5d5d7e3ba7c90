// Memory stores, their memories and the memories' versions, mirroring beta/memory-stores/*.d.ts: the params, the
// shapes responses show, the path rules and size limits their doc comments state, and the mount path a store gets.
import { z } from 'zod';
import type * as Stores from '@anthropic-ai/sdk/resources/beta/memory-stores/memory-stores';
import type * as Memories from '@anthropic-ai/sdk/resources/beta/memory-stores/memories';
import type * as Versions from '@anthropic-ai/sdk/resources/beta/memory-stores/memory-versions';
import { ListQuery, Metadata, MetadataPatch, type Assignable } from './common.ts';

/** official: "The maximum size is 100 kB (102,400 bytes)." */
export const MAX_MEMORY_CONTENT_BYTES = 102_400;
/** official: a path is "at most 1,024 bytes long" and "has 1 to 20 segments". */
export const MAX_MEMORY_PATH_BYTES = 1024;
export const MAX_MEMORY_PATH_SEGMENTS = 20;
/** official: "With `full`, list operations return at most 20 items per page." */
export const FULL_VIEW_PAGE_LIMIT = 20;
/** official: store names are 1 to 255 characters, descriptions up to 1,024, per-attachment instructions up to 4,096. */
const MAX_STORE_NAME = 255;
const MAX_STORE_DESCRIPTION = 1024;
export const MAX_MEMORY_INSTRUCTIONS = 4096;

export function utf8Length(s: string): number {
  return new TextEncoder().encode(s).byteLength;
}

// Control (Cc), format (Cf) and lone surrogate (Cs) characters, and the line and paragraph separators. With the `u`
// flag a well-formed surrogate pair is one code point, so only a lone half matches \p{Cs}.
const FORBIDDEN_IN_PATH = /[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/u;

/**
 * Why `path` is not a memory path, or null when it is one, by MemoryCreateParams' rule: it starts with `/`, has 1 to
 * 20 segments, none empty, `.` or `..`, no control or format characters and no U+2028/U+2029, is in NFC and at most
 * 1,024 bytes.
 */
export function memoryPathProblem(path: string): string | null {
  if (!path.startsWith('/')) return 'expected a path starting with /';
  const bytes = utf8Length(path);
  if (bytes > MAX_MEMORY_PATH_BYTES) return `at most ${MAX_MEMORY_PATH_BYTES} bytes, got ${bytes}`;
  if (FORBIDDEN_IN_PATH.test(path)) return 'must not contain control characters, format characters, U+2028 or U+2029';
  if (path.normalize('NFC') !== path) return 'must be in Unicode Normalization Form C';
  const segments = path.slice(1).split('/');
  if (segments.length > MAX_MEMORY_PATH_SEGMENTS) return `at most ${MAX_MEMORY_PATH_SEGMENTS} segments, got ${segments.length}`;
  if (segments.some((s) => s === '')) return 'a segment must not be empty (no //, no trailing /)';
  if (segments.some((s) => s === '.' || s === '..')) return 'a segment must not be . or ..';
  return null;
}

const MemoryPath = z.string().superRefine((p, ctx) => {
  const problem = memoryPathProblem(p);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** `path_prefix`: `/`, or a memory path followed by `/` ("The prefix must end with `/` and matches whole segments"). */
const PathPrefix = z.string().superRefine((p, ctx) => {
  if (!p.endsWith('/')) return ctx.addIssue({ code: 'custom', message: 'must end with /' });
  const problem = p === '/' ? null : memoryPathProblem(p.slice(0, -1));
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const MemoryContent = z.string().superRefine((s, ctx) => {
  // A lone surrogate has no UTF-8 form: the stored bytes, and so the hash, would not be what was sent.
  if (/\p{Cs}/u.test(s)) return ctx.addIssue({ code: 'custom', message: 'must be valid Unicode text (it contains a lone surrogate)' });
  const bytes = utf8Length(s);
  if (bytes > MAX_MEMORY_CONTENT_BYTES) ctx.addIssue({ code: 'custom', message: `at most ${MAX_MEMORY_CONTENT_BYTES} bytes (UTF-8), got ${bytes}` });
});

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected a SHA-256 digest: 64 lowercase hexadecimal characters');

const StoreName = z
  .string()
  .min(1)
  .max(MAX_STORE_NAME)
  .refine((n) => !/\p{Cc}/u.test(n), 'must not contain control characters');
const StoreDescription = z.string().max(MAX_STORE_DESCRIPTION);

// ---------- memory stores ----------

export const MemoryStoreCreateParams = z.strictObject({
  name: StoreName,
  description: StoreDescription.optional(),
  metadata: Metadata.optional(),
});
export type MemoryStoreCreateParams = z.infer<typeof MemoryStoreCreateParams>;

export const MemoryStoreUpdateParams = z.strictObject({
  name: StoreName.nullable().optional(),
  description: StoreDescription.nullable().optional(),
  metadata: MetadataPatch.nullable().optional(),
});
export type MemoryStoreUpdateParams = z.infer<typeof MemoryStoreUpdateParams>;

export const MemoryStoreListQuery = ListQuery.pick({ limit: true, page: true, include_archived: true, 'created_at[gte]': true, 'created_at[lte]': true });

export interface MemoryStore {
  type: 'memory_store';
  id: string;
  name: string;
  description: string;
  metadata: Metadata;
  created_at: string;
  updated_at: string;
  archived_at: string | null;
}

export interface DeletedMemoryStore {
  id: string;
  type: 'memory_store_deleted';
}

// ---------- memories ----------

export const MemoryView = z.enum(['basic', 'full']);
export type MemoryView = z.infer<typeof MemoryView>;
export const ViewQuery = z.object({ view: MemoryView.optional() });

export const MemoryCreateParams = z.strictObject({
  // official: `string | null`; null is taken as "" (an empty memory), the only content it can mean.
  content: MemoryContent.nullable(),
  path: MemoryPath,
});
export type MemoryCreateParams = z.infer<typeof MemoryCreateParams>;

export const MemoryUpdateParams = z.strictObject({
  content: MemoryContent.nullable().optional(),
  path: MemoryPath.nullable().optional(),
  // The SDK marks content_sha256 optional, but a precondition without one asserts nothing: refused, not ignored.
  precondition: z.strictObject({ type: z.literal('content_sha256'), content_sha256: Sha256 }).optional(),
});
export type MemoryUpdateParams = z.infer<typeof MemoryUpdateParams>;

export const MemoryListQuery = z.object({
  limit: ListQuery.shape.limit,
  page: ListQuery.shape.page,
  path_prefix: PathPrefix.optional(),
  depth: z.coerce.number().int().min(0).default(0),
  view: MemoryView.default('basic'),
});
export type MemoryListQuery = z.infer<typeof MemoryListQuery>;

export const MemoryDeleteQuery = z.object({ expected_content_sha256: Sha256.optional() });

export interface Memory {
  type: 'memory';
  id: string;
  memory_store_id: string;
  path: string;
  content: string | null;
  content_sha256: string;
  content_size_bytes: number;
  memory_version_id: string;
  created_at: string;
  updated_at: string;
}

export interface MemoryPrefix {
  type: 'memory_prefix';
  path: string;
}

export interface DeletedMemory {
  id: string;
  type: 'memory_deleted';
}

// ---------- memory versions ----------

export const MemoryVersionOperation = z.enum(['created', 'modified', 'deleted']);
export type MemoryVersionOperation = z.infer<typeof MemoryVersionOperation>;

export const MemoryVersionListQuery = z.object({
  limit: ListQuery.shape.limit,
  page: ListQuery.shape.page,
  api_key_id: z.string().min(1).max(256).optional(),
  'created_at[gte]': ListQuery.shape['created_at[gte]'],
  'created_at[lte]': ListQuery.shape['created_at[lte]'],
  memory_id: z.string().min(1).max(256).optional(),
  operation: MemoryVersionOperation.optional(),
  service_account_id: z.string().min(1).max(256).optional(),
  session_id: z.string().min(1).max(256).optional(),
  view: MemoryView.default('basic'),
});
export type MemoryVersionListQuery = z.infer<typeof MemoryVersionListQuery>;

/** Who made a change: the API key of the request, or the session whose agent wrote through the mount. */
export type Actor = { type: 'api_actor'; api_key_id: string } | { type: 'session_actor'; session_id: string };

export interface MemoryVersion {
  type: 'memory_version';
  id: string;
  memory_id: string;
  memory_store_id: string;
  operation: MemoryVersionOperation;
  path: string | null;
  content: string | null;
  content_sha256: string | null;
  content_size_bytes: number | null;
  created_at: string;
  created_by: Actor;
  redacted_at: string | null;
  redacted_by: Actor | null;
}

/** The conflict a create or rename meets: the path that blocked it and the memory that holds it. */
export interface PathConflict {
  conflicting_path: string;
  conflicting_memory_id: string;
}

// ---------- a store in a session ----------

/**
 * Where a store is mounted in a session, by MemoryStoreCreateParams' rule: "The name is lowercased and every run of
 * characters other than ASCII letters and digits becomes one hyphen", under /mnt/memory/.
 */
export function memoryMountPath(storeName: string): string {
  return `/mnt/memory/${storeName.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
}

// The contract, checked by the compiler: what we answer is what the SDK reads.
export type MemoryStoreIsOfficial = Assignable<MemoryStore, Stores.BetaManagedAgentsMemoryStore>;
export type DeletedMemoryStoreIsOfficial = Assignable<DeletedMemoryStore, Stores.BetaManagedAgentsDeletedMemoryStore>;
export type MemoryIsOfficial = Assignable<Memory, Memories.BetaManagedAgentsMemory>;
export type MemoryListItemIsOfficial = Assignable<Memory | MemoryPrefix, Memories.BetaManagedAgentsMemoryListItem>;
export type DeletedMemoryIsOfficial = Assignable<DeletedMemory, Memories.BetaManagedAgentsDeletedMemory>;
// The doc comment says `redacted_by` is null until the version is redacted; the SDK's type leaves null out, so the
// check compares the rest and the redacted case.
export type MemoryVersionIsOfficial = Assignable<Omit<MemoryVersion, 'redacted_by'> & { redacted_by?: Actor }, Versions.BetaManagedAgentsMemoryVersion>;
export type PathConflictIsOfficial = Assignable<PathConflict & { type: 'memory_path_conflict_error'; message: string }, Memories.BetaManagedAgentsMemoryPathConflictErrorObject>;
