// The streaming multipart/form-data reader: parts come out whole and in order however the body is cut into
// chunks (a boundary split across two reads included), and a malformed body is a 400 naming what is wrong.
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../worker/api/errors.ts';
import { formBoundary, formParts } from '../../worker/api/multipart.ts';

function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(ctrl) {
      for (let off = 0; off < bytes.length; off += size) ctrl.enqueue(bytes.slice(off, off + size));
      ctrl.close();
    },
  });
}

async function read(body: ReadableStream<Uint8Array>, boundary: string) {
  const out: Array<{ name: string; filename: string | undefined; contentType: string | undefined; bytes: Uint8Array }> = [];
  for await (const part of formParts(body, boundary)) {
    const chunks: Uint8Array[] = [];
    for await (const c of part.body) chunks.push(c);
    out.push({ name: part.name, filename: part.filename, contentType: part.contentType, bytes: new Uint8Array(await new Blob(chunks).arrayBuffer()) });
  }
  return out;
}

describe('multipart reader', () => {
  it('reads every part whole, whatever the chunk size', async () => {
    // Bytes that look like line breaks and dashes, to tempt a delimiter match.
    const file = Uint8Array.from({ length: 3000 }, (_, i) => [13, 10, 45, 45][i % 4]! ^ (i % 7 === 0 ? 1 : 0));
    const form = new FormData();
    form.append('file', new File([file], 'a "quoted"; name.bin', { type: 'application/x-thing' }));
    form.append('expires_in_seconds', '3600');
    const res = new Response(form);
    const boundary = formBoundary(res.headers.get('content-type')!);
    const body = new Uint8Array(await res.arrayBuffer());
    for (const size of [1, 7, 64, 4096, body.length]) {
      const parts = await read(chunked(body, size), boundary);
      expect(parts.map((p) => [p.name, p.filename, p.contentType]), `chunks of ${size}`).toEqual([
        ['file', 'a "quoted"; name.bin', 'application/x-thing'],
        ['expires_in_seconds', undefined, undefined],
      ]);
      expect(Buffer.compare(parts[0]!.bytes, file), `chunks of ${size}`).toBe(0);
      expect(new TextDecoder().decode(parts[1]!.bytes)).toBe('3600');
    }
  });

  it('refuses a body cut inside a part, and one without an opening boundary, as 400s', async () => {
    const enc = new TextEncoder();
    for (const [text, why] of [
      ['--b\r\ncontent-disposition: form-data; name="file"\r\n\r\nabc', 'ends inside a part'],
      ['no boundary here', 'no opening boundary'],
      ['--b\r\ncontent-type: text/plain\r\n\r\nx\r\n--b--', 'no Content-Disposition name'],
    ] as const) {
      const err = await read(chunked(enc.encode(text), 5), 'b').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).status).toBe(400);
      expect((err as ApiError).message).toContain(why);
    }
  });

  it('takes only multipart/form-data with a boundary', () => {
    expect(formBoundary('multipart/form-data; boundary="abc def"')).toBe('abc def');
    expect(() => formBoundary('application/json')).toThrow(/^content-type: expected multipart\/form-data/);
    expect(() => formBoundary('multipart/form-data')).toThrow(/needs a boundary/);
  });
});
