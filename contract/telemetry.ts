// Telemetry destinations (`client.beta.organization.telemetryDestinations`): the request shapes, the destination as
// answered, and the rules an endpoint URL and its headers must meet. See docs/telemetry.md.
import { z } from 'zod';
import { privateHost } from './webhook.ts';
import type {
  BetaTelemetryDestination,
  BetaTelemetryDestinationTestResponse,
} from '@anthropic-ai/sdk/resources/beta/organization/telemetry-destinations/telemetry-destinations';
import type { BetaTelemetryDestinationWorkspace } from '@anthropic-ai/sdk/resources/beta/organization/telemetry-destinations/workspaces';

/** An organization may have at most this many destinations, enabled or disabled (as the official API). */
export const MAX_TELEMETRY_DESTINATIONS = 10;
/** A destination's include or exclude list holds at most this many workspaces. */
export const MAX_LIST_WORKSPACES = 1000;
/** An update may not change the list's type or replace it while the list is longer than this. */
export const MAX_LIST_WORKSPACES_FOR_UPDATE = 750;
/** The largest `traces.max_content_bytes`: the runtime's own bound on one span's content. */
export const MAX_CONTENT_BYTES = 1_048_576;
export const MAX_HEADERS = 20;
export const MAX_HEADER_NAME = 128;
export const MAX_HEADER_VALUE = 4096;
export const MAX_HEADER_BYTES = 16_384;
const MAX_URL = 2048;

const WorkspaceIds = z.array(z.string().min(1)).max(100, 'at most 100 workspace ids per request');
export const WorkspacesParams = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('all') }),
  z.strictObject({ type: z.literal('include'), workspace_ids: WorkspaceIds.optional() }),
  z.strictObject({ type: z.literal('exclude'), workspace_ids: WorkspaceIds.optional() }),
]);
export type WorkspacesParams = z.infer<typeof WorkspacesParams>;

const ContentMode = z.enum(['metadata_only', 'content']);
export const TracesParams = z.strictObject({
  content_mode: ContentMode.nullable().optional(),
  enabled: z.boolean().optional(),
  endpoint_url: z.string().max(MAX_URL).nullable().optional(),
  max_content_bytes: z
    .number()
    .int()
    .min(1)
    .max(MAX_CONTENT_BYTES, `must be at most ${MAX_CONTENT_BYTES}, the runtime's maximum`)
    .nullable()
    .optional(),
});
export type TracesParams = z.infer<typeof TracesParams>;

const DisplayName = z.string().min(1).max(255);

export const TelemetryDestinationCreateParams = z.strictObject({
  endpoint_url: z.string().max(MAX_URL),
  workspaces: WorkspacesParams,
  display_name: DisplayName.nullable().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  traces: TracesParams.optional(),
});
export type TelemetryDestinationCreateParams = z.infer<typeof TelemetryDestinationCreateParams>;

export const TelemetryDestinationUpdateParams = z
  .strictObject({
    display_name: DisplayName.nullable().optional(),
    endpoint_url: z.string().max(MAX_URL).optional(),
    // The SDK's type admits null for the field; its doc says the field itself can't be null.
    headers: z.record(z.string(), z.string().nullable()).optional(),
    state: z.strictObject({ type: z.enum(['enabled', 'disabled']) }).optional(),
    traces: TracesParams.nullable().optional(),
    workspaces: WorkspacesParams.optional(),
  })
  .refine((p) => Object.keys(p).length > 0, { message: 'send at least one field' });
export type TelemetryDestinationUpdateParams = z.infer<typeof TelemetryDestinationUpdateParams>;

export const TelemetryDestinationListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  page: z.string().min(1).optional(),
  'workspace_ids[]': z.array(z.string().min(1)).max(100, 'at most 100 workspace ids').optional(),
});
export type TelemetryDestinationListQuery = z.infer<typeof TelemetryDestinationListQuery>;

export const TelemetryWorkspaceListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  page: z.string().min(1).optional(),
});
export type TelemetryWorkspaceListQuery = z.infer<typeof TelemetryWorkspaceListQuery>;

/** The destination as answered: the SDK's own type, so a field we miss fails `tsc`. */
export type TelemetryDestination = BetaTelemetryDestination;
export type TelemetryDestinationWorkspace = BetaTelemetryDestinationWorkspace;
export type TelemetryTestResponse = BetaTelemetryDestinationTestResponse;
export type DisabledReason = 'caller' | 'sustained_failure' | 'invalid_address' | 'redirect';

/** The official name of the span `test` sends. */
/** What the destinations covering a workspace want of a session's spans: whether any takes content, and how much. */
export interface TelemetryCoverage {
  content: boolean;
  /** The largest `max_content_bytes` of the destinations that take content (0 when none does). */
  maxContentBytes: number;
}

export const TEST_SPAN_NAME = 'anthropic.test';

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Why `url` cannot be a destination's endpoint, or null. Deployed (allowPrivate false): https, a hostname (not an IP
 * address), port 443, no query, fragment or user info, at most 2,048 characters. With
 * EDGEHARNESS_TELEMETRY_ALLOW_PRIVATE (`npm start`, the tests) http, IP addresses and any port are allowed too.
 * Whether a hostname is publicly routable is decided at delivery (`invalid address`), as the official API does.
 */
export function telemetryUrlProblem(url: string, allowPrivate: boolean): string | null {
  if (url.length > MAX_URL) return `must be at most ${MAX_URL} characters`;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'not a valid URL';
  }
  if (u.username || u.password) return 'must not contain a username or password';
  if (u.search || url.includes('?')) return 'must not contain a query string';
  if (u.hash || url.includes('#')) return 'must not contain a fragment';
  if (allowPrivate) return u.protocol === 'https:' || u.protocol === 'http:' ? null : 'must be an http(s) URL';
  if (u.protocol !== 'https:') return 'must use https (set EDGEHARNESS_TELEMETRY_ALLOW_PRIVATE=1 to allow http, as `npm start` does)';
  if (IPV4.test(u.hostname) || u.hostname.startsWith('[')) return 'must name a hostname, not an IP address';
  if (u.port !== '') return 'the port, if given, must be 443';
  return null;
}

/** Whether delivery to `url` must be refused as `invalid address`: a loopback or private host, unless allowed. */
export function invalidAddress(url: string, allowPrivate: boolean): boolean {
  if (allowPrivate) return false;
  try {
    return privateHost(new URL(url).hostname);
  } catch {
    return true;
  }
}

/** Scheme, host and port: what a `traces.endpoint_url` must share with the destination's `endpoint_url`. */
export function urlOrigin(url: string): string {
  return new URL(url).origin;
}

/** Hostname and port: a change of either removes the registered headers. */
export function hostAndPort(url: string): string {
  return new URL(url).host;
}

/** Where the spans go: `traces.endpoint_url` as registered, or `endpoint_url` with `/v1/traces` appended. */
export function tracesUrl(endpointUrl: string, tracesEndpointUrl: string | null): string {
  return tracesEndpointUrl ?? `${endpointUrl.replace(/\/+$/, '')}/v1/traces`;
}

const RESERVED = new Set([
  'host', 'cookie', 'set-cookie', 'user-agent', 'connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade',
  'expect', 'forwarded', 'via', 'accept-encoding', 'authority', 'date',
]);
const RESERVED_PREFIXES = ['content-', 'proxy-', 'x-forwarded-', 'anthropic-', 'sec-'];
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const PRINTABLE = /^[\x20-\x7e]*$/;

/** Why a header name may not be registered, or null. `_` counts as `-` for the reserved names. */
export function headerNameProblem(name: string): string | null {
  if (name.length === 0 || name.length > MAX_HEADER_NAME) return `names must be 1 to ${MAX_HEADER_NAME} characters`;
  if (!TOKEN.test(name)) return 'not a valid HTTP header name';
  const n = name.toLowerCase().replace(/_/g, '-');
  if (RESERVED.has(n) || RESERVED_PREFIXES.some((p) => n.startsWith(p))) return 'is a reserved header name';
  return null;
}

/** Why a header value may not be registered, or null. Never quotes the value: it is a secret. */
export function headerValueProblem(value: string): string | null {
  if (value.length > MAX_HEADER_VALUE) return `values must be at most ${MAX_HEADER_VALUE} characters`;
  if (!PRINTABLE.test(value)) return 'values must be printable ASCII';
  if (value !== value.trim()) return 'values must not begin or end with a space';
  return null;
}

/**
 * The problem with a set of headers, naming the field, or null: the per-header rules, names that differ only in
 * case, at most 20, and names plus values within 16,384 bytes. `kept` names stored headers an update leaves as
 * they are: each counts, its value at 4,096 bytes (a caller can't read its real length).
 */
export function headersProblem(headers: Record<string, string>, kept: readonly string[] = []): string | null {
  const seen = new Set(kept.map((k) => k.toLowerCase()));
  let bytes = kept.reduce((n, k) => n + k.length + MAX_HEADER_VALUE, 0);
  for (const [name, value] of Object.entries(headers)) {
    const np = headerNameProblem(name);
    if (np) return `headers.${name}: ${np}`;
    const vp = headerValueProblem(value);
    if (vp) return `headers.${name}: ${vp}`;
    if (seen.has(name.toLowerCase())) return `headers.${name}: two header names differ only in case`;
    seen.add(name.toLowerCase());
    bytes += name.length + value.length;
  }
  if (seen.size > MAX_HEADERS) return `headers: at most ${MAX_HEADERS} headers`;
  if (bytes > MAX_HEADER_BYTES) return `headers: names and values together must be at most ${MAX_HEADER_BYTES} bytes`;
  return null;
}
