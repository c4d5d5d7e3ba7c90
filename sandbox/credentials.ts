// Vault credentials at the sandbox's edge: the placeholder model of `environment_variable` credentials. The
// sandbox sees each credential's variable set to a placeholder; the egress proxy puts the real value where the
// placeholder appears, for the credential's hosts only; whatever comes back is scrubbed before the sandbox reads
// it, and results are redacted again before anyone else does. Pure (no I/O), so the local proxy, the Cloudflare
// outbound handler and the brain apply one rule.
import { Buffer } from 'node:buffer';
import { decideEgress, hostMatches, normalizeHost, type EgressOptions } from './egress-policy.ts';
import type { Networking } from './hands.ts';
import { formsFor, scrubText } from './secret-scrubber.ts';

/** One `environment_variable` credential as the hands receive it: with its value, which only the proxy uses. */
export interface SandboxCredential {
  credentialId: string;
  vaultId: string;
  /** The environment variable the sandbox sees (set to `placeholder`). */
  name: string;
  /** What the sandbox, the agent and the model see instead of the value. */
  placeholder: string;
  /** The secret. Leaves the vault only inside the egress proxy. */
  value: string;
  /** Where the value may be substituted: the credential's own hosts, or any host the environment allows. */
  networking: { type: 'unrestricted' } | { type: 'limited'; allowed_hosts: string[] };
  /** Which parts of a request the placeholder is substituted in. */
  injection: { header: boolean; body: boolean };
}

/** The placeholder of a credential: stable for the credential, so files and scripts that hold it keep working. */
export function placeholderFor(credentialId: string): string {
  return `edgeharness_placeholder_${credentialId}`;
}

/**
 * The variables that tell common HTTPS clients which certificate authorities to trust (Node, OpenSSL, curl,
 * Python requests, pip, git, the AWS CLI, cargo, Deno, gcloud, Nix builds): the local sandbox points them at a bundle
 * holding its proxy's authority. The list sandbox-runtime sets when it terminates TLS itself.
 */
export const CA_TRUST_ENV_NAMES: readonly string[] = [
  'NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'CURL_CA_BUNDLE', 'REQUESTS_CA_BUNDLE', 'PIP_CERT', 'GIT_SSL_CAINFO',
  'AWS_CA_BUNDLE', 'CARGO_HTTP_CAINFO', 'DENO_CERT', 'CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE', 'NIX_SSL_CERT_FILE',
];

/**
 * Variables a credential may not take: the sandbox needs them to work, and the proxy settings decide where
 * traffic goes. Refused when the credential is created.
 */
export const RESERVED_ENV_NAMES: ReadonlySet<string> = new Set([
  'PATH', 'HOME', 'LANG', 'TERM', 'SHELL', 'USER', 'PWD', 'TMPDIR',
  'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'all_proxy', 'no_proxy',
  'NODE_OPTIONS', 'LD_PRELOAD', 'LD_LIBRARY_PATH', 'SSL_CERT_DIR',
  ...CA_TRUST_ENV_NAMES,
]);

/** Whether `host` (a hostname or IP literal, brackets allowed) is a loopback address: 127.0.0.0/8, ::1, localhost. */
function isLoopback(host: string): boolean {
  let h = normalizeHost(host);
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (h.startsWith('::ffff:')) h = h.slice(7);
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** The credentials whose value may be substituted on a request to `host`. */
export function injectableAt(credentials: readonly SandboxCredential[], host: string): SandboxCredential[] {
  const h = normalizeHost(host);
  return credentials.filter((c) => c.networking.type === 'unrestricted' || c.networking.allowed_hosts.some((rule) => hostMatches(h, rule)));
}

export type Substitution =
  | { ok: true; changed: boolean; value: string }
  | { ok: false; reason: string };

/** Where a request goes and how: substitution happens over TLS only, except to a loopback address. */
export interface RequestTarget {
  host: string;
  scheme: 'http' | 'https';
}

/**
 * Substitutes, in one header value or body text, the placeholder of every credential that may be used on this
 * request (`location` enabled, host matching). A placeholder that would be substituted over plain HTTP to a
 * host that is not loopback refuses the request instead: the value must not travel in cleartext.
 * Placeholders of credentials not usable here are left as they are (the upstream sees the placeholder).
 */
export function substitute(
  text: string,
  target: RequestTarget,
  credentials: readonly SandboxCredential[],
  location: 'header' | 'body',
): Substitution {
  if (!text.includes('edgeharness_placeholder_')) return { ok: true, changed: false, value: text };
  let value = text;
  let changed = false;
  for (const c of injectableAt(credentials, target.host)) {
    if (!c.injection[location] || !value.includes(c.placeholder)) continue;
    if (target.scheme !== 'https' && !isLoopback(target.host))
      return {
        ok: false,
        reason: `credential ${c.name} (${c.credentialId}) is substituted only over https; this request to ${target.host} is plain http, so it was refused rather than send the secret in cleartext`,
      };
    value = value.split(c.placeholder).join(c.value);
    changed = true;
  }
  return { ok: true, changed, value };
}

/**
 * Substitutes, in a request body (any bytes: the placeholder is ASCII, so it is found the same in UTF-8 text, form
 * data or binary), the placeholder of every credential with body injection usable at the target, by the rule of
 * `substitute`: over plain HTTP to a host that is not loopback the request is refused instead.
 */
export function substituteBody(
  body: Uint8Array,
  target: RequestTarget,
  credentials: readonly SandboxCredential[],
): { ok: true; changed: boolean; body: Uint8Array } | { ok: false; reason: string } {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (!bytes.includes('edgeharness_placeholder_')) return { ok: true, changed: false, body };
  // one char per byte, so a replaced value's UTF-8 bytes go back out as they are
  const result = substitute(bytes.toString('latin1'), target, credentials.map((c) => ({ ...c, value: Buffer.from(c.value, 'utf8').toString('latin1') })), 'body');
  if (!result.ok) return result;
  return result.changed ? { ok: true, changed: true, body: Buffer.from(result.value, 'latin1') } : { ok: true, changed: false, body };
}

/**
 * Redacts every text block of a tool outcome: every spelling of every credential's value becomes that credential's
 * placeholder (as is, in any case, reversed, percent-encoded, hex, JSON-escaped, base64 and base64url at any
 * alignment: the forms in ./secret-scrubber.ts).
 */
export function redactContent<T extends { type: string; text?: string }>(content: T[], credentials: readonly SandboxCredential[]): T[] {
  if (credentials.length === 0) return content;
  const forms = formsFor(credentials);
  return content.map((block) => (typeof block.text === 'string' ? { ...block, text: scrubText(block.text, forms) } : block));
}

/**
 * The hosts of a `limited` credential that the environment's networking does not let the sandbox reach: the
 * credential can never be used there (`credential_host_unreachable_error`). An `unrestricted` credential has none.
 */
export function unreachableHosts(credential: Pick<SandboxCredential, 'networking'>, environment: Networking, options: EgressOptions = {}): string[] {
  if (credential.networking.type !== 'limited') return [];
  return credential.networking.allowed_hosts.filter((rule) => {
    // a wildcard is reachable when some subdomain is: probe one, which `*.suffix` rules in the environment match
    const probe = rule.startsWith('*.') ? `edgeharness-probe.${rule.slice(2)}` : rule;
    const authority = probe.includes(':') && !probe.startsWith('[') ? `[${probe}]` : probe;
    return !decideEgress(environment, `https://${authority}/`, options).allow;
  });
}
