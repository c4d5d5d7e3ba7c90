// Vault credentials at the sandbox's edge: the placeholder model of `environment_variable` credentials. The
// sandbox sees each credential's variable set to a placeholder; the egress proxy puts the real value where the
// placeholder appears, for the credential's hosts only; whatever comes back is redacted before anyone reads it.
// Pure (no I/O), so the local proxy, the Cloudflare outbound handler and the brain apply one rule.
import { decideEgress, hostMatches, normalizeHost, type EgressOptions } from './egress-policy.ts';
import type { Networking } from './hands.ts';

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
 * Variables a credential may not take: the sandbox needs them to work, and the proxy settings decide where
 * traffic goes. Refused when the credential is created.
 */
export const RESERVED_ENV_NAMES: ReadonlySet<string> = new Set([
  'PATH', 'HOME', 'LANG', 'TERM', 'SHELL', 'USER', 'PWD', 'TMPDIR',
  'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'all_proxy', 'no_proxy',
  'NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE',
  'LD_PRELOAD', 'LD_LIBRARY_PATH',
]);

/** Whether `host` (a hostname or IP literal, brackets allowed) is a loopback address: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
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

/** The spellings of a secret that are redacted: as is, percent-encoded, and base64 (a Basic auth header echoed back). */
function spellings(value: string): string[] {
  const forms = new Set<string>([value]);
  try {
    forms.add(encodeURIComponent(value));
  } catch {
    // a lone surrogate cannot be percent-encoded; the plain form is still redacted
  }
  const bytes = new TextEncoder().encode(value);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  const b64 = btoa(binary);
  forms.add(b64);
  forms.add(b64.replace(/=+$/, ''));
  // values shorter than this are too likely to occur by chance in unrelated output to be worth replacing
  return [...forms].filter((f) => f.length >= 4).sort((a, b) => b.length - a.length);
}

/** Every spelling `redact` replaces, of every credential: what a stored copy must not contain. */
export function redactionForms(credentials: readonly SandboxCredential[]): string[] {
  return credentials.flatMap((c) => (c.value.length === 0 ? [] : spellings(c.value)));
}

/** Replaces every known spelling of every credential's value in `text` with that credential's placeholder. */
export function redact(text: string, credentials: readonly SandboxCredential[]): string {
  let out = text;
  for (const c of credentials) {
    if (c.value.length === 0) continue;
    for (const form of spellings(c.value)) if (out.includes(form)) out = out.split(form).join(c.placeholder);
  }
  return out;
}

/** Redacts every text block of a tool outcome. */
export function redactContent<T extends { type: string; text?: string }>(content: T[], credentials: readonly SandboxCredential[]): T[] {
  if (credentials.length === 0) return content;
  return content.map((block) => (typeof block.text === 'string' ? { ...block, text: redact(block.text, credentials) } : block));
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
