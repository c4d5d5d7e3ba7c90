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
  readonly caseless: boolean;
  /**
   * Each form's beginnings (one lead spelling, then the needle), by their first character, for telling whether a
   * stream's last bytes may begin a match: a position is checked only against the beginnings it could start.
   */
  private readonly startsByFirst: ReadonlyMap<string, readonly Start[]>;

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
    // lead and needle kept apart: joined, each of a long value's up to 16 lead spellings would copy its needle
    const starts: Start[] = forms.flatMap((f) => (f.lead ?? ['']).map((lead) => ({ lead, needle: f.needle, caseless: f.caseless, length: lead.length + f.needle.length })));
    const byFirst = new Map<string, Start[]>();
    for (const start of starts) {
      const first = (start.lead || start.needle)[0] as string;
      byFirst.set(first, [...(byFirst.get(first) ?? []), start]);
    }
    this.startsByFirst = byFirst;
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
    // Far from the end, where the rest is at least PROBE characters past any lead, a form can begin only where
    // its needle's first PROBE characters are: found by indexOf (native, fast) rather than position by position.
    const near = Math.max(0, text.length - PROBE - MAX_LEAD);
    let best = near;
    for (const form of this.forms) {
      if (form.needle.length <= PROBE) continue;
      const haystack = form.caseless ? lower : text;
      const probe = form.needle.slice(0, PROBE);
      const leadMax = spellingMax(form.lead);
      const first = text.length - form.needle.length - leadMax + 1; // from q on, the rest is shorter than the needle
      for (let q = haystack.indexOf(probe, Math.max(0, first)); q !== -1 && q - leadMax < best && q <= text.length - PROBE; q = haystack.indexOf(probe, q + 1)) {
        const rest = haystack.slice(q);
        if (rest.length >= form.needle.length || !form.needle.startsWith(rest)) continue;
        // a form with a lead begins with one of its spellings; a later q may still begin earlier (a longer lead)
        const at = form.lead ? q - spellingBefore(text, q, form.lead) : q;
        if ((at < q || !form.lead) && at < best) best = at;
      }
    }
    if (best < near) return best;
    for (let at = near; at < text.length; at++) {
      const exact = this.startsByFirst.get(text[at] as string);
      const folded = lower[at] === text[at] ? undefined : this.startsByFirst.get(lower[at] as string);
      if (!exact && !folded) continue;
      const rest = text.slice(at);
      const restLower = lower.slice(at);
      const begins = (s: Start): boolean => s.length > rest.length && beginsWith(s, s.caseless ? restLower : rest);
      if (exact?.some(begins) || folded?.some(begins)) return at;
    }
    return text.length;
  }
}

/** One way a form can begin: one spelling of its lead character (or none), then its needle. */
interface Start {
  lead: string;
  needle: string;
  caseless: boolean;
  length: number;
}

/** Whether `text` is the beginning of `start` (lead, then needle), without joining the two. */
function beginsWith(start: Start, text: string): boolean {
  const n = start.lead.length;
  if (text.length <= n) return start.lead.startsWith(text);
  return text.startsWith(start.lead) && start.needle.startsWith(text.slice(n));
}

/** Built spellings by credential set, most recently used last; bounded by the size of what they hold. */
const built = new Map<string, { forms: SecretForms; weight: number }>();
/** About how many characters of spellings the cache keeps (a 64 KB value has some 2 M): a few MB at most. */
const CACHE_WEIGHT = 8 << 20;
let cachedWeight = 0;

/**
 * The spellings of `secrets`, built once per set of values and reused: every request of a session (Cloudflare) and
 * every tool result (the brain, the hands) brings the same credentials as fresh objects, and building the spellings
 * of a large value takes milliseconds. Keyed by the placeholders and values themselves, compared exactly (the cache
 * holds their spellings, hence the values, either way), so a rotated value is a new entry and a stale one is never
 * used. Least recently used sets go first once the cache outgrows `CACHE_WEIGHT`.
 */
export function formsFor(secrets: readonly Secret[]): SecretForms {
  const key = secrets.map((s) => `${s.placeholder.length}:${s.placeholder}${s.value.length}:${s.value}`).join('');
  const hit = built.get(key);
  if (hit) {
    built.delete(key);
    built.set(key, hit);
    return hit.forms;
  }
  const forms = new SecretForms(secrets);
  const weight = key.length + forms.forms.reduce((sum, f) => sum + f.needle.length, 0);
  if (weight > CACHE_WEIGHT) return forms;
  built.set(key, { forms, weight });
  cachedWeight += weight;
  for (const [oldest, entry] of built) {
    if (cachedWeight <= CACHE_WEIGHT) break;
    built.delete(oldest);
    cachedWeight -= entry.weight;
  }
  return forms;
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
    this.forms = secrets instanceof SecretForms ? secrets : formsFor(secrets);
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
  const forms = secrets instanceof SecretForms ? secrets : formsFor(secrets);
  if (forms.forms.length === 0 || text.length === 0) return text;
  const bytes = Buffer.from(text, 'utf8');
  return forms.find(bytes.toString('latin1')).length === 0 ? text : Buffer.from(scrubBytes(bytes, forms)).toString('utf8');
}

/**
 * A header value or status phrase as HTTP carries it (one char per byte, as Node and `Headers` give them) with
 * every spelling replaced.
 */
export function scrubLatin1(value: string, secrets: readonly Secret[] | SecretForms): string {
  const forms = secrets instanceof SecretForms ? secrets : formsFor(secrets);
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
/** The longest spelling of a lead character (`%2B`, `%2F`). */
const MAX_LEAD = 3;
/** How much of a needle `heldFrom` searches for, far from the end of a text. */
const PROBE = 8;

/**
 * Base64 spellings of `bytes` at alignments 0, 1 and 2 (how many bytes of something else precede them in their
 * 3-byte group). Each is the run of characters made of the secret's bits only, plus the spellings of the partial
 * character on either side, which mixes the secret's bits with unknown ones. The run is read straight off an
 * encoding of the bytes behind `align` zero bytes (only its two edge characters depend on what surrounds them), so
 * building is linear in the value's length, which may be the vault's 64 KB.
 */
function base64Forms(bytes: Uint8Array): Array<Omit<Form, 'secret'>> {
  const forms: Array<Omit<Form, 'secret'>> = [];
  const aligned = [0, 1, 2].map((align) => {
    const first = Math.ceil((align * 8) / 6); // the first character of the secret's bits only
    const end = Math.floor(((align + bytes.length) * 8) / 6); // one past the last
    const core = Buffer.concat([Buffer.alloc(align), bytes]).toString('base64').slice(first, end);
    // the edge characters: how many of their low (lead) or high (trail) bits are the secret's, and those bits
    const leadBits = (first * 6 - align * 8) % 6;
    const trailBits = ((align + bytes.length) * 8) % 6;
    const lead = leadBits === 0 ? undefined : partialValues(leadBits, ((bytes[0] as number) >> (8 - leadBits)) & ((1 << leadBits) - 1), 'low');
    const trail = trailBits === 0 ? undefined : partialValues(trailBits, (bytes[bytes.length - 1] as number) & ((1 << trailBits) - 1), 'high');
    return { core, lead, trail };
  });
  for (const alphabet of ALPHABETS) {
    for (const { core, lead, trail } of aligned) {
      const spelledCore = alphabet === ALPHABETS[0] ? core : core.replaceAll('+', '-').replaceAll('/', '_');
      const spell = (values: number[] | undefined): string[] | undefined => values?.flatMap((v) => charSpellings(alphabet[v] as string));
      const leads = spell(lead);
      const trails = spell(trail);
      for (const needle of coreSpellings(spelledCore, alphabet)) forms.push({ needle, caseless: false, ...(leads ? { lead: leads } : {}), ...(trails ? { trail: trails } : {}) });
    }
  }
  return forms;
}

/** The 6-bit values, ascending, whose `bits` low or high bits are `known` (the rest anything). */
function partialValues(bits: number, known: number, side: 'low' | 'high'): number[] {
  const free = 6 - bits;
  return Array.from({ length: 1 << free }, (_, other) => (side === 'low' ? (other << bits) | known : (known << free) | other)).sort((a, b) => a - b);
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
