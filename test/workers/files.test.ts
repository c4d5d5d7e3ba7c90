// The Files API through the official SDK and raw HTTP: uploads stream into R2 and come back byte-identical, lists
// page newest first, a deleted file is gone (metadata and content), another workspace's file does not exist, and
// a refused upload names the field and stores nothing.
import Anthropic, { NotFoundError } from '@anthropic-ai/sdk';
import { FileExpiredError, FileNotDownloadableError } from '@anthropic-ai/sdk/resources/files';
import { env, runInDurableObject, SELF } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FileMetadata } from '../../contract/file.ts';
import { newId } from '../../contract/ids.ts';
import { Files } from '../../resources/files/files.ts';
import { KEY, registerKey } from './api.ts';

const BASE = 'http://edgeharness.test';
const OTHER_KEY = 'test-key-files-other';
const sdk = (apiKey = KEY) => new Anthropic({ apiKey, baseURL: BASE, maxRetries: 0, fetch: (input, init) => SELF.fetch(input, init) });

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  // getRandomValues fills at most 65536 bytes per call.
  for (let off = 0; off < n; off += 65_536) crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65_536)));
  return out;
}

/** Every object the FILES bucket holds for a workspace. */
async function storedKeys(workspaceId: string): Promise<string[]> {
  return (await env.FILES.list({ prefix: `${workspaceId}/` })).objects.map((o) => o.key);
}

/** A raw upload: `parts` as multipart/form-data, through the Worker. */
async function postForm(form: FormData | BodyInit, headers: Record<string, string> = {}, key = KEY) {
  const res = await SELF.fetch(`${BASE}/v1/files`, { method: 'POST', body: form, headers: { 'x-api-key': key, ...headers } });
  return { status: res.status, body: (await res.json()) as any };
}

beforeAll(() => registerKey(OTHER_KEY, 'wrkspc_files_other'));

describe('files', () => {
  it('uploads a 5 MB random binary and downloads it byte-identical, with its metadata', async () => {
    const client = sdk();
    const bytes = randomBytes(5 * 1024 * 1024);
    const meta = await client.beta.files.upload({ file: new File([bytes], 'dir/blob.bin', { type: 'application/octet-stream' }) });
    expect(meta).toMatchObject({ type: 'file', filename: 'blob.bin', mime_type: 'application/octet-stream', size_bytes: bytes.length, downloadable: true, expires_at: null, scope: null });
    expect(meta.id).toMatch(/^file_[0-9A-Za-z]{24}$/);
    expect(await client.beta.files.retrieveMetadata(meta.id)).toEqual(meta);
    const res = await client.beta.files.download(meta.id);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    const back = new Uint8Array(await res.arrayBuffer());
    expect(back.length).toBe(bytes.length);
    expect(Buffer.compare(back, bytes)).toBe(0);
  });

  it('uploads a file of several R2 parts and downloads it byte-identical', async () => {
    const client = sdk();
    // Past one 5 MiB part, under the test configuration's 8 MB limit: an R2 multipart upload of two parts.
    const bytes = randomBytes(7_900_000);
    const meta = await client.beta.files.upload({ file: new File([bytes], 'parts.bin') });
    expect(meta.size_bytes).toBe(bytes.length);
    const back = new Uint8Array(await (await client.beta.files.download(meta.id)).arrayBuffer());
    expect(Buffer.compare(back, bytes)).toBe(0);
  });

  it('keeps the type the part declares, and downloads with it', async () => {
    const client = sdk();
    const meta = await client.beta.files.upload({ file: new File(['hello, files'], 'notes.txt', { type: 'text/plain' }) });
    expect(meta).toMatchObject({ filename: 'notes.txt', mime_type: 'text/plain', size_bytes: 12 });
    const res = await client.beta.files.download(meta.id);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(await res.text()).toBe('hello, files');
  });

  it('stores expires_at from expires_in_seconds', async () => {
    const form = new FormData();
    form.append('file', new File(['x'], 'x.txt', { type: 'text/plain' }));
    form.append('expires_in_seconds', '3600');
    const r = await postForm(form);
    expect(r.status).toBe(200);
    expect(Date.parse(r.body.expires_at) - Date.parse(r.body.created_at)).toBe(3_600_000);
  });

  it('lists with limit=1 page by page through every file, newest first', async () => {
    const client = sdk(OTHER_KEY);
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push((await client.beta.files.upload({ file: new File([`file ${i}`], `f${i}.txt`) })).id);
    const seen: string[] = [];
    for await (const page of (await client.beta.files.list({ limit: 1 })).iterPages()) {
      expect(page.data).toHaveLength(1);
      seen.push(page.data[0]!.id);
    }
    // Newest first; the workspace may hold files of other tests, all older.
    expect(seen.slice(0, 3)).toEqual([...made].reverse());
  });

  it('lists by ids in one page, leaving out ids it does not know', async () => {
    const client = sdk();
    const a = await client.beta.files.upload({ file: new File(['a'], 'a.txt') });
    const b = await client.beta.files.upload({ file: new File(['b'], 'b.txt') });
    const page = await client.beta.files.list({ ids: [a.id, b.id, 'file_unknown'] });
    expect(page.data.map((f) => f.id)).toEqual([b.id, a.id]);
    const both = await SELF.fetch(`${BASE}/v1/files?ids[]=${a.id}&limit=2`, { headers: { 'x-api-key': KEY } });
    expect(both.status).toBe(400);
    expect(((await both.json()) as any).error.message).toMatch(/^ids: cannot be combined with page or limit/);
  });

  it('deletes: the SDK gets file_deleted, and metadata and content are then not found', async () => {
    const client = sdk();
    const meta = await client.beta.files.upload({ file: new File(['to delete'], 'gone.txt') });
    expect(await storedKeys('wrkspc_default')).toContain(`wrkspc_default/${meta.id}`);
    expect(await client.beta.files.delete(meta.id)).toEqual({ id: meta.id, type: 'file_deleted' });
    expect(await storedKeys('wrkspc_default')).not.toContain(`wrkspc_default/${meta.id}`);
    await expect(client.beta.files.retrieveMetadata(meta.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.beta.files.download(meta.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.beta.files.delete(meta.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("answers another workspace's file with 404 everywhere, and leaves it as it was", async () => {
    const mine = await sdk().beta.files.upload({ file: new File(['private'], 'private.txt') });
    const other = sdk(OTHER_KEY);
    await expect(other.beta.files.retrieveMetadata(mine.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.beta.files.download(mine.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.beta.files.delete(mine.id)).rejects.toBeInstanceOf(NotFoundError);
    const listed: string[] = [];
    for await (const f of other.beta.files.list()) listed.push(f.id);
    expect(listed).not.toContain(mine.id);
    expect(await (await sdk().beta.files.download(mine.id)).text()).toBe('private');
  });

  it("refuses the content of a file not downloadable, or expired, with the official errors the SDK knows", async () => {
    const client = sdk();
    const meta = await client.beta.files.upload({ file: new File(['bytes'], 'x.txt') });
    // No route makes such files yet: the rows are written as the store would write them.
    const stub = env.WORKSPACE.get(env.WORKSPACE.idFromName('wrkspc_default'));
    const stored = meta as FileMetadata;
    const hidden: FileMetadata = { ...stored, id: newId('file'), downloadable: false };
    const expired: FileMetadata = { ...stored, id: newId('file'), expires_at: new Date(Date.now() - 1000).toISOString() };
    await runInDurableObject(stub, (_obj, state) => {
      const files = new Files(state.storage);
      files.create(hidden);
      files.create(expired);
    });
    const notDownloadable = await client.beta.files.download(hidden.id).catch((e: unknown) => e);
    expect(notDownloadable).toBeInstanceOf(FileNotDownloadableError);
    expect(notDownloadable).toMatchObject({ status: 400 });
    const gone = await client.beta.files.download(expired.id).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(FileExpiredError);
    expect(gone).toMatchObject({ status: 404 });
    expect(await client.beta.files.retrieveMetadata(expired.id)).toEqual(expired);
  });

  describe('refuses bad uploads, naming the field, and stores nothing', () => {
    const refusals: Array<[string, () => Promise<{ status: number; body: any }>, number, RegExp]> = [
      ['no file field', () => postForm(formWith('note', 'no file here')), 400, /^unknown field 'note'/],
      ['an empty form', () => postForm(new FormData()), 400, /^file: required field is missing/],
      ['an empty file', () => postForm(formWith('file', new File([], 'empty.txt'))), 400, /^file: the file is empty/],
      ['two files', () => postForm(twoFiles()), 400, /^file: sent more than once/],
      ['a JSON body', () => postForm(JSON.stringify({ file: 'x' }), { 'content-type': 'application/json' }), 400, /^content-type: expected multipart\/form-data/],
      ['a bad expires_in_seconds', () => postForm(withExpiry('60')), 400, /^expires_in_seconds: /],
      ['a body cut short', () => postForm('--b\r\ncontent-disposition: form-data; name="file"; filename="x"\r\n\r\nabc', { 'content-type': 'multipart/form-data; boundary=b' }), 400, /malformed multipart/],
    ];
    for (const [what, send, status, message] of refusals) {
      it(what, async () => {
        const before = await storedKeys('wrkspc_default');
        const r = await send();
        expect(r.status, JSON.stringify(r.body)).toBe(status);
        expect(r.body.type).toBe('error');
        expect(r.body.error.message).toMatch(message);
        expect(await storedKeys('wrkspc_default')).toEqual(before);
      });
    }

    it('a file over the limit, declared or streamed, with 413 in the official envelope', async () => {
      const before = await storedKeys('wrkspc_default');
      // The test configuration lowers the limit to 8 MB (vitest.config.ts).
      const declared = await postForm(formWith('file', new File([randomBytes(9_000_000)], 'big.bin')));
      expect(declared.status).toBe(413);
      expect(declared.body.error).toMatchObject({ type: 'request_too_large' });
      expect(declared.body.error.message).toMatch(/^file: /);
      // No Content-Length: the route counts the file's bytes as they stream, past a part already in R2.
      const body = await new Response(formWith('file', new File([randomBytes(12_000_000)], 'big.bin'))).arrayBuffer();
      const streamed = await SELF.fetch(`${BASE}/v1/files`, {
        method: 'POST',
        headers: { 'x-api-key': KEY, 'content-type': `multipart/form-data; boundary=${sniffBoundary(new Uint8Array(body))}` },
        body: new ReadableStream({
          start(ctrl) {
            for (let off = 0; off < body.byteLength; off += 1 << 20) ctrl.enqueue(new Uint8Array(body.slice(off, off + (1 << 20))));
            ctrl.close();
          },
        }),
      });
      expect(streamed.status).toBe(413);
      expect(((await streamed.json()) as any).error).toMatchObject({ type: 'request_too_large', message: 'file: larger than the limit of 8000000 bytes' });
      expect(await storedKeys('wrkspc_default')).toEqual(before);
    });

    it('an unknown id, on every route', async () => {
      const client = sdk();
      await expect(client.beta.files.retrieveMetadata('file_nope')).rejects.toBeInstanceOf(NotFoundError);
      await expect(client.beta.files.download('file_nope')).rejects.toBeInstanceOf(NotFoundError);
      await expect(client.beta.files.delete('file_nope')).rejects.toMatchObject({ status: 404, errorCode: 'file_not_found' });
    });
  });
});

function formWith(name: string, value: string | Blob): FormData {
  const form = new FormData();
  form.append(name, value);
  return form;
}

function twoFiles(): FormData {
  const form = formWith('file', new File(['one'], 'one.txt'));
  form.append('file', new File(['two'], 'two.txt'));
  return form;
}

function withExpiry(seconds: string): FormData {
  const form = formWith('file', new File(['x'], 'x.txt'));
  form.append('expires_in_seconds', seconds);
  return form;
}

/** The boundary a serialised form opens with (`--<boundary>\r\n`). */
function sniffBoundary(body: Uint8Array): string {
  const head = new TextDecoder().decode(body.subarray(0, 200));
  return /^--([^\r\n]+)\r\n/.exec(head)![1]!;
}
