// The local provider's side of the vault: sandbox-runtime's `filterRequest` hook, which puts a credential's value
// where its placeholder appears in a request header, for the credential's hosts only (the rule in
// ../credentials.ts). The proxy cannot rewrite a body, so a placeholder a body-enabled credential would need
// substituted in one refuses the request instead of reaching the upstream unreplaced.
import type { FilterRequestCallback, RequestDecision, RequestInfo } from '@anthropic-ai/sandbox-runtime';
import { injectableAt, substitute, type RequestTarget, type SandboxCredential } from '../credentials.ts';

/**
 * Headers sandbox-runtime never sets (framing, hop-by-hop) plus the one that authenticates the sandbox to its
 * proxy: a placeholder there is left alone, since a set value would be dropped or consumed by the proxy.
 */
const UNSET_HEADERS: ReadonlySet<string> = new Set([
  'host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer', 'keep-alive',
  'proxy-connection', 'proxy-authorization',
]);

/**
 * The filter for one session's credentials. For each request it:
 * - substitutes, in every header value, the placeholder of each credential with header injection whose hosts
 *   match the request's target (the CONNECT target or the absolute URI's host, never the spoofable Host
 *   header), and sets the changed headers;
 * - refuses a request that would carry a value over plain HTTP to a host that is not loopback;
 * - refuses a request whose body holds the placeholder of a credential with body injection usable at that
 *   host: this provider cannot substitute in a body, and the upstream must not get the placeholder unawares.
 *   A GET, HEAD or OPTIONS body the proxy does not show is refused the same way when such a credential applies.
 * Everything else is allowed unchanged. A thrown error denies (sandbox-runtime fails closed).
 */
export function credentialFilter(credentials: readonly SandboxCredential[]): FilterRequestCallback {
  return async (request, info) => {
    const target = targetOf(request, info);
    const usable = injectableAt(credentials, target.host);
    if (usable.length === 0) return { action: 'allow' };

    const setHeaders: Array<[string, string]> = [];
    for (const [name, values] of headerGroups(request, info)) {
      let changed = false;
      const replaced: string[] = [];
      for (const value of values) {
        const result = substitute(value, target, usable, 'header');
        if (!result.ok) return deny(result.reason);
        changed ||= result.changed;
        replaced.push(result.value);
      }
      if (!changed) continue;
      if (!replaced.every(validHeaderValue)) {
        return deny(`a credential's value substituted into the ${name} header is not a valid header value (it holds a control character or a character above U+00FF), so the request to ${target.host} was refused`);
      }
      for (const value of replaced) setHeaders.push([name, value]);
    }

    const inBody = usable.filter((c) => c.injection.body);
    if (inBody.length > 0) {
      const found = await placeholderInBody(request, info, inBody);
      if (found) {
        const named = (c: SandboxCredential): string => `credential ${c.name} (${c.credentialId})`;
        const what = found === 'unshown'
          ? `this ${request.method} request to ${target.host} has a body the proxy cannot inspect, and ${inBody.map(named).join(', ')} ${inBody.length === 1 ? 'is' : 'are'} set to be substituted in request bodies there`
          : `${named(found)} is set to be substituted in request bodies, and this request to ${target.host} carries its placeholder in the body`;
        return deny(`${what}; body substitution is not available on the local sandbox provider (only headers are substituted), so the request was refused rather than send the placeholder in place of the secret`);
      }
    }
    return setHeaders.length > 0 ? { action: 'allow', setHeaders } : { action: 'allow' };
  };
}

function deny(reason: string): RequestDecision {
  return { action: 'deny', reason, mark: 'credential_refused' };
}

/** Where the request goes: the proxy's canonical target, and `https` only when it arrived over terminated TLS. */
function targetOf(request: Request, info: RequestInfo | undefined): RequestTarget {
  // an absolute https:// URI sent in cleartext is plain http here: the secret would travel unencrypted
  const scheme = info?.scheme === 'https' ? 'https' : 'http';
  return { host: info?.target?.host ?? new URL(request.url).hostname, scheme };
}

/**
 * The request's header values grouped by name as sandbox-runtime folds names (case, and `_` or `.` for `-`):
 * a set replaces every spelling of its name, so a group is set whole or not at all. From the raw header lines
 * when the proxy gives them, so repeated headers keep their separate values.
 */
function headerGroups(request: Request, info: RequestInfo | undefined): Map<string, string[]> {
  const pairs: Array<[string, string]> = [];
  const raw = info?.rawHeaders;
  if (raw && raw.length > 0) {
    for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i] as string, raw[i + 1] as string]);
  } else {
    request.headers.forEach((value, name) => pairs.push([name, value]));
  }
  const groups = new Map<string, { name: string; values: string[] }>();
  for (const [name, value] of pairs) {
    const folded = name.toLowerCase().replace(/[_.]/g, '-');
    if (UNSET_HEADERS.has(folded)) continue;
    const group = groups.get(folded);
    if (group) group.values.push(value);
    else groups.set(folded, { name, values: [value] });
  }
  return new Map([...groups.values()].map((g) => [g.name, g.values]));
}

/** A header value Node's HTTP client sends: tab, but no other control character, and nothing above U+00FF. */
function validHeaderValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f || code > 0xff) return false;
  }
  return true;
}

/**
 * The first of `credentials` whose placeholder the body holds, `'unshown'` for a body the proxy leaves out of
 * the Request (GET, HEAD, OPTIONS with body bytes), or undefined. Reads the body as a stream, keeping only
 * the tail a placeholder split across chunks needs, and stops at the first hit.
 */
async function placeholderInBody(
  request: Request,
  info: RequestInfo | undefined,
  credentials: readonly SandboxCredential[],
): Promise<SandboxCredential | 'unshown' | undefined> {
  if (!request.body) return (await info?.unshownBody?.()) ? 'unshown' : undefined;
  const needles = credentials.map((c) => ({ credential: c, bytes: Buffer.from(c.placeholder, 'utf8') }));
  const keep = Math.max(...needles.map((n) => n.bytes.length)) - 1;
  const reader = request.body.getReader();
  let tail = Buffer.alloc(0);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return undefined;
      const window = Buffer.concat([tail, value]);
      for (const n of needles) if (window.includes(n.bytes)) return n.credential;
      tail = window.subarray(Math.max(0, window.length - keep));
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}
