// What an egress proxy does to a response before a sandbox with credentials reads it: the status phrase and every
// header scrubbed, the content-coding undone (a compressed secret cannot be recognised) and the body scrubbed as it
// streams. Also what it asks upstreams for, so that it can undo what comes back. Pure over web streams: the local
// proxy (Node) and the Cloudflare outbound handler (Workers) share it.
import { type SecretForms, scrubbingStream, scrubLatin1 } from './secret-scrubber.ts';

/** Codings `DecompressionStream` undoes in Node and in Workers alike. */
export const WEB_DECODABLE: readonly string[] = ['gzip', 'x-gzip', 'deflate'];
/** Node's `DecompressionStream` also undoes brotli. */
export const NODE_DECODABLE: readonly string[] = [...WEB_DECODABLE, 'br'];

/**
 * Request headers that change what comes back in ways the scrubber cannot follow: a byte range of a response (a
 * secret fetched in two halves is in neither), and conditions that make a range request of a plain one.
 */
export const REQUEST_HEADERS_DROPPED: readonly string[] = ['range', 'if-range'];

/**
 * Why a WebSocket (or any other upgraded connection) is refused in a session with credentials, to every host: its
 * frames are masked, fragmented and, with permessage-deflate, compressed with a window that spans messages, so a
 * value is not reliably in the bytes as they pass; and a value stored through a credential's host can be served
 * back by any other.
 */
export function upgradeRefusal(protocol: string): string {
  return `an upgraded connection (${protocol}) is refused in a session with credentials, to every host: what comes back over it could not be scrubbed of the credentials' values reliably (WebSocket frames may be compressed by permessage-deflate across messages), and a value stored through one host can be served back by another`;
}

/**
 * Response headers the scrubbed body no longer matches: its length (replacements change it), its coding (undone)
 * and digests of the bytes as sent.
 */
const RESPONSE_HEADERS_DROPPED: ReadonlySet<string> = new Set(['content-length', 'content-encoding', 'content-md5', 'digest', 'content-digest']);

/**
 * The Accept-Encoding to send upstream for a client that sent `client`: its codings that can be undone here, with
 * their weights, or `identity` when none is left (an absent header would allow any coding).
 */
export function acceptEncodingFor(client: string | null | undefined, decodable: readonly string[]): string {
  const kept = (client ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => decodable.includes(item.split(';')[0]?.trim().toLowerCase() ?? ''));
  return kept.length > 0 ? kept.join(', ') : 'identity';
}

/** The codings a Content-Encoding header lists, in the order they were applied (`identity` dropped), lowercased. */
export function contentCodings(header: string | null | undefined): string[] {
  return (header ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
}

/** Why a body in these codings cannot be scrubbed, or undefined when every one can be undone. */
export function undecodableReason(codings: readonly string[], decodable: readonly string[]): string | undefined {
  const unknown = codings.filter((c) => !decodable.includes(c));
  if (unknown.length === 0) return undefined;
  return `the response is encoded as ${unknown.join(', ')}, which this proxy cannot decode, so it cannot be checked for credential values and was not delivered (the request asked only for ${decodable.join(', ')} or identity)`;
}

/**
 * The response headers the sandbox gets, as name/value pairs (repeated headers such as set-cookie kept apart): every
 * value scrubbed, minus the length, coding and digests the scrubbed body no longer matches. Values are as HTTP
 * carries them, one char per byte.
 */
export function scrubbedHeaders(headers: Iterable<readonly [string, string]>, forms: SecretForms): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [name, value] of headers) {
    if (RESPONSE_HEADERS_DROPPED.has(name.toLowerCase())) continue;
    out.push([scrubLatin1(name, forms), scrubLatin1(value, forms)]);
  }
  return out;
}

/** The body decoded from `codings` (in the order applied) and scrubbed, as it streams. */
export function scrubbedBody(body: ReadableStream<Uint8Array>, codings: readonly string[], forms: SecretForms): ReadableStream<Uint8Array> {
  let stream = body;
  for (const coding of [...codings].reverse()) stream = decoded(stream, coding);
  return stream.pipeThrough(scrubbingStream(forms));
}

/**
 * One coding undone. `deflate` is meant to be zlib-wrapped, but some servers send it raw: the first two bytes say
 * which. An empty body (a server that labels even nothing as compressed) stays empty.
 */
function decoded(body: ReadableStream<Uint8Array>, coding: string): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let head: Uint8Array = new Uint8Array(0);
  let inner: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!inner) {
        let done = false;
        while (head.length < 2 && !done) {
          const next = await reader.read();
          if (next.done) done = true;
          else head = concat(head, next.value);
        }
        if (head.length === 0) {
          controller.close();
          return;
        }
        const first = head;
        const rest = new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(first);
            if (done) c.close();
          },
          async pull(c) {
            const next = await reader.read();
            if (next.done) c.close();
            else c.enqueue(next.value);
          },
          cancel(reason) {
            return reader.cancel(reason);
          },
        });
        inner = rest.pipeThrough(new DecompressionStream(formatOf(coding, head))).getReader();
      }
      const next = await inner.read();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel(reason) {
      return inner ? inner.cancel(reason) : reader.cancel(reason);
    },
  });
}

type Format = ConstructorParameters<typeof DecompressionStream>[0];

function formatOf(coding: string, head: Uint8Array): Format {
  if (coding === 'gzip' || coding === 'x-gzip') return 'gzip';
  // a zlib header: compression method 8, window at most 32 KiB, and a check value the two bytes make divisible by 31
  if (coding === 'deflate') {
    const [cmf = 0, flg = 0] = head;
    return (cmf & 0x0f) === 8 && cmf >> 4 <= 7 && ((cmf << 8) | flg) % 31 === 0 ? 'deflate' : 'deflate-raw';
  }
  // Node's name for it; only NODE_DECODABLE lists br
  if (coding === 'br') return 'brotli' as Format;
  throw new Error(`no decoder for content-coding ${coding}`);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
