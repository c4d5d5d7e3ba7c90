// Resource ids: a type prefix plus 24 random base62 characters (`sesn_…`, `sevt_…`), as the official API shapes them.
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export type IdKind = 'agent' | 'env' | 'sesn' | 'sevt' | 'wrkspc' | 'key' | 'vlt' | 'vcrd' | 'sesrsc' | 'file' | 'skill' | 'outc' | 'memstore' | 'mem' | 'memver' | 'sthr' | 'depl' | 'drun';

export function newId(kind: IdKind): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  let out = '';
  // 256 % 62 skews a few characters slightly; ids need uniqueness, not uniform distribution.
  for (const b of bytes) out += ALPHABET[b % 62];
  return `${kind}_${out}`;
}
