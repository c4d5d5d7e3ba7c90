// Shapes shared by every resource: metadata bags, list queries, timestamps.
import { z } from 'zod';
import { LIMITS } from './size-limits.ts';

export const MAX_METADATA_PAIRS = LIMITS.metadataPairs;
const MetadataKey = z.string().min(1).max(LIMITS.metadataKey);
const MetadataValue = z.string().max(LIMITS.metadataValue);

export const Metadata = z
  .record(MetadataKey, MetadataValue)
  .refine((m) => Object.keys(m).length <= MAX_METADATA_PAIRS, {
    error: (iss) => `at most ${MAX_METADATA_PAIRS} key-value pairs, got ${Object.keys(iss.input as object).length}`,
  });
export type Metadata = z.infer<typeof Metadata>;

/** Update semantics (resources/shared/metadata.ts): a string upserts the key, null deletes it. */
export const MetadataPatch = z.record(MetadataKey, MetadataValue.nullable());
export type MetadataPatch = z.infer<typeof MetadataPatch>;

const boolish = z
  .enum(['true', 'false'])
  .transform((v) => v === 'true');

const Limit = (max: number, dflt: number) =>
  z.coerce.number().int().min(1).max(max).default(dflt);

const isoDate = z.string().refine((s) => !Number.isNaN(Date.parse(s)), { message: 'expected an RFC 3339 timestamp' });

export const ListQuery = z.object({
  limit: Limit(100, 20),
  page: z.string().min(1).optional(),
  include_archived: boolish.optional(),
  'created_at[gte]': isoDate.optional(),
  'created_at[lte]': isoDate.optional(),
  'created_at[gt]': isoDate.optional(),
  'created_at[lt]': isoDate.optional(),
});
export type ListQuery = z.infer<typeof ListQuery>;

/** One page of a cursor-paginated list, as the SDK's PageCursor reads it. */
export interface Page<T> {
  data: T[];
  next_page: string | null;
  prev_page?: string | null;
}

export function toBase64Url(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Throws on input that is not base64url. */
export function fromBase64Url(text: string): Uint8Array {
  return Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
}

/** Opaque page cursors: base64url of a small JSON position. */
export function encodeCursor(position: Record<string, string | number>): string {
  return toBase64Url(new TextEncoder().encode(JSON.stringify(position)));
}

export function decodeCursor(cursor: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(fromBase64Url(cursor)));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** A compile-time check that our shape `T` is assignable to the SDK's `U`: `tsc` fails where they part. */
export type Assignable<T extends U, U> = T;

/**
 * Where the runtime may send a token: https, or plain http to a loopback address from 127.0.0.2 up, for local
 * development only (a token never crosses a network in the clear). 127.0.0.1 and localhost, where the runtime's own
 * services listen (wrangler dev, the sandbox host, the inspector), never over http: nothing a client names may turn
 * the runtime on them. `credentialsHint` says where the URL's user and password belong instead. The parsed URL, or
 * why it may not be used.
 */
export function tokenUrl(text: string, credentialsHint: string): { url: URL } | { problem: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: 'expected a URL' };
  }
  if (url.username || url.password) return { problem: `must not carry credentials; ${credentialsHint}` };
  const devLoopback = /^127\.\d+\.\d+\.\d+$/.test(url.hostname) && url.hostname !== '127.0.0.1';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && devLoopback))
    return { problem: 'expected an https:// URL (http:// only to a loopback address from 127.0.0.2 up, for local development)' };
  return { url };
}
