// /v1/files: upload (multipart, streamed into R2), list, retrieve metadata, download, delete. The bytes live in the
// FILES bucket under `<workspace id>/<file id>`, the metadata in the workspace's store: another workspace's file is
// simply not found, and its key is never formed.
import { Hono, type Context } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { invalidRequest, notFound, tooLarge } from '../errors.ts';
import { formBoundary, formParts, type FormPart } from '../multipart.ts';
import { parseQuery, unwrap, workspace } from '../http.ts';
import { ExpiresInSeconds, fileObjectKey, FileListQuery, MAX_FILE_BYTES, MAX_FILENAME, storedFilename, storedMimeType, type FileMetadata } from '../../../contract/file.ts';
import { newId } from '../../../contract/ids.ts';

/** The bytes of one R2 multipart part: R2 wants every part but the last the same size, of at least 5 MiB. */
const PART_BYTES = 5 * 1024 * 1024;
/** Room in a request for the multipart framing and the small fields around the file. */
const FRAMING_BYTES = 64 * 1024;

/** The largest file this deployment takes: MAX_FILE_BYTES, or less when EDGEHARNESS_MAX_FILE_BYTES says so. */
export function maxFileBytes(env: AppEnv['Bindings']): number {
  const asked = Number(env.EDGEHARNESS_MAX_FILE_BYTES);
  return Number.isInteger(asked) && asked > 0 ? Math.min(asked, MAX_FILE_BYTES) : MAX_FILE_BYTES;
}

/** The most an upload's request body may declare; the file itself is counted as it streams. */
export function maxUploadBodyBytes(env: AppEnv['Bindings']): number {
  return maxFileBytes(env) + FRAMING_BYTES;
}

const objectKey = (c: Context<AppEnv>, fileId: string) => fileObjectKey(c.get('workspaceId'), fileId);

export const files = new Hono<AppEnv>()
  .post('/', async (c) => {
    // A declared length over the limit is refused before a byte is read; an undeclared one is counted as it streams.
    const declared = Number(c.req.header('content-length'));
    if (declared > maxUploadBodyBytes(c.env)) throw tooLarge(`file: request body is ${declared} bytes; a file may be at most ${maxFileBytes(c.env)} bytes`);
    return c.json(await upload(c));
  })
  .get('/', async (c) => {
    const q = parseQuery(c, FileListQuery);
    return c.json(unwrap(await workspace(c).listFiles({ limit: q.limit ?? 20, page: q.page, ids: q['ids[]'], scopeId: q.scope_id })));
  })
  .get('/:id', async (c) => c.json(unwrap(await workspace(c).getFile(c.req.param('id')))))
  .get('/:id/content', async (c) => {
    const file = unwrap(await workspace(c).readableFile(c.req.param('id')));
    const object = await c.env.FILES.get(objectKey(c, file.id));
    if (!object) throw notFound(`file '${file.id}' has no content`, 'file_not_found');
    return new Response(object.body, {
      headers: {
        'content-type': file.mime_type,
        'content-length': String(object.size),
        'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(file.filename)}`,
      },
    });
  })
  .delete('/:id', async (c) => {
    // Metadata first: a failure between the two leaves unreachable bytes, never a file whose bytes are gone.
    const deleted = unwrap(await workspace(c).deleteFile(c.req.param('id')));
    await c.env.FILES.delete(objectKey(c, deleted.id));
    return c.json(deleted);
  });

/**
 * Streams the `file` field into R2, then records its metadata. Any refusal (no or empty `file`, a second one, an
 * unknown field, a malformed body, a file over the limit) leaves nothing stored: bytes already written are removed.
 */
async function upload(c: Context<AppEnv>): Promise<FileMetadata> {
  const boundary = formBoundary(c.req.header('content-type'));
  const id = newId('file');
  const key = objectKey(c, id);
  let stored: { part: FormPart; size: number } | null = null;
  let expiresIn: number | null = null;
  try {
    for await (const part of formParts(c.req.raw.body, boundary)) {
      if (part.name === 'file') {
        if (stored) throw invalidRequest('file: sent more than once; upload one file per request');
        stored = { part, size: await putStream(c.env.FILES, key, part.body, maxFileBytes(c.env)) };
      } else if (part.name === 'expires_in_seconds') {
        const parsed = ExpiresInSeconds.safeParse(await fieldText(part));
        if (!parsed.success) throw invalidRequest(`expires_in_seconds: expected a whole number of seconds from 3600 to 7776000`);
        expiresIn = parsed.data;
      } else {
        throw invalidRequest(`unknown field '${part.name.slice(0, 64)}': an upload takes 'file' and optionally 'expires_in_seconds'`);
      }
    }
    if (!stored) throw invalidRequest("file: required field is missing (a multipart/form-data part named 'file')");
    if (stored.size === 0) throw invalidRequest('file: the file is empty; upload at least one byte');
    const mimeType = storedMimeType(stored.part.contentType, stored.part.filename ?? '');
    const filename = storedFilename(stored.part.filename, mimeType);
    if (filename.length > MAX_FILENAME) throw invalidRequest(`file: filename is at most ${MAX_FILENAME} characters, got ${filename.length}`);
    const now = new Date();
    const file: FileMetadata = {
      type: 'file',
      id,
      filename,
      mime_type: mimeType,
      size_bytes: stored.size,
      created_at: now.toISOString(),
      // Every uploaded file may be downloaded (docs/files.md); the field is for files the runtime may make itself.
      downloadable: true,
      expires_at: expiresIn === null ? null : new Date(now.getTime() + expiresIn * 1000).toISOString(),
      scope: null,
    };
    return unwrap(await workspace(c).createFile(file));
  } catch (err) {
    if (stored) await c.env.FILES.delete(key).catch((e: unknown) => console.error(`could not remove the bytes of refused upload ${id}`, e));
    throw err;
  }
}

async function fieldText(part: FormPart): Promise<string> {
  let text = '';
  const decoder = new TextDecoder();
  for await (const chunk of part.body) {
    text += decoder.decode(chunk, { stream: true });
    if (text.length > 64) throw invalidRequest(`${part.name.slice(0, 64)}: too long for a number`);
  }
  return text + decoder.decode();
}

/**
 * Writes `bytes` to R2 under `key` and answers their count. A file that fits one part is one put; a larger one an
 * R2 multipart upload of PART_BYTES parts, so memory holds one part at a time whatever the file's size. Past
 * `max` bytes the upload is abandoned with a 413 naming the field.
 */
async function putStream(bucket: R2Bucket, key: string, bytes: AsyncIterable<Uint8Array>, max: number): Promise<number> {
  let part = new Uint8Array(PART_BYTES);
  let filled = 0;
  let size = 0;
  let multipart: R2MultipartUpload | null = null;
  const uploaded: R2UploadedPart[] = [];
  try {
    for await (const chunk of bytes) {
      size += chunk.length;
      if (size > max) throw tooLarge(`file: larger than the limit of ${max} bytes`);
      let off = 0;
      while (off < chunk.length) {
        const n = Math.min(chunk.length - off, PART_BYTES - filled);
        part.set(chunk.subarray(off, off + n), filled);
        filled += n;
        off += n;
        if (filled === PART_BYTES) {
          multipart ??= await bucket.createMultipartUpload(key);
          uploaded.push(await multipart.uploadPart(uploaded.length + 1, part));
          part = new Uint8Array(PART_BYTES);
          filled = 0;
        }
      }
    }
    if (!multipart) {
      await bucket.put(key, part.subarray(0, filled));
      return size;
    }
    if (filled > 0) uploaded.push(await multipart.uploadPart(uploaded.length + 1, part.subarray(0, filled)));
    await multipart.complete(uploaded);
    return size;
  } catch (err) {
    await multipart?.abort().catch(() => undefined);
    throw err;
  }
}
