// The scrubber both egress proxies and the redaction of results share: every spelling of a secret an upstream may
// echo it in becomes the placeholder, in one text and over a stream cut anywhere, and nothing else changes.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formsFor, SecretForms, SecretScrubber, scrubBytes, scrubLatin1, scrubText } from '../../sandbox/secret-scrubber.ts';

const SECRET = { value: 'sk-live_7f3a/9c1e+Zq"x\\y', placeholder: 'edgeharness_placeholder_vcrd_one' };
const UNICODE = { value: 'pässwört-🔑-42', placeholder: 'edgeharness_placeholder_vcrd_two' };
// spaces for a form field, markup for HTML, and `???`, whose base64 holds a `/`
const MARKUP = { value: `it's <b>&"two words"??? ok`, placeholder: 'edgeharness_placeholder_vcrd_three' };

const b64 = (text: string) => Buffer.from(text).toString('base64');
const b64url = (text: string) => Buffer.from(text).toString('base64url');
const hex = (text: string) => Buffer.from(text).toString('hex');
const reversed = (text: string) => [...text].reverse().join('');

/** Every spelling of `value` the scrubber promises to find, as an upstream could write it. */
function spellings(value: string): Record<string, string> {
  return {
    'as is': value,
    'upper case': value.toUpperCase(),
    'lower case': value.toLowerCase(),
    reversed: reversed(value),
    'reversed, upper case': reversed(value).toUpperCase(),
    hex: hex(value),
    'hex, upper case': hex(value).toUpperCase(),
    'percent-encoded': encodeURIComponent(value),
    'percent-encoded, lower-case hex': encodeURIComponent(value).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    'a form field': encodeURIComponent(value).replaceAll('%20', '+'),
    'every byte percent-encoded': [...Buffer.from(value)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
    'a JSON string': JSON.stringify(value).slice(1, -1),
    'a JSON string with \\/': JSON.stringify(value).slice(1, -1).replaceAll('/', '\\/'),
    'a JSON string, ASCII only': JSON.stringify(value).slice(1, -1).replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    'HTML-escaped': value.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll("'", '&#39;'),
    'HTML-escaped by number': value.replace(/[&<>"']/g, (c) => `&#x${c.charCodeAt(0).toString(16)};`),
    base64: b64(value),
    'base64 without padding': b64(value).replace(/=+$/, ''),
    'base64 after one byte': b64(`u${value}`),
    'base64 after two bytes': b64(`us${value}`),
    'base64 inside a longer text': b64(`user:${value}:and more after it`),
    base64url: b64url(value),
    'base64url after one byte': b64url(`u${value}`),
    'base64url after two bytes, more after': b64url(`us${value}tail`),
    'base64, percent-encoded': encodeURIComponent(b64(`user:${value}`)),
    'base64, percent-encoded in lower case': encodeURIComponent(b64(`u${value}`)).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    'base64 in a JSON string, `/` escaped': b64(value).replaceAll('/', '\\/'),
  };
}

/** Whether `text` still holds `value` in a spelling that gives it away (as is, or decoded from hex or base64). */
function holds(text: string, value: string): boolean {
  const lower = text.toLowerCase();
  if (lower.includes(value.toLowerCase()) || lower.includes(reversed(value).toLowerCase()) || lower.includes(hex(value))) return true;
  // decode every base64 run at every offset: a fragment of the value of 8 bytes or more counts
  const fragment = Buffer.from(value).subarray(2, 10);
  for (const run of text.match(/[A-Za-z0-9+/_-]{8,}/g) ?? []) {
    for (let skip = 0; skip < 4; skip++) {
      const decoded = Buffer.from(run.slice(skip).replace(/-/g, '+').replace(/_/g, '/'), 'base64');
      if (decoded.includes(fragment)) return true;
    }
  }
  return false;
}

describe('the secret scrubber', () => {
  for (const [kind, secret] of [['ASCII', SECRET], ['non-ASCII', UNICODE], ['with spaces and markup', MARKUP]] as const) {
    for (const [name, spelled] of Object.entries(spellings(secret.value))) {
      it(`replaces the value ${name} (${kind}) with the placeholder`, () => {
        const echoed = `{"authorization": "Basic ${spelled}", "note": "ok"}`;
        const scrubbed = scrubText(echoed, [secret]);
        expect(scrubbed).toContain(secret.placeholder);
        expect(holds(scrubbed, secret.value), scrubbed).toBe(false);
        expect(scrubbed.startsWith('{"authorization": "Basic ')).toBe(true);
        expect(scrubbed.endsWith('", "note": "ok"}')).toBe(true);
      });
    }
  }

  it('keeps the base64 of what surrounds the value, and swallows the characters that mix it with the value', () => {
    const header = `Basic ${b64(`user:${SECRET.value}`)}`;
    const scrubbed = scrubText(header, [SECRET]);
    // `dXNlcj` is "user" and the two bits of ":" its last character shares with nothing of the secret
    expect(scrubbed).toBe(`Basic dXNlcj${SECRET.placeholder}`);
  });

  it('leaves text without the value as it was, and a value shorter than four characters alone', () => {
    const text = 'nothing to see here: sk-live_7f3a (a prefix is not the value)';
    expect(scrubText(text, [SECRET])).toBe(text);
    expect(scrubText('a key: abc, ABC, 616263', [{ value: 'abc', placeholder: 'P' }])).toBe('a key: abc, ABC, 616263');
  });

  it('replaces each of several secrets with its own placeholder', () => {
    const scrubbed = scrubText(`${SECRET.value} ${b64(UNICODE.value)} ${hex(SECRET.value)}`, [SECRET, UNICODE]);
    expect(scrubbed).toBe(`${SECRET.placeholder} ${UNICODE.placeholder} ${SECRET.placeholder}`);
  });

  it('scrubs header values as HTTP carries them, one char per byte', () => {
    const latin1 = Buffer.from(`session=${UNICODE.value}; Path=/`).toString('latin1');
    expect(scrubLatin1(latin1, [UNICODE])).toBe(`session=${UNICODE.placeholder}; Path=/`);
  });

  it('finds the value in binary data and leaves every other byte as it was', () => {
    const before = randomBytes(100_000);
    const after = randomBytes(100_000);
    const data = Buffer.concat([before, Buffer.from(SECRET.value), after, Buffer.from(b64(`x${SECRET.value}`))]);
    const scrubbed = Buffer.from(scrubBytes(data, [SECRET]));
    expect(scrubbed.subarray(0, before.length).equals(before)).toBe(true);
    expect(scrubbed.subarray(before.length, before.length + SECRET.placeholder.length).toString()).toBe(SECRET.placeholder);
    expect(scrubbed.subarray(before.length + SECRET.placeholder.length, before.length + SECRET.placeholder.length + after.length).equals(after)).toBe(true);
    expect(scrubbed.includes(Buffer.from(SECRET.value))).toBe(false);
    const clean = randomBytes(1 << 20);
    expect(Buffer.from(scrubBytes(clean, [SECRET])).equals(clean)).toBe(true);
  });

  it('finds a value split across chunks at any two places', () => {
    const text = `start ${SECRET.value.toUpperCase()} middle ${b64(`user:${SECRET.value}`)} end ${hex(SECRET.value)}`;
    const expected = scrubText(text, [SECRET]);
    expect(holds(expected, SECRET.value)).toBe(false);
    const bytes = Buffer.from(text);
    for (let i = 0; i <= bytes.length; i += 3) {
      for (let j = i; j <= bytes.length; j += 5) {
        const scrubber = new SecretScrubber([SECRET]);
        const out = [scrubber.push(bytes.subarray(0, i)), scrubber.push(bytes.subarray(i, j)), scrubber.push(bytes.subarray(j)), scrubber.end()];
        expect(Buffer.concat(out).toString(), `cut at ${i} and ${j}`).toBe(expected);
      }
    }
  });

  it('finds a value that arrives one byte at a time', () => {
    const text = `data: {"echo": "${JSON.stringify(SECRET.value).slice(1, -1)}"}\n\n`;
    const scrubber = new SecretScrubber([SECRET]);
    const out: Uint8Array[] = [];
    for (const byte of Buffer.from(text)) out.push(scrubber.push(Uint8Array.of(byte)));
    out.push(scrubber.end());
    expect(Buffer.concat(out).toString()).toBe(`data: {"echo": "${SECRET.placeholder}"}\n\n`);
  });

  it('streams: what cannot begin a spelling comes back at once, and only a possible beginning waits', () => {
    const scrubber = new SecretScrubber([SECRET]);
    expect(Buffer.from(scrubber.push(Buffer.from('data: one\n\n'))).toString()).toBe('data: one\n\n');
    expect(Buffer.from(scrubber.push(Buffer.from(`data: ${SECRET.value.slice(0, 6)}`))).toString()).toBe('data: ');
    const rest = Buffer.concat([scrubber.push(Buffer.from(`${SECRET.value.slice(6)}\n\n`)), scrubber.end()]).toString();
    expect(rest).toBe(`${SECRET.placeholder}\n\n`);
  });

  it('holds a base64 match until the characters that may follow it have come', () => {
    const encoded = b64(`user:${SECRET.value}`);
    const scrubber = new SecretScrubber([SECRET]);
    const first = Buffer.from(scrubber.push(Buffer.from(`Basic ${encoded.slice(0, -2)}`))).toString();
    const rest = Buffer.concat([scrubber.push(Buffer.from(`${encoded.slice(-2)}\r\n`)), scrubber.end()]).toString();
    expect(first + rest).toBe(`Basic dXNlcj${SECRET.placeholder}\r\n`);
  });

  it('keeps a copy of the tail, so a caller may reuse its buffer', () => {
    const scrubber = new SecretScrubber([SECRET]);
    const buffer = Buffer.alloc(64);
    const half = Math.floor(SECRET.value.length / 2);
    Buffer.from(`${'x'.repeat(64 - half)}${SECRET.value.slice(0, half)}`).copy(buffer);
    const first = Buffer.from(scrubber.push(buffer));
    buffer.fill('y');
    Buffer.from(`${SECRET.value.slice(half)}!`).copy(buffer);
    const second = Buffer.from(scrubber.push(buffer.subarray(0, SECRET.value.length - half + 1)));
    expect(Buffer.concat([first, second, scrubber.end()]).toString()).toBe(`${'x'.repeat(64 - half)}${SECRET.placeholder}!`);
  });

  it('lets fewer than four held bytes go when asked, and still replaces the spelling they turn out to begin', () => {
    const scrubber = new SecretScrubber([SECRET]);
    expect(Buffer.from(scrubber.push(Buffer.from(`ready ${SECRET.value.slice(0, 2)}`))).toString()).toBe('ready ');
    expect(scrubber.holding).toBe(2);
    expect(Buffer.from(scrubber.release()).toString()).toBe(SECRET.value.slice(0, 2));
    expect(Buffer.from(scrubber.push(Buffer.from(SECRET.value.slice(2, 3)))).toString()).toBe('');
    expect(Buffer.from(scrubber.release()).toString()).toBe(SECRET.value.slice(2, 3));
    const rest = Buffer.concat([scrubber.push(Buffer.from(`${SECRET.value.slice(3)} done`)), scrubber.end()]).toString();
    // the three characters sent early are all the agent gets of it
    expect(rest).toBe(`${SECRET.placeholder} done`);
  });

  it('keeps holding four bytes or more, which would give away a spelling split by a pause', () => {
    const scrubber = new SecretScrubber([SECRET]);
    scrubber.push(Buffer.from(`ready ${SECRET.value.slice(0, 2)}`));
    scrubber.release();
    scrubber.push(Buffer.from(SECRET.value.slice(2, 4)));
    expect(scrubber.release().length).toBe(0);
    expect(scrubber.holding).toBe(2);
    const rest = Buffer.concat([scrubber.push(Buffer.from(SECRET.value.slice(4))), scrubber.end()]).toString();
    expect(rest).toBe(SECRET.placeholder);
  });

  it('forgets bytes let go early once what follows shows they begin nothing', () => {
    const scrubber = new SecretScrubber([SECRET]);
    const out = [scrubber.push(Buffer.from(`ready ${SECRET.value.slice(0, 2)}`)), scrubber.release()];
    out.push(scrubber.push(Buffer.from(' and more')), scrubber.push(Buffer.from(` then ${SECRET.value}.`)), scrubber.end());
    expect(Buffer.concat(out).toString()).toBe(`ready ${SECRET.value.slice(0, 2)} and more then ${SECRET.placeholder}.`);
  });

  it('gives no spelling away when every held byte it may let go is let go, one byte at a time', () => {
    for (const [name, spelled] of Object.entries(spellings(SECRET.value))) {
      const scrubber = new SecretScrubber([SECRET]);
      const out: Uint8Array[] = [];
      for (const byte of Buffer.from(`echo: ${spelled};`)) out.push(scrubber.push(Uint8Array.of(byte)), scrubber.release());
      out.push(scrubber.end());
      const text = Buffer.concat(out).toString();
      expect(text, name).toContain(SECRET.placeholder);
      expect(holds(text, SECRET.value), `${name}: ${text}`).toBe(false);
    }
  });

  it('holds back exactly from the first byte that may begin a spelling, in long and repetitive values too', () => {
    // the rule, position by position: the rest of the text is a proper beginning of a lead spelling and needle
    const reference = (forms: SecretForms, text: string): number => {
      for (let at = 0; at < text.length; at++) {
        const rest = text.slice(at);
        const begins = forms.forms.some((f) => (f.lead ?? ['']).some((lead) => {
          const start = lead + f.needle;
          return start.length > rest.length && start.startsWith(f.caseless ? rest.toLowerCase() : rest);
        }));
        if (begins) return at;
      }
      return text.length;
    };
    const check = (forms: SecretForms, text: string): void => {
      expect(forms.heldFrom(text, text.toLowerCase()), JSON.stringify(text)).toBe(reference(forms, text));
    };
    const lengths = (n: number): number[] => [...new Set([...Array.from({ length: 24 }, (_, i) => i + 1), ...Array.from({ length: 8 }, (_, i) => Math.floor(((i + 1) * n) / 9))])].filter((k) => k > 0 && k < n);
    // (the last two begin with bytes whose base64 leads include `/`, spelt `%2F`: three characters)
    const values = [SECRET.value, UNICODE.value, 'ab'.repeat(20), 'a'.repeat(30), randomBytes(150).toString('base64url'), 'Zq9/Zq9/Zq9/Zq9+Zq9/', 'ÿ-secret-value', '🔑 secret value'];
    for (const value of values) {
      const forms = new SecretForms([{ value, placeholder: 'P' }]);
      // as an upstream would spell it, cut anywhere, after nothing, junk, or a whole or partial copy
      for (const spelled of [...Object.values(spellings(value)), b64(`u${value}`), encodeURIComponent(b64(`us${value}`))]) {
        for (const k of lengths(spelled.length)) {
          for (const before of ['', '{"a":"', spelled.slice(0, k), `${spelled} and `, randomBytes(40).toString('base64')]) {
            check(forms, Buffer.from(`${before}${spelled.slice(0, k)}`).toString('latin1'));
          }
        }
      }
      // each form cut anywhere: after each of its shortest and longest lead spellings, and after none
      for (const form of forms.forms) {
        const leads = [...new Set(['', ...(form.lead ?? []).slice(0, 2), ...(form.lead ?? []).slice(-2)])];
        for (const lead of leads) {
          for (const k of lengths(form.needle.length)) check(forms, `"x${lead}${form.needle.slice(0, k)}`);
        }
      }
    }
  });

  it('builds the spellings of a credential set once, and again when a value changes', () => {
    const first = formsFor([{ ...SECRET }, { ...UNICODE }]);
    expect(formsFor([{ ...SECRET }, { ...UNICODE }])).toBe(first);
    const rotated = formsFor([{ ...SECRET, value: `${SECRET.value}-rotated` }, { ...UNICODE }]);
    expect(rotated).not.toBe(first);
    expect(scrubText(`${SECRET.value}-rotated`, rotated)).toBe(SECRET.placeholder);
    expect(formsFor([{ ...UNICODE }, { ...SECRET }])).not.toBe(first); // the order decides which placeholder is whose
  });
});

