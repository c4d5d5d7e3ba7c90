// Vaults and their credentials, mirroring vaults.d.ts and credentials.d.ts. A credential is split here into the
// public part every response is built from and the secrets, which only the vault's encrypted storage holds.
import type { BetaManagedAgentsCredentialValidation } from '@anthropic-ai/sdk/resources/beta/vaults/credentials';
import { z } from 'zod';
import { RESERVED_ENV_NAMES } from '../sandbox/credentials.ts';
// An MCP server's URL and a token endpoint: the brain sends a token to both, so both follow the agent's MCP URL rule.
import { TokenBearingUrl } from './agent.ts';
import { Metadata, MetadataPatch, type Assignable } from './common.ts';
import { LIMITS } from './size-limits.ts';

// ---------- vaults ----------

const DisplayName = z.string().min(1).max(LIMITS.displayName);

export const VaultCreateParams = z.strictObject({
  display_name: DisplayName,
  metadata: Metadata.optional(),
});
export type VaultCreateParams = z.infer<typeof VaultCreateParams>;

export const VaultUpdateParams = z.strictObject({
  display_name: DisplayName.nullable().optional(),
  metadata: MetadataPatch.nullable().optional(),
});
export type VaultUpdateParams = z.infer<typeof VaultUpdateParams>;

export interface Vault {
  type: 'vault';
  id: string;
  display_name: string;
  metadata: Metadata;
  created_at: string;
  updated_at: string;
  archived_at: string | null;
}

// ---------- field rules ----------

const MAX_SECRET_BYTES = 64 * 1024;
const MAX_ALLOWED_HOSTS = 16;

/** A write-only value. Its messages never quote the input. */
const Secret = z
  .string()
  .min(1, 'must not be empty')
  .refine((s) => new TextEncoder().encode(s).byteLength <= MAX_SECRET_BYTES, `must be at most ${MAX_SECRET_BYTES} bytes (64 KiB)`);

const SecretName = z
  .string()
  .max(128, 'must be at most 128 characters')
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name: letters, digits and _, not starting with a digit')
  .superRefine((name, ctx) => {
    if (RESERVED_ENV_NAMES.has(name))
      ctx.addIssue({ code: 'custom', message: `'${name}' is reserved: the sandbox needs it to run or to route its traffic, so a credential cannot take it` });
  });


const FutureTimestamp = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'expected an RFC 3339 timestamp')
  .refine((s) => Date.parse(s) > Date.now(), 'must be in the future');

/** Immutable after create: named in the error rather than refused as an unknown field. */
const Immutable = z
  .unknown()
  .refine((v) => v === undefined, 'cannot be changed after the credential is created')
  .optional();

const HOST_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** Why `entry` is not a bare hostname, an IPv4 address or a `*.` wildcard; null when it is one. */
function allowedHostProblem(entry: string): string | null {
  if (entry.includes('://')) return `'${entry}' is a URL; give the bare hostname`;
  if (entry.startsWith('[') || (entry.match(/:/g)?.length ?? 0) > 1) return `'${entry}' is an IPv6 address; IPv6 addresses are not accepted`;
  if (entry.includes('/')) return `'${entry}' has a path; give the bare hostname`;
  if (entry.includes(':')) return `'${entry}' has a port; ports are not accepted, give the bare hostname`;
  const wildcard = entry.startsWith('*.');
  const name = wildcard ? entry.slice(2) : entry;
  if (/^[0-9.]+$/.test(name)) {
    if (wildcard) return `'${entry}': a wildcard takes a domain name, not an IP address`;
    const octets = name.split('.');
    return octets.length === 4 && octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255) ? null : `'${entry}' is not a valid IPv4 address`;
  }
  if (name.includes('*')) return `'${entry}': a wildcard is accepted only as a leading '*.'`;
  if (name.length > 253 || !name.split('.').every((label) => HOST_LABEL.test(label)))
    return `'${entry}' is not a hostname; expected a bare hostname (api.example.com), an IPv4 address (192.0.2.1) or a '*.' wildcard (*.example.com)`;
  return null;
}

const AllowedHost = z.string().superRefine((entry, ctx) => {
  const problem = allowedHostProblem(entry);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const CredentialNetworkingParams = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('unrestricted') }),
  z.strictObject({
    type: z.literal('limited'),
    allowed_hosts: z
      .array(AllowedHost)
      .min(1, 'at least one host is required')
      .max(MAX_ALLOWED_HOSTS, `at most ${MAX_ALLOWED_HOSTS} entries`),
  }),
]);
export type CredentialNetworking = z.infer<typeof CredentialNetworkingParams>;

const InjectionLocationParams = z.strictObject({ header: z.boolean().optional(), body: z.boolean().optional() });

// ---------- credential create ----------

const TokenEndpointAuthParams = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({ type: z.literal('client_secret_basic'), client_secret: Secret }),
  z.strictObject({ type: z.literal('client_secret_post'), client_secret: Secret }),
]);

const CredentialAuthParams = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('environment_variable'),
    secret_name: SecretName,
    secret_value: Secret,
    networking: CredentialNetworkingParams,
    // Defaults: header on, body off.
    injection_location: InjectionLocationParams.refine(
      (l) => (l.header ?? true) || (l.body ?? false),
      'at least one of header and body must be true, or the secret could never be substituted',
    ).optional(),
  }),
  z.strictObject({ type: z.literal('static_bearer'), token: Secret, mcp_server_url: TokenBearingUrl }),
  z.strictObject({
    type: z.literal('mcp_oauth'),
    access_token: Secret,
    mcp_server_url: TokenBearingUrl,
    expires_at: FutureTimestamp.nullable().optional(),
    refresh: z
      .strictObject({
        client_id: z.string().min(1).max(LIMITS.oauthClientId),
        refresh_token: Secret,
        token_endpoint: TokenBearingUrl,
        token_endpoint_auth: TokenEndpointAuthParams,
        resource: z.string().max(LIMITS.url).nullable().optional(),
        scope: z.string().max(LIMITS.oauthScope).nullable().optional(),
      })
      .nullable()
      .optional(),
  }),
]);
export type CredentialAuthParams = z.infer<typeof CredentialAuthParams>;

export const CredentialCreateParams = z.strictObject({
  auth: CredentialAuthParams,
  display_name: z.string().max(LIMITS.displayName).nullable().optional(),
  metadata: Metadata.optional(),
});
export type CredentialCreateParams = z.infer<typeof CredentialCreateParams>;

// ---------- credential update ----------
// A null for a field means "leave it as it is", as an omitted field does (the SDK types allow null everywhere).

const TokenEndpointAuthUpdateParams = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('client_secret_basic'), client_secret: Secret.nullable().optional() }),
  z.strictObject({ type: z.literal('client_secret_post'), client_secret: Secret.nullable().optional() }),
]);

const CredentialAuthUpdateParams = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('environment_variable'),
    secret_name: Immutable,
    secret_value: Secret.nullable().optional(),
    networking: CredentialNetworkingParams.nullable().optional(),
    injection_location: InjectionLocationParams.optional(),
  }),
  z.strictObject({ type: z.literal('static_bearer'), mcp_server_url: Immutable, token: Secret.nullable().optional() }),
  z.strictObject({
    type: z.literal('mcp_oauth'),
    mcp_server_url: Immutable,
    access_token: Secret.nullable().optional(),
    expires_at: FutureTimestamp.nullable().optional(),
    refresh: z
      .strictObject({
        client_id: Immutable,
        token_endpoint: Immutable,
        refresh_token: Secret.nullable().optional(),
        scope: z.string().max(LIMITS.oauthScope).nullable().optional(),
        token_endpoint_auth: TokenEndpointAuthUpdateParams.optional(),
      })
      .nullable()
      .optional(),
  }),
]);
export type CredentialAuthUpdateParams = z.infer<typeof CredentialAuthUpdateParams>;

export const CredentialUpdateParams = z.strictObject({
  auth: CredentialAuthUpdateParams.optional(),
  display_name: DisplayName.nullable().optional(),
  metadata: MetadataPatch.nullable().optional(),
});
export type CredentialUpdateParams = z.infer<typeof CredentialUpdateParams>;

// ---------- the credential resource ----------

/** What responses show of a credential's auth: never a secret. */
export type CredentialAuth =
  | {
      type: 'environment_variable';
      secret_name: string;
      networking: CredentialNetworking;
      injection_location: { header: boolean; body: boolean };
    }
  | { type: 'static_bearer'; mcp_server_url: string }
  | {
      type: 'mcp_oauth';
      mcp_server_url: string;
      expires_at: string | null;
      refresh: {
        client_id: string;
        token_endpoint: string;
        token_endpoint_auth: { type: 'none' | 'client_secret_basic' | 'client_secret_post' };
        resource: string | null;
        scope: string | null;
      } | null;
    };

/** The write-only part of a credential, stored only sealed (vault/crypto.ts). */
export type CredentialSecrets =
  | { type: 'environment_variable'; secret_value: string }
  | { type: 'static_bearer'; token: string }
  | { type: 'mcp_oauth'; access_token: string; refresh_token: string | null; client_secret: string | null };

export interface Credential {
  type: 'vault_credential';
  id: string;
  vault_id: string;
  display_name: string | null;
  auth: CredentialAuth;
  metadata: Metadata;
  created_at: string;
  updated_at: string;
  archived_at: string | null;
}

/**
 * An MCP credential of a session's vaults, decrypted for the brain, which puts `token` in the `Authorization:
 * Bearer` header of its requests to `mcpServerUrl` and nowhere else (not an event, a model request, a log line or
 * the sandbox).
 */
export interface McpCredential {
  credentialId: string;
  vaultId: string;
  type: 'static_bearer' | 'mcp_oauth';
  mcpServerUrl: string;
  token: string;
  /** When an `mcp_oauth` access token expires (null: not known, or a static bearer). */
  expiresAt: string | null;
  /**
   * What refreshing an `mcp_oauth` access token takes (once it has expired, or when the server refuses it early);
   * present when the credential has refresh configuration with a refresh token.
   */
  refresh: {
    tokenEndpoint: string;
    clientId: string;
    tokenEndpointAuth: 'none' | 'client_secret_basic' | 'client_secret_post';
    clientSecret: string | null;
    refreshToken: string;
    resource: string | null;
    scope: string | null;
  } | null;
}

export interface CredentialParts {
  auth: CredentialAuth;
  secrets: CredentialSecrets;
}

/** Splits create params into the public auth (defaults applied) and the secrets. */
export function splitCredentialAuth(p: CredentialAuthParams): CredentialParts {
  switch (p.type) {
    case 'environment_variable':
      return {
        auth: {
          type: p.type,
          secret_name: p.secret_name,
          networking: p.networking,
          injection_location: { header: p.injection_location?.header ?? true, body: p.injection_location?.body ?? false },
        },
        secrets: { type: p.type, secret_value: p.secret_value },
      };
    case 'static_bearer':
      return { auth: { type: p.type, mcp_server_url: p.mcp_server_url }, secrets: { type: p.type, token: p.token } };
    case 'mcp_oauth': {
      const r = p.refresh;
      const clientSecret = r && r.token_endpoint_auth.type !== 'none' ? r.token_endpoint_auth.client_secret : null;
      return {
        auth: {
          type: p.type,
          mcp_server_url: p.mcp_server_url,
          expires_at: p.expires_at ?? null,
          refresh: r
            ? {
                client_id: r.client_id,
                token_endpoint: r.token_endpoint,
                token_endpoint_auth: { type: r.token_endpoint_auth.type },
                resource: r.resource ?? null,
                scope: r.scope ?? null,
              }
            : null,
        },
        secrets: { type: p.type, access_token: p.access_token, refresh_token: r?.refresh_token ?? null, client_secret: clientSecret },
      };
    }
  }
}

/**
 * Applies an auth update to a stored credential. The type cannot change; `networking` replaces the stored one as
 * a whole; `injection_location` keeps the locations it leaves out and must leave one enabled. Returns the new
 * parts, or a message naming the field that was refused.
 */
export function applyCredentialAuthUpdate(current: CredentialParts, p: CredentialAuthUpdateParams): CredentialParts | string {
  const { auth, secrets } = current;
  if (p.type !== auth.type || secrets.type !== auth.type)
    return `auth.type: this credential is ${auth.type}; its type cannot be changed to ${p.type}`;
  if (p.type === 'environment_variable' && auth.type === 'environment_variable' && secrets.type === 'environment_variable') {
    const injection = {
      header: p.injection_location?.header ?? auth.injection_location.header,
      body: p.injection_location?.body ?? auth.injection_location.body,
    };
    if (!injection.header && !injection.body)
      return 'auth.injection_location: at least one of header and body must stay true, or the secret could never be substituted';
    return {
      auth: { ...auth, networking: p.networking ?? auth.networking, injection_location: injection },
      secrets: { ...secrets, secret_value: p.secret_value ?? secrets.secret_value },
    };
  }
  if (p.type === 'static_bearer' && auth.type === 'static_bearer' && secrets.type === 'static_bearer')
    return { auth, secrets: { ...secrets, token: p.token ?? secrets.token } };
  if (p.type === 'mcp_oauth' && auth.type === 'mcp_oauth' && secrets.type === 'mcp_oauth') {
    const nextAuth = { ...auth, expires_at: p.expires_at ?? auth.expires_at };
    const nextSecrets = { ...secrets, access_token: p.access_token ?? secrets.access_token };
    const r = p.refresh;
    if (r) {
      if (!auth.refresh) return 'auth.refresh: this credential was created without refresh configuration, so there is none to update';
      const refresh = { ...auth.refresh };
      // The docs: an empty scope clears the stored one.
      if (r.scope !== undefined && r.scope !== null) refresh.scope = r.scope === '' ? null : r.scope;
      if (r.refresh_token) nextSecrets.refresh_token = r.refresh_token;
      if (r.token_endpoint_auth) {
        // The stored type is kept even when the other client-secret type is sent (as the official API does).
        if (refresh.token_endpoint_auth.type === 'none')
          return "auth.refresh.token_endpoint_auth: this credential's token endpoint takes no client authentication, so it has no client secret to replace";
        if (r.token_endpoint_auth.client_secret) nextSecrets.client_secret = r.token_endpoint_auth.client_secret;
      }
      nextAuth.refresh = refresh;
    }
    return { auth: nextAuth, secrets: nextSecrets };
  }
  return `auth.type: this credential is ${auth.type}; its type cannot be changed to ${p.type}`;
}

/** An HTTP error response captured by a validation probe, as BetaManagedAgentsRefreshHTTPResponse: body scrubbed of secrets. */
export interface ProbeHttpResponse {
  body: string;
  body_truncated: boolean;
  content_type: string;
  status_code: number;
}

/** The failing step of the MCP probe, as BetaManagedAgentsMCPProbe. */
export interface McpProbe {
  /** `initialize` or `tools/list`. */
  method: string;
  /** Null when the server gave no HTTP answer (unreachable, timed out). */
  http_response: ProbeHttpResponse | null;
}

/** The refresh-token exchange a validation tried, as BetaManagedAgentsRefreshObject. */
export interface ProbeRefresh {
  status: 'succeeded' | 'failed' | 'connect_error' | 'no_refresh_token';
  http_response: ProbeHttpResponse | null;
}

/** Result of `mcp_oauth_validate`, as BetaManagedAgentsCredentialValidation. */
export interface CredentialValidation {
  type: 'vault_credential_validation';
  credential_id: string;
  vault_id: string;
  status: 'valid' | 'invalid' | 'unknown';
  has_refresh_token: boolean;
  mcp_probe: McpProbe | null;
  refresh: ProbeRefresh | null;
  validated_at: string;
}

/** Checked by the compiler: the validation is the SDK's shape, enum values included. */
export type CredentialValidationIsOfficial = Assignable<CredentialValidation, BetaManagedAgentsCredentialValidation>;
