// Files, mirroring beta/files.d.ts: the metadata the store keeps and every response carries, the list query, the
// upload's field rules and the size limit. The bytes themselves live in R2 (worker/api/routes/files.ts).
import { z } from 'zod';
import type { BetaDeletedFile, BetaFileMetadata } from '@anthropic-ai/sdk/resources/beta/files';
import type { EventParams } from './event.ts';
import type { Assignable } from './common.ts';

/**
 * Largest file accepted: 500 MB, the official Files API's limit per file. Decimal MB, as the official one. The
 * platform may allow less: Cloudflare caps request bodies at 100 MB on the Free and Pro plans (200 MB Business,
 * 500 MB Enterprise); `EDGEHARNESS_MAX_FILE_BYTES` lowers this limit for a deployment (docs/files.md).
 */
export const MAX_FILE_BYTES = 500_000_000;

/**
 * Largest file a message may carry as an image or document block: the Messages API's request limit (32 MB), which
 * the file's bytes, sent base64, must fit in.
 */
export const MAX_CONTENT_FILE_BYTES = 32_000_000;

/** Image types the Messages API takes as an image block. */
export const IMAGE_TYPES: readonly string[] = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];

/** Where a file's bytes are in the FILES bucket: under its workspace, so no other workspace's key is ever formed. */
export function fileObjectKey(workspaceId: string, fileId: string): string {
  return `${workspaceId}/${fileId}`;
}

/** `expires_in_seconds` bounds, as FileUploadParams states them: one hour to ninety days. */
export const EXPIRES_IN = { min: 3600, max: 7_776_000 } as const;

/** Longest stored filename, in characters; a longer one is refused naming the field. */
export const MAX_FILENAME = 255;

export interface FileMetadata {
  type: 'file';
  id: string;
  filename: string;
  mime_type: string;
  size_bytes: number;
  created_at: string;
  downloadable: boolean;
  expires_at: string | null;
  scope: { type: 'session'; id: string } | null;
}

export interface DeletedFile {
  id: string;
  type: 'file_deleted';
}

// The contract, checked by the compiler: what we answer is what the SDK reads.
export type FileMetadataIsOfficial = Assignable<FileMetadata, BetaFileMetadata>;
export type DeletedFileIsOfficial = Assignable<DeletedFile, BetaDeletedFile>;

/**
 * GET /v1/files: the SDK's PageCursorParams (`limit`, `page`) plus `ids` (at most 100, a single page, not with
 * `page` or `limit`) and `scope_id`. `limit` defaults to 20, at most 100, as every other list of this API.
 */
export const FileListQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).optional(),
    page: z.string().min(1).optional(),
    'ids[]': z.array(z.string().min(1).max(256)).optional(),
    scope_id: z.string().min(1).max(256).optional(),
  })
  .superRefine((q, ctx) => {
    const ids = q['ids[]'];
    if (ids && new Set(ids).size > 100) ctx.addIssue({ code: 'custom', path: ['ids'], message: `at most 100 entries, got ${new Set(ids).size}` });
    if (ids && (q.page !== undefined || q.limit !== undefined))
      ctx.addIssue({ code: 'custom', path: ['ids'], message: 'cannot be combined with page or limit: a list by ids is always one page' });
  });
export type FileListQuery = z.infer<typeof FileListQuery>;

/** The upload's `expires_in_seconds` form field, as text. */
export const ExpiresInSeconds = z.coerce.number().int().min(EXPIRES_IN.min).max(EXPIRES_IN.max);

const EXTENSIONS: Record<string, string> = {
  'application/pdf': 'pdf',
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/gif': 'gif',
  'image/webp': 'webp',
  'text/plain': 'txt',
  'text/markdown': 'md',
  'text/csv': 'csv',
  'text/html': 'html',
  'application/json': 'json',
};
const BY_EXTENSION: Record<string, string> = Object.fromEntries([...Object.entries(EXTENSIONS).map(([m, e]) => [e, m]), ['jpeg', 'image/jpeg']]);

/**
 * The stored MIME type: the part's own Content-Type (its base type, lowercased), or, when it sent none or only
 * `application/octet-stream`, the one its filename's extension names, else `application/octet-stream`.
 */
export function storedMimeType(partType: string | undefined, filename: string): string {
  const declared = partType?.split(';')[0]!.trim().toLowerCase();
  if (declared && declared !== 'application/octet-stream') return declared;
  const ext = /\.([a-z0-9]+)$/i.exec(filename)?.[1]?.toLowerCase();
  return (ext && BY_EXTENSION[ext]) ?? 'application/octet-stream';
}

/**
 * The stored filename, as FileUploadParams states it: only the final path component of the part's filename is
 * kept; an absent or empty one becomes `unnamed` plus the extension for the stored MIME type, when known.
 */
export function storedFilename(partFilename: string | undefined, mimeType: string): string {
  const last = (partFilename ?? '').split(/[/\\]/).pop() ?? '';
  if (last !== '') return last;
  const ext = EXTENSIONS[mimeType];
  return ext ? `unnamed.${ext}` : 'unnamed';
}

// ---------- files as message content ----------

/** An image or document block of sent events whose source is a file: where it is, and what it names. */
export interface FileSourceRef {
  /** `events[0].content[1].source.file_id`: the field a refusal names. */
  path: string;
  fileId: string;
  kind: 'image' | 'document';
}

/** Every file-sourced image and document block in the content of `events` (the field `root`), in order. */
export function fileSources(events: readonly EventParams[], root = 'events'): FileSourceRef[] {
  const out: FileSourceRef[] = [];
  events.forEach((ev, i) => {
    const content = 'content' in ev ? ev.content : undefined;
    content?.forEach((block, j) => {
      if ((block.type === 'image' || block.type === 'document') && block.source.type === 'file')
        out.push({ path: `${root}[${i}].content[${j}].source.file_id`, fileId: block.source.file_id, kind: block.type });
    });
  });
  return out;
}

/**
 * Why `file` (undefined: the workspace has none of that id) cannot be the source of this block, or null when it
 * can: an image must be one of IMAGE_TYPES, a document a PDF or text, and either fit one model request.
 */
export function fileSourceProblem(ref: FileSourceRef, file: FileMetadata | undefined): string | null {
  if (!file) return `${ref.path}: no file '${ref.fileId}' in this workspace`;
  if (ref.kind === 'image' && !IMAGE_TYPES.includes(file.mime_type))
    return `${ref.path}: file '${file.id}' is ${file.mime_type}; an image block takes ${IMAGE_TYPES.join(', ')}`;
  if (ref.kind === 'document' && file.mime_type !== 'application/pdf' && !file.mime_type.startsWith('text/'))
    return `${ref.path}: file '${file.id}' is ${file.mime_type}; a document block takes application/pdf or text`;
  if (file.size_bytes > MAX_CONTENT_FILE_BYTES)
    return `${ref.path}: file '${file.id}' is ${file.size_bytes} bytes; a file sent as message content may be at most ${MAX_CONTENT_FILE_BYTES}`;
  return null;
}
