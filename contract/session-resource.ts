// Session resources (repositories, files and memory stores mounted into a session's sandbox): the params of `resources` on session
// create and of client.beta.sessions.resources, and the shapes responses show, mirroring sessions/resources.d.ts.
// A repository's `authorization_token` is write-only: it is in the params, never in a response shape.
import { z } from 'zod';
import type * as Official from '@anthropic-ai/sdk/resources/beta/sessions/resources';
import { tokenUrl } from './common.ts';
import { LIMITS } from './size-limits.ts';
import { MAX_MEMORY_INSTRUCTIONS } from './memory-store.ts';

/** Longest mount path accepted (ours; the SDK states none). */
const MAX_MOUNT_PATH = 1024;
/** Longest authorization token accepted (ours; a GitHub token is under 300 characters). */
const MAX_TOKEN = 8192;
/** Resources one session may hold (ours). */
export const MAX_SESSION_RESOURCES = 64;

/**
 * An absolute, normalised path: no `.` or `..` segment, no empty segment, no control character, not `/` itself.
 * Where a resource lands in the sandbox's filesystem, so it must say exactly one place.
 */
const MountPath = z
  .string()
  .max(MAX_MOUNT_PATH)
  .refine((p) => p.startsWith('/') && p.length > 1, 'expected an absolute path other than /')
  .refine((p) => !/[\u0000-\u001f\u007f]/.test(p), 'must not contain control characters')
  .refine((p) => p.slice(1).split('/').every((s) => s !== '' && s !== '.' && s !== '..'), 'expected a normalised path (no empty, . or .. segment, no trailing /)');

/** Where a repository may be cloned from, its token in hand: `tokenUrl`'s rule (docs/vault.md), and a repository's URL. */
export function repositoryUrlProblem(text: string): string | null {
  const checked = tokenUrl(text, 'give them as authorization_token');
  if ('problem' in checked) return checked.problem;
  if (checked.url.search || checked.url.hash) return 'must not have a query or fragment';
  if (!repositoryName(checked.url)) return 'expected the URL of a repository (https://github.com/<owner>/<repo>)';
  return null;
}

/** The repository's name, its URL's last path segment without `.git`: the default mount is /workspace/<name>. */
function repositoryName(url: URL): string | null {
  const last = url.pathname.split('/').filter(Boolean).pop()?.replace(/\.git$/, '');
  return last && /^[A-Za-z0-9._-]+$/.test(last) && last !== '.' && last !== '..' ? last : null;
}

const RepositoryUrl = z
  .string()
  .max(LIMITS.url)
  .superRefine((u, ctx) => {
    const problem = repositoryUrlProblem(u);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** A branch name git accepts as a ref and no command line can read as an option. */
const BranchCheckout = z.strictObject({
  type: z.literal('branch'),
  name: z
    .string()
    .min(1)
    .max(255)
    .refine((n) => !n.startsWith('-') && !/[\u0000-\u0020\u007f~^:?*[\\]|\.\.|@\{|\/\/|^\/|\/$|\.lock$|\.$/.test(n), 'not a valid branch name'),
});
const CommitCheckout = z.strictObject({
  type: z.literal('commit'),
  sha: z.string().regex(/^([0-9a-f]{40}|[0-9a-f]{64})$/, 'expected a full commit SHA (40 or 64 lowercase hex digits)'),
});
const Checkout = z.discriminatedUnion('type', [BranchCheckout, CommitCheckout]);
export type Checkout = z.infer<typeof Checkout>;

const AuthorizationToken = z.string().min(1, 'must not be empty').max(MAX_TOKEN);

/** Files API ids (`file_…`); that the file exists in the workspace is checked when the resource is stored. */
const FileId = z.string().regex(/^file_[0-9A-Za-z]{1,128}$/, 'expected a file id (file_…)');

export const GitHubRepositoryResourceParams = z.strictObject({
  type: z.literal('github_repository'),
  url: RepositoryUrl,
  authorization_token: AuthorizationToken.optional(),
  checkout: Checkout.nullable().optional(),
  mount_path: MountPath.nullable().optional(),
});
export type GitHubRepositoryResourceParams = z.infer<typeof GitHubRepositoryResourceParams>;

export const FileResourceParams = z.strictObject({
  type: z.literal('file'),
  file_id: FileId,
  mount_path: MountPath.nullable().optional(),
});
export type FileResourceParams = z.infer<typeof FileResourceParams>;

/** That the store exists in the workspace and is not archived is checked when the resource is stored. */
export const MemoryStoreResourceParams = z.strictObject({
  type: z.literal('memory_store'),
  memory_store_id: z.string().regex(/^memstore_[0-9A-Za-z]{1,128}$/, 'expected a memory store id (memstore_…)'),
  access: z.enum(['read_write', 'read_only']).nullable().optional(),
  instructions: z.string().max(MAX_MEMORY_INSTRUCTIONS).nullable().optional(),
});
export type MemoryStoreResourceParams = z.infer<typeof MemoryStoreResourceParams>;

/** One entry of `resources` on session create. */
export const SessionResourceParams = z.discriminatedUnion('type', [GitHubRepositoryResourceParams, FileResourceParams, MemoryStoreResourceParams]);
export type SessionResourceParams = z.infer<typeof SessionResourceParams>;

/** `POST /v1/sessions/{id}/resources`: as ResourceAddParams says, only a file can be added once the session exists. */
export const ResourceAddParams = FileResourceParams;
export type ResourceAddParams = FileResourceParams;

/** `POST /v1/sessions/{id}/resources/{resource_id}`: a new token (github_repository only). */
export const ResourceUpdateParams = z.strictObject({ authorization_token: AuthorizationToken });
export type ResourceUpdateParams = z.infer<typeof ResourceUpdateParams>;

export interface GitHubRepositoryResource {
  type: 'github_repository';
  id: string;
  url: string;
  checkout: Checkout | null;
  mount_path: string;
  created_at: string;
  updated_at: string;
}

export interface FileResource {
  type: 'file';
  id: string;
  file_id: string;
  mount_path: string;
  created_at: string;
  updated_at: string;
}

/**
 * A memory store as the session sees it: `name` and `description` are the store's at attach time (later edits do not
 * propagate), `mount_path` is /mnt/memory/<slug of the name>. `id`, `created_at` and `updated_at` are ours (the SDK's
 * type has none), so the resource can be retrieved and deleted like the other kinds.
 */
export interface MemoryStoreResource {
  type: 'memory_store';
  id: string;
  memory_store_id: string;
  access: 'read_write' | 'read_only';
  name: string;
  description: string;
  instructions: string | null;
  mount_path: string;
  created_at: string;
  updated_at: string;
}

export type SessionResource = GitHubRepositoryResource | FileResource | MemoryStoreResource;

type Assignable<T extends U, U> = T;
export type SessionResourcesAreOfficial = Assignable<SessionResource, Official.BetaManagedAgentsSessionResource>;

/**
 * The mount path a repository or file gets when its params name none (the SDK's documented defaults). A memory
 * store's is always derived from its name (memoryMountPath).
 */
export function defaultMountPath(p: GitHubRepositoryResourceParams | FileResourceParams): string {
  if (p.type === 'file') return `/mnt/session/uploads/${p.file_id}`;
  return `/workspace/${repositoryName(new URL(p.url))}`;
}

/**
 * Two resources may not share a mount path, or sit one inside the other: each must be its own place. `field(i)`
 * names the i-th resource in the message.
 */
export function mountPathClash(paths: string[], field: (i: number) => string): string | null {
  for (let i = 0; i < paths.length; i++)
    for (let j = 0; j < i; j++) {
      const [a, b] = [paths[i]!, paths[j]!];
      if (a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`))
        return `${field(i)}.mount_path: '${a}' ${a === b ? 'is also' : 'overlaps'} the mount path of ${field(j)} ('${b}')`;
    }
  return null;
}
