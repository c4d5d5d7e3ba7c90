// A streaming reader of multipart/form-data bodies (RFC 7578): each part's headers, then its bytes as they
// arrive, so an upload of hundreds of MB passes through a Worker without ever being held whole in memory.
import { invalidRequest } from './errors.ts';

export interface FormPart {
  /** The part's field name (`Content-Disposition: form-data; name="…"`). */
  name: string;
  /** The part's `filename`, when it has one (a file field). */
  filename: string | undefined;
  contentType: string | undefined;
  /** The part's bytes, in order. Read it to its end (or abandon the whole body) before asking for the next part. */
  body: AsyncIterable<Uint8Array>;
}

const CRLF = new Uint8Array([13, 10]);
const MAX_HEADER_BYTES = 16 * 1024;
const encoder = new TextEncoder();

/** The boundary of a `multipart/form-data` Content-Type; a 400 naming the header when there is none. */
export function formBoundary(contentType: string | undefined): string {
  const type = contentType?.split(';')[0]!.trim().toLowerCase();
  if (type !== 'multipart/form-data')
    throw invalidRequest(`content-type: expected multipart/form-data with a 'file' field, got ${contentType ? `'${contentType.slice(0, 100)}'` : 'none'}`);
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType!);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary || boundary.length > 70) throw invalidRequest('content-type: multipart/form-data needs a boundary of 1 to 70 characters');
  return boundary;
}

/** The parts of `body`, one by one. A malformed body is a 400 when the reader reaches the fault. */
export async function* formParts(body: ReadableStream<Uint8Array> | null, boundary: string): AsyncGenerator<FormPart> {
  if (!body) throw invalidRequest('request body: expected multipart/form-data, got an empty body');
  const input = new Bytes(body.getReader());
  const dashBoundary = encoder.encode(`--${boundary}`);
  // The delimiter between parts starts on a new line; the first may open the body without one.
  const delimiter = encoder.encode(`\r\n--${boundary}`);
  if (!(await input.skipPast(dashBoundary, 64 * 1024))) throw malformed('no opening boundary');
  for (;;) {
    if (!(await input.ensure(2))) throw malformed('ends after a boundary');
    const after = input.take(2);
    if (after[0] === 45 && after[1] === 45) return; // `--`: the closing boundary
    if (after[0] !== CRLF[0] || after[1] !== CRLF[1]) throw malformed('a boundary is not followed by a line break');
    const headers = await input.headers();
    const disposition = headers.get('content-disposition') ?? '';
    const name = param(disposition, 'name');
    if (name === undefined) throw malformed('a part has no Content-Disposition name');
    let finished = false;
    const bytes = async function* (): AsyncGenerator<Uint8Array> {
      yield* input.until(delimiter);
      finished = true;
    };
    yield { name, filename: param(disposition, 'filename'), contentType: headers.get('content-type'), body: bytes() };
    // What the caller did not read of this part is skipped, so the next part starts at its boundary.
    if (!finished) for await (const _ of input.until(delimiter));
  }
}

function malformed(why: string) {
  return invalidRequest(`request body: malformed multipart/form-data (${why})`);
}

/**
 * A `name="value"` parameter of a header value. Quoted values may hold `;`; FormData (browsers, Node's fetch, so the
 * SDK) escapes `"`, CR and LF in them as `%22`, `%0D`, `%0A` (the HTML standard's encoding), other clients as `\"`.
 */
function param(header: string, key: string): string | undefined {
  const re = new RegExp(`(?:^|;)\\s*${key}=(?:"((?:[^"\\\\]|\\\\.)*)"|([^;]*))`, 'i');
  const m = re.exec(header);
  if (!m) return undefined;
  if (m[1] === undefined) return m[2]!.trim();
  return m[1].replace(/\\(.)/g, '$1').replace(/%(22|0D|0A)/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** A byte stream read on demand: the unread bytes of the last chunks, searched and taken from the front. */
class Bytes {
  private buf: Uint8Array = new Uint8Array(0);
  private done = false;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  constructor(reader: ReadableStreamDefaultReader<Uint8Array>) {
    this.reader = reader;
  }

  private async more(): Promise<boolean> {
    if (this.done) return false;
    const { value, done } = await this.reader.read();
    if (done) {
      this.done = true;
      return false;
    }
    if (this.buf.length === 0) {
      this.buf = value;
      return true;
    }
    const next = new Uint8Array(this.buf.length + value.length);
    next.set(this.buf);
    next.set(value, this.buf.length);
    this.buf = next;
    return true;
  }

  async ensure(n: number): Promise<boolean> {
    while (this.buf.length < n) if (!(await this.more())) return false;
    return true;
  }

  take(n: number): Uint8Array {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Drops everything up to and including `needle`, looking at most `within` bytes in; false if it is not there. */
  async skipPast(needle: Uint8Array, within: number): Promise<boolean> {
    for (;;) {
      const at = indexOf(this.buf, needle, 0);
      if (at >= 0) {
        this.take(at + needle.length);
        return true;
      }
      if (this.buf.length > within || !(await this.more())) return false;
    }
  }

  /** A part's header lines, up to the blank line; names lowercased. */
  async headers(): Promise<Map<string, string>> {
    const end = new Uint8Array([13, 10, 13, 10]);
    for (;;) {
      // A part with no headers at all starts with the blank line itself.
      if (this.buf.length >= 2 && this.buf[0] === 13 && this.buf[1] === 10) {
        this.take(2);
        return new Map();
      }
      const at = indexOf(this.buf, end, 0);
      if (at >= 0) {
        const text = new TextDecoder().decode(this.take(at));
        this.take(4);
        const out = new Map<string, string>();
        for (const line of text.split('\r\n')) {
          const colon = line.indexOf(':');
          if (colon > 0) out.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
        }
        return out;
      }
      if (this.buf.length > MAX_HEADER_BYTES) throw malformed(`a part's headers exceed ${MAX_HEADER_BYTES} bytes`);
      if (!(await this.more())) throw malformed("ends inside a part's headers");
    }
  }

  /** The bytes before `needle`, as they arrive; the needle itself is consumed. A body that ends first is malformed. */
  async *until(needle: Uint8Array): AsyncGenerator<Uint8Array> {
    for (;;) {
      const at = indexOf(this.buf, needle, 0);
      if (at >= 0) {
        if (at > 0) yield this.take(at);
        this.take(needle.length);
        return;
      }
      // Keep what could be the start of a needle split across chunks; hand on the rest.
      const safe = this.buf.length - (needle.length - 1);
      if (safe > 0) yield this.take(safe);
      if (!(await this.more())) throw malformed('ends inside a part');
    }
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0]!;
  const last = haystack.length - needle.length;
  for (let i = haystack.indexOf(first, from); i >= 0 && i <= last; i = haystack.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}
