// Finds a secret in the spellings an upstream may echo it in and puts its placeholder there instead: over a stream
// of bytes (keeping back only the tail a spelling could straddle, so a streamed response still streams) or over one
// text. Pure (no I/O); the local proxy, the Cloudflare outbound handler and the redaction of results share it.
import { Buffer } from 'node:buffer';

/** A secret and what replaces it. `SandboxCredential` is one. */
export interface Secret {
  value: string;
  placeholder: string;
}

/**
 * Below this many characters a spelling is too likely to occur by chance in unrelated bytes to be worth replacing;
 * a value shorter than this is not scrubbed at all.
 */
const MIN_FORM = 4;

/** One spelling of one secret, searched as a literal. */
interface Form {
  /** In latin1 (one char per byte); lowercased when `caseless`. */
  needle: string;
  /** Matched ignoring case: the haystack is lowercased for it. Base64 forms are not: their case is their content. */
  caseless: boolean;
  secret: number;
  /**
   * Base64 only: the spellings of the character just before (`lead`) or after (`trail`) the needle, which holds a
   * few bits of the secret beside bits of its neighbours. Swallowed with the match when present.
   */
  lead?: readonly string[];
  trail?: readonly string[];
}

interface Match {
  start: number;
  end: number;
  secret: number;
  /** The match could still grow with bytes not yet seen (the base64 characters after it): a stream waits. */
  open: boolean;
}

/**
 * The spellings of every secret, ready to search for. The forms of each value:
 * - ignoring case (which covers upper-cased text and either case of hex digits): the value itself (also upper- and
 *   lower-cased as Unicode has it, for letters beyond ASCII), reversed,
 *   percent-encoded (as `encodeURIComponent` does, and every byte), as a form field (`+` for space), as a JSON or
 *   JavaScript string body (with `\/`, and with non-ASCII as `\uXXXX`, as Python writes it), HTML-escaped, and its
 *   UTF-8 bytes in hex;
 * - exactly: base64 and base64url, at each of the three alignments the value can have inside a longer base64 text
 *   (a Basic auth header `user:secret` echoed back), with or without padding, and with `+` and `/`
 *   percent-encoded or `/` escaped as in JSON. The characters at either end that mix the secret's bits with its
 *   neighbours' go with it.
 */
export class SecretForms {
  readonly forms: readonly Form[];
  readonly placeholders: readonly Uint8Array[];
  /** The longest any match can be. */
  readonly longest: number;
  readonly caseless: boolean;
  /** Each form's beginnings (lead, then needle), for telling whether a stream's last bytes may begin a match. */
  private readonly starts: ReadonlyArray<{ text: string; caseless: boolean }>;
  private readonly firstChars: ReadonlySet<string>;
  private readonly longestStart: number;

  constructor(secrets: readonly Secret[]) {
    const forms: Form[] = [];
    const seen = new Set<string>();
    const add = (form: Form): void => {
      const key = `${form.secret}\0${form.caseless}\0${form.needle}\0${form.lead?.join()}\0${form.trail?.join()}`;
      if (form.needle.length >= MIN_FORM && !seen.has(key)) {
        seen.add(key);
        forms.push(form);
      }
    };
    secrets.forEach((secret, index) => {
      const bytes = utf8(secret.value);
      if (secret.value.length < MIN_FORM || bytes.length < MIN_FORM) return;
      for (const text of textSpellings(secret.value)) add({ needle: latin1(utf8(text)).toLowerCase(), caseless: true, secret: index });
      add({ needle: Buffer.from(bytes).toString('hex'), caseless: true, secret: index });
      for (const form of base64Forms(bytes)) add({ ...form, secret: index });
    });
    this.forms = forms;
    this.placeholders = secrets.map((s) => utf8(s.placeholder));
    this.caseless = forms.some((f) => f.caseless);
    this.longest = Math.max(0, ...forms.map((f) => f.needle.length + spellingMax(f.lead) + spellingMax(f.trail) + (f.trail ? PADDING_MAX : 0)));
    this.starts = forms.flatMap((f) => (f.lead ? f.lead.map((l) => l + f.needle) : [f.needle]).map((text) => ({ text, caseless: f.caseless })));
    this.firstChars = new Set(this.starts.map((s) => s.text[0] as string));
    this.longestStart = Math.max(0, ...this.starts.map((s) => s.text.length));
  }

  /**
   * The matches in `text` (latin1; `lower` is it lowercased), leftmost first and not overlapping (at one start the
   * longest wins).
   */
  find(text: string, lower = this.caseless ? text.toLowerCase() : text): Match[] {
    if (this.forms.length === 0) return [];
    const found: Match[] = [];
    for (const form of this.forms) {
      const haystack = form.caseless ? lower : text;
      for (let at = haystack.indexOf(form.needle); at !== -1; at = haystack.indexOf(form.needle, at + 1)) {
        let start = at;
        let end = at + form.needle.length;
        const open = form.trail !== undefined && end + spellingMax(form.trail) + PADDING_MAX > text.length;
        if (form.lead) start -= spellingBefore(text, start, form.lead);
        if (form.trail) {
          const trail = spellingAfter(text, end, form.trail);
          // the padding after the last character belongs to the same token; without the trail there is none
          end += trail > 0 ? trail + paddingAfter(text, end + trail) : 0;
        }
        found.push({ start, end, secret: form.secret, open });
      }
    }
    found.sort((a, b) => a.start - b.start || b.end - a.end);
    const chosen: Match[] = [];
    let reached = 0;
    for (const m of found) {
      if (m.start < reached) continue;
      chosen.push(m);
      reached = m.end;
    }
    return chosen;
  }

  /**
   * Where a stream must hold `text` back from: the first position whose bytes to the end could be the beginning of
   * a spelling not yet complete. `text.length` when the end of `text` cannot begin one: then everything may go.
   */
  heldFrom(text: string, lower: string): number {
    for (let at = Math.max(0, text.length - this.longestStart + 1); at < text.length; at++) {
      if (!this.firstChars.has(text[at] as string) && !this.firstChars.has(lower[at] as string)) continue;
      const rest = text.slice(at);
      const restLower = lower.slice(at);
      if (this.starts.some((s) => s.text.length > rest.length && s.text.startsWith(s.caseless ? restLower : rest))) return at;
    }
    return text.length;
  }
}

/**
 * Scrubs a stream of bytes: `push` each chunk and send what it returns; `end` returns the rest. Only bytes that may
 * begin a spelling not yet complete are held back, so a stream of small events (server-sent events) still flows.
 * For a peer that waits for those bytes (an interactive protocol), `release` lets a few go early.
 */
export class SecretScrubber {
  private readonly forms: SecretForms;
  /** Held back: not sent yet. */
  private pending: Uint8Array = new Uint8Array(0);
  /**
   * Sent early by `release` (fewer than MIN_FORM bytes) and still able to begin a spelling: kept as the start of the
   * text searched, so a spelling they turn out to begin is still replaced, from where they end.
   */
  private released: Uint8Array = new Uint8Array(0);
  /** How many spellings were replaced so far. */
  replaced = 0;

  constructor(secrets: readonly Secret[] | SecretForms) {
    this.forms = secrets instanceof SecretForms ? secrets : new SecretForms(secrets);
  }

  /** How many bytes are held back, waiting for what follows them. */
  get holding(): number {
    return this.pending.length;
  }

  push(chunk: Uint8Array): Uint8Array {
    if (this.forms.forms.length === 0) return chunk;
    if (this.pending.length === 0 && this.released.length === 0) return this.scrub(chunk, 0, false);
    return this.scrub(concat([this.released, this.pending, chunk]), this.released.length, false);
  }

  end(): Uint8Array {
    return this.scrub(concat([this.released, this.pending]), this.released.length, true);
  }

  /**
   * The held bytes, for a peer that waits for them before it sends more, when they are fewer than MIN_FORM (with
   * any released before and still pending a verdict); otherwise nothing, and they stay held. What is let go is at
   * most what a value shorter than MIN_FORM would give away anyway, and the rest of a spelling it begins is still
   * replaced when it comes. (Letting longer holds go would hand over most of a spelling split by a pause.)
   */
  release(): Uint8Array {
    if (this.pending.length === 0 || this.released.length + this.pending.length >= MIN_FORM) return new Uint8Array(0);
    const out = this.pending;
    this.released = concat([this.released, this.pending]);
    this.pending = new Uint8Array(0);
    return out;
  }

  /**
   * Replaces what is settled in `data`, of which the first `sent` bytes went out already (released early): the
   * output starts after them, and a spelling they begin is replaced from there on. Keeps back what is not settled.
   */
  private scrub(data: Uint8Array, sent: number, final: boolean): Uint8Array {
    const text = latin1(data);
    const lower = this.forms.caseless ? text.toLowerCase() : text;
    const found = this.forms.find(text, lower);
    let cut = final ? data.length : this.forms.heldFrom(text, lower);
    const settled: Match[] = [];
    for (const m of found) {
      if (m.start >= cut) break;
      if (m.open && !final) {
        cut = m.start;
        break;
      }
      settled.push(m);
    }
    const consumed = Math.max(cut, settled.at(-1)?.end ?? 0, sent);
    // copies (`new Uint8Array(view)`; a Buffer's `slice` is a view): the caller may reuse its chunk, and the held
    // bytes must not pin the whole chunk they were cut from
    this.released = consumed === sent && cut < sent ? new Uint8Array(data.subarray(cut, sent)) : new Uint8Array(0);
    this.pending = new Uint8Array(data.subarray(consumed));
    if (settled.length === 0) return data.subarray(sent, consumed);
    this.replaced += settled.length;
    const parts: Uint8Array[] = [];
    let at = sent;
    for (const m of settled) {
      parts.push(data.subarray(at, Math.max(at, m.start)), this.forms.placeholders[m.secret] as Uint8Array);
      at = m.end;
    }
    parts.push(data.subarray(at, consumed));
    return concat(parts);
  }
}

/** A `TransformStream` that scrubs the bytes passing through it (Node and Workers alike). */
export function scrubbingStream(secrets: readonly Secret[] | SecretForms): TransformStream<Uint8Array, Uint8Array> {
  const scrubber = new SecretScrubber(secrets);
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      const out = scrubber.push(chunk);
      if (out.length > 0) controller.enqueue(out);
    },
    flush(controller) {
      const out = scrubber.end();
      if (out.length > 0) controller.enqueue(out);
    },
  });
}

/** `bytes` with every spelling of every secret replaced. */
export function scrubBytes(bytes: Uint8Array, secrets: readonly Secret[] | SecretForms): Uint8Array {
  const scrubber = new SecretScrubber(secrets);
  const head = scrubber.push(bytes);
  const rest = scrubber.end();
  return rest.length === 0 ? head : concat([head, rest]);
}

/** `text` (any Unicode, searched as its UTF-8 bytes) with every spelling of every secret replaced. */
export function scrubText(text: string, secrets: readonly Secret[] | SecretForms): string {
  const forms = secrets instanceof SecretForms ? secrets : new SecretForms(secrets);
  if (forms.forms.length === 0 || text.length === 0) return text;
  const bytes = Buffer.from(text, 'utf8');
  return forms.find(bytes.toString('latin1')).length === 0 ? text : Buffer.from(scrubBytes(bytes, forms)).toString('utf8');
}

/**
 * A header value or status phrase as HTTP carries it (one char per byte, as Node and `Headers` give them) with
 * every spelling replaced.
 */
export function scrubLatin1(value: string, secrets: readonly Secret[] | SecretForms): string {
  const forms = secrets instanceof SecretForms ? secrets : new SecretForms(secrets);
  const matches = forms.find(value);
  if (matches.length === 0) return value;
  let out = '';
  let at = 0;
  for (const m of matches) {
    out += value.slice(at, m.start) + latin1(forms.placeholders[m.secret] as Uint8Array);
    at = m.end;
  }
  return out + value.slice(at);
}

// --- the spellings ---------------------------------------------------------------------------------------------

/**
 * The text spellings of a value, searched ignoring case (which the search does for ASCII letters only: the value
 * upper- and lower-cased as a whole covers the rest).
 */
function textSpellings(value: string): string[] {
  const out = [value, value.toUpperCase(), value.toLowerCase()].flatMap((v) => [v, [...v].reverse().join('')]);
  let uri: string | undefined;
  try {
    uri = encodeURIComponent(value);
  } catch {
    // a lone surrogate cannot be percent-encoded
  }
  if (uri !== undefined) out.push(uri, uri.replaceAll('%20', '+'));
  out.push([...utf8(value)].map((b) => `%${hex2(b)}`).join(''));
  const json = JSON.stringify(value).slice(1, -1);
  const asciiJson = json.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  for (const j of [json, asciiJson]) out.push(j, j.replaceAll('/', '\\/'));
  const html: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  out.push(value.replace(/[&<>"']/g, (c) => html[c] as string), value.replace(/[&<>"']/g, (c) => `&#x${c.charCodeAt(0).toString(16)};`));
  return out;
}

const ALPHABETS = [
  'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/',
  'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
] as const;
const PADDING_MAX = 2 * 3; // `==`, or `%3D%3D`

/**
 * Base64 spellings of `bytes` at alignments 0, 1 and 2 (how many bytes of something else precede them in their
 * 3-byte group). Each is the run of characters made of the secret's bits only, plus the spellings of the partial
 * character on either side, which mixes the secret's bits with unknown ones.
 */
function base64Forms(bytes: Uint8Array): Array<Omit<Form, 'secret'>> {
  const forms: Array<Omit<Form, 'secret'>> = [];
  for (const alphabet of ALPHABETS) {
    for (let align = 0; align < 3; align++) {
      // the bits of the group-aligned text: `align` unknown bytes, then the secret
      const known = (bit: number): number | undefined => {
        const i = bit - align * 8;
        if (i < 0 || i >= bytes.length * 8) return undefined;
        return ((bytes[i >> 3] as number) >> (7 - (i & 7))) & 1;
      };
      const chars = Math.ceil(((align + bytes.length) * 8) / 6);
      let core = '';
      let lead: string[] | undefined;
      let trail: string[] | undefined;
      for (let c = 0; c < chars; c++) {
        const bits = [0, 1, 2, 3, 4, 5].map((j) => known(c * 6 + j));
        if (bits.every((b) => b === undefined)) continue;
        const candidates = Array.from({ length: 64 }, (_, v) => v).filter((v) => bits.every((b, j) => b === undefined || b === ((v >> (5 - j)) & 1)));
        const spelled = candidates.flatMap((v) => charSpellings(alphabet[v] as string));
        if (candidates.length === 1) core += alphabet[candidates[0] as number];
        else if (core === '') lead = spelled;
        else trail = spelled;
      }
      for (const needle of coreSpellings(core, alphabet)) forms.push({ needle, caseless: false, ...(lead ? { lead } : {}), ...(trail ? { trail } : {}) });
    }
  }
  return forms;
}

/** A base64 character as it may appear: itself, and `+` and `/` percent-encoded (either case) or `/` JSON-escaped. */
function charSpellings(c: string): string[] {
  if (c === '+') return ['+', '%2B', '%2b'];
  if (c === '/') return ['/', '%2F', '%2f', '\\/'];
  return [c];
}

/** The core as is, and with `+` and `/` spelled each other way (one way throughout: an encoder is consistent). */
function coreSpellings(core: string, alphabet: string): string[] {
  if (!alphabet.includes('+') || !/[+/]/.test(core)) return [core];
  return [
    core,
    core.replaceAll('+', '%2B').replaceAll('/', '%2F'),
    core.replaceAll('+', '%2b').replaceAll('/', '%2f'),
    core.replaceAll('/', '\\/'),
  ];
}

function spellingMax(spellings: readonly string[] | undefined): number {
  return spellings ? Math.max(...spellings.map((s) => s.length)) : 0;
}

/** The length of the longest of `spellings` that ends at `end` in `text`, or 0. */
function spellingBefore(text: string, end: number, spellings: readonly string[]): number {
  let best = 0;
  for (const s of spellings) if (s.length > best && end - s.length >= 0 && text.startsWith(s, end - s.length)) best = s.length;
  return best;
}

/** The length of the longest of `spellings` that starts at `start` in `text`, or 0. */
function spellingAfter(text: string, start: number, spellings: readonly string[]): number {
  let best = 0;
  for (const s of spellings) if (s.length > best && text.startsWith(s, start)) best = s.length;
  return best;
}

/** The length of the base64 padding (`=`, `==`, percent-encoded or not) at `start`. */
function paddingAfter(text: string, start: number): number {
  let at = start;
  for (let n = 0; n < 2; n++) {
    if (text[at] === '=') at += 1;
    else if (/^%3d$/i.test(text.slice(at, at + 3))) at += 3;
    else break;
  }
  return at - start;
}

// --- bytes ------------------------------------------------------------------------------------------------------

function utf8(text: string): Uint8Array {
  return Buffer.from(text, 'utf8');
}

/** One char per byte: indices in the string are offsets in the bytes. */
function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

function hex2(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
