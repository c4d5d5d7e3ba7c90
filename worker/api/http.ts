// Request plumbing shared by the routes: the body limit, JSON bodies, query strings, and store results → ApiError.
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { z } from 'zod';
import { ApiError, fromZodError, invalidRequest, tooLarge } from './errors.ts';
import type { EventParams } from '../../contract/event.ts';
import { fileSourceProblem, fileSources } from '../../contract/file.ts';
import type { Result } from '../../contract/result.ts';
import { workspaceStore, type WorkspaceStub } from '../../durable-objects/stubs.ts';
import type { AppEnv } from './app-env.ts';

/**
 * Largest request body accepted: 32 MB, as the Messages API; a 5 MB user message fits comfortably. Decimal MB on
 * purpose: the parsed events travel to the session's log, and back as the echo, in one RPC each, which workerd
 * limits to 32 MiB; the difference is the room that ids and timestamps take.
 */
const MAX_BODY_BYTES = 32_000_000;

/**
 * Bounds every request body at MAX_BODY_BYTES (mounted on /v1 after auth, so a stranger's upload is never read). A
 * declared Content-Length over the limit is refused before a byte is read; a body of unknown length is read up to
 * the limit and refused at the first byte past it. The routes then read the body through `c.req`, which keeps it:
 * the idempotency check hashes the same bytes the route parses, read once.
 */
const jsonBodyLimit = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: (c) => {
    const declared = Number(c.req.header('content-length'));
    throw tooLarge(
      declared > MAX_BODY_BYTES
        ? `request body is ${declared} bytes; the limit is ${MAX_BODY_BYTES}`
        : `request body exceeds the limit of ${MAX_BODY_BYTES} bytes`,
    );
  },
});

/** Uploads (POST /v1/files, skills and their versions) read their body as a stream and bound it themselves (routes/files.ts, routes/skills.ts). */
const isUpload = (c: Context<AppEnv>) => c.req.method === 'POST' && /^\/v1\/(files|skills|skills\/[^/]+\/versions)$/.test(c.req.path);

export const bodyLimited: MiddlewareHandler<AppEnv> = (c, next) => (isUpload(c) ? next() : jsonBodyLimit(c, next));

export async function readJson<S extends z.ZodType>(c: Context<AppEnv>, schema: S, opts: { optional?: boolean } = {}): Promise<z.infer<S>> {
  const text = decodeUtf8(await c.req.bytes());
  if (text.trim() === '') {
    if (opts.optional) return parseWith(schema, {});
    throw invalidRequest('request body: expected a JSON object, got an empty body');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw invalidRequest(`request body: malformed JSON (${(err as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw invalidRequest('request body: expected a JSON object');
  return parseWith(schema, value);
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw invalidRequest('request body: not valid UTF-8');
  }
}

function parseWith<S extends z.ZodType>(schema: S, value: unknown, root?: string): z.infer<S> {
  // Inputs in issues let a size refusal say what it got; messages never quote an input (it may be a secret).
  const parsed = schema.safeParse(value, { reportInput: true });
  if (!parsed.success) throw fromZodError(parsed.error, root);
  return parsed.data;
}

/** Query string → object: `k[]` keys (the SDK's array format) become arrays, others single values. */
export function parseQuery<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  const url = new URL(c.req.url);
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    if (k.endsWith('[]')) ((out[k] ??= []) as string[]).push(v);
    else out[k] = v;
  }
  return parseWith(schema, out, '');
}

export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  const { fields } = result.error;
  throw new ApiError(result.error.type, result.error.message, result.error.code, fields ? { fields } : {});
}

/** Refusals from the session log become the matching API error. */
export function refusalError(error: { type: string; message: string }): ApiError {
  return new ApiError(error.type === 'not_found_error' ? 'not_found_error' : 'invalid_request_error', error.message);
}

/** The caller's workspace store: the only workspace a route ever asks. */
export function workspace(c: Context<AppEnv>): WorkspaceStub {
  return workspaceStore(c.env, c.get('workspaceId'));
}

/**
 * Each file an image or document block of `sent` names (the field `root`) must be in the caller's workspace and of
 * a kind the block takes; the first that is not is a 400 naming its path, before anything is appended.
 */
export async function checkFileSources(c: Context<AppEnv>, sent: readonly EventParams[], root = 'events'): Promise<void> {
  const refs = fileSources(sent, root);
  if (!refs.length) return;
  const found = await workspace(c).findFiles(refs.map((r) => r.fileId));
  for (const ref of refs) {
    const problem = fileSourceProblem(ref, found[ref.fileId]);
    if (problem) throw invalidRequest(problem);
  }
}
