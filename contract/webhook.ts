// Outbound webhooks (`client.beta.organization.webhooks`): the endpoint's request shapes, the event types an endpoint
// may subscribe to, and the payload a delivery carries (`BetaWebhookEvent`). See docs/webhooks.md.
import { z } from 'zod';
import type { Assignable } from './common.ts';
import type { BetaOrganizationWebhookEndpoint } from '@anthropic-ai/sdk/resources/beta/organization/webhooks';
import type { BetaWebhookEvent, BetaWebhookEventData } from '@anthropic-ai/sdk/resources/beta/webhooks';

/** The organization's id in event payloads: one organization per deployment. */
export const ORGANIZATION_ID = 'org_edgeharness';

/** The official organization event types, and (our extension) the resource events of the SDK's `beta/webhooks.d.ts`. */
export const WEBHOOK_EVENT_TYPES = [
  'external_key.failed',
  'external_key.recovered',
  'user_profile.enforcement_action_opened',
  'user_profile.enforcement_action_resolved',
  'user_profile.program_status_updated',
  'session.created',
  'session.pending',
  'session.running',
  'session.idled',
  'session.requires_action',
  'session.archived',
  'session.deleted',
  'session.updated',
  'session.status_rescheduled',
  'session.status_run_started',
  'session.status_idled',
  'session.status_terminated',
  'session.thread_created',
  'session.thread_idled',
  'session.thread_terminated',
  'session.outcome_evaluation_ended',
  'session.budget_reached',
  'deployment.created',
  'deployment.updated',
  'deployment.paused',
  'deployment.unpaused',
  'deployment.archived',
  'deployment.deleted',
  'deployment_run.started',
  'deployment_run.succeeded',
  'deployment_run.failed',
  'agent.created',
  'agent.updated',
  'agent.archived',
  'agent.deleted',
  'environment.created',
  'environment.updated',
  'environment.archived',
  'environment.deleted',
  'vault.created',
  'vault.archived',
  'vault.deleted',
  'vault_credential.created',
  'vault_credential.archived',
  'vault_credential.deleted',
  'vault_credential.refresh_failed',
  'memory_store.created',
  'memory_store.archived',
  'memory_store.deleted',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
// Every type we accept is one the SDK's payload union names.
export type KnownEventTypes = Assignable<WebhookEventType, BetaWebhookEventData['type']>;

/** An organization may have at most this many endpoints, enabled or disabled (as the official API). */
export const MAX_WEBHOOK_ENDPOINTS = 32;

const EventList = z.array(z.enum(WEBHOOK_EVENT_TYPES));
const Name = z.string().max(256);
const Description = z.string().max(4096);

export const WebhookCreateParams = z.strictObject({
  url: z.string().min(1).max(2048),
  enabled_events: EventList.min(1, 'must list at least one event type'),
  name: Name.optional(),
  description: Description.optional(),
});
export type WebhookCreateParams = z.infer<typeof WebhookCreateParams>;

export const WebhookUpdateParams = z.strictObject({
  url: z.string().min(1).max(2048).optional(),
  // An empty list leaves the set unchanged (SDK doc).
  enabled_events: EventList.optional(),
  name: Name.optional(),
  description: Description.optional(),
  state: z.enum(['enabled', 'disabled']).optional(),
});
export type WebhookUpdateParams = z.infer<typeof WebhookUpdateParams>;

export const WebhookListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  before_id: z.string().optional(),
  after_id: z.string().optional(),
  order: z.enum(['asc', 'desc']).default('desc'),
});

/** The endpoint as we answer it: the SDK's shape, with `enabled_events` widened to the event types we accept. */
export type WebhookEndpoint = Omit<BetaOrganizationWebhookEndpoint, 'enabled_events'> & { enabled_events: WebhookEventType[] };
export type NewWebhookEndpoint = WebhookEndpoint & { signing_secret: string };

/** The payload data of the events we emit: every resource event carries the ids below. */
export interface WebhookEventData {
  type: WebhookEventType;
  id: string;
  organization_id: string;
  workspace_id: string;
}

/** A delivery's body. */
export interface WebhookEvent {
  type: 'event';
  id: string;
  created_at: string;
  data: WebhookEventData;
}
export type WebhookEventIsSdk = Assignable<{ type: 'event'; id: string; created_at: string; data: { type: 'session.status_idled'; id: string; organization_id: string; workspace_id: string } }, BetaWebhookEvent>;

/** Where a URL may not point unless private delivery is allowed: loopback, private, link-local and unique-local. */
export function privateHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost') || h.endsWith('.local') || h.endsWith('.internal')) return true;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
  }
  if (h.includes(':')) {
    if (h === '::' || h === '::1') return true;
    if (h.startsWith('fc') || h.startsWith('fd') || h.startsWith('fe80')) return true;
    const mapped = /^::ffff:(.+)$/.exec(h);
    if (mapped) return mapped[1]!.includes('.') ? privateHost(mapped[1]!) : true;
  }
  return false;
}

/**
 * Why `url` cannot receive deliveries, or null. Deployed (allowPrivate false), only https to a public host; with
 * EDGEHARNESS_WEBHOOK_ALLOW_PRIVATE (set by `npm start` and the tests), http and loopback/private hosts too.
 */
export function webhookUrlProblem(url: string, allowPrivate: boolean): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'not a valid URL';
  }
  if (u.username || u.password) return 'must not carry credentials';
  if (allowPrivate) return u.protocol === 'https:' || u.protocol === 'http:' ? null : 'must be an http(s) URL';
  if (u.protocol !== 'https:') return 'must be an https URL';
  if (privateHost(u.hostname)) return 'must not point at a loopback or private address (set EDGEHARNESS_WEBHOOK_ALLOW_PRIVATE=1 to allow, as `npm start` does)';
  return null;
}

/**
 * The webhook events a session's new log events raise: its status changes (`session.status_*`), a budget stop
 * (`session.budget_reached`, beside the idle) and an ended outcome evaluation. Ids only: a receiver reads the rest
 * through the API.
 */
export function sessionWebhookEvents(events: readonly { type: string; stop_reason?: unknown }[], sessionId: string, workspaceId: string): WebhookEventData[] {
  const out: WebhookEventData[] = [];
  const add = (type: WebhookEventType) => out.push({ type, id: sessionId, organization_id: ORGANIZATION_ID, workspace_id: workspaceId });
  for (const e of events) {
    if (e.type === 'session.status_running') add('session.status_run_started');
    else if (e.type === 'session.status_idle') {
      add('session.status_idled');
      if ((e.stop_reason as { type?: string } | null | undefined)?.type === 'budget_reached') add('session.budget_reached');
    } else if (e.type === 'session.status_terminated') add('session.status_terminated');
    else if (e.type === 'session.status_rescheduled') add('session.status_rescheduled');
    else if (e.type === 'span.outcome_evaluation_end') add('session.outcome_evaluation_ended');
  }
  return out;
}

const RESOURCE_KINDS: Record<string, string> = {
  agents: 'agent',
  environments: 'environment',
  vaults: 'vault',
  memory_stores: 'memory_store',
  sessions: 'session',
  deployments: 'deployment',
};
/** What a POST to `/<id>/<suffix>` does. */
const SUFFIX_ACTIONS: Record<string, string> = { archive: 'archived', pause: 'paused', unpause: 'unpaused' };
const KNOWN = new Set<string>(WEBHOOK_EVENT_TYPES);

/**
 * The webhook event a successful API call raises, if any: `POST /v1/<resource>` → `<kind>.created`,
 * `POST /v1/<resource>/<id>` → `.updated`, `…/archive` → `.archived` (a deployment's `…/pause`, `…/unpause` →
 * `.paused`, `.unpaused`), `DELETE …/<id>` → `.deleted`, for the kinds and
 * actions the SDK's `beta/webhooks.d.ts` lists (a vault credential's carry its `vault_id`). `id` is absent for a
 * create: it is the id in the answer.
 */
export function resourceChange(method: string, path: string): { type: WebhookEventType; id?: string; vault_id?: string } | null {
  let kind: string | undefined;
  let id: string | undefined;
  let suffix: string | undefined;
  let vaultId: string | undefined;
  const cred = /^\/v1\/vaults\/([^/]+)\/credentials(?:\/([^/]+))?(?:\/(archive))?\/?$/.exec(path);
  const res = /^\/v1\/(agents|environments|vaults|memory_stores|sessions|deployments)(?:\/([^/]+))?(?:\/(archive|pause|unpause))?\/?$/.exec(path);
  if (cred) [kind, vaultId, id, suffix] = ['vault_credential', decodeURIComponent(cred[1]!), cred[2], cred[3]];
  else if (res) [kind, id, suffix] = [RESOURCE_KINDS[res[1]!], res[2], res[3]];
  else return null;
  const action = method === 'DELETE' ? (id && !suffix ? 'deleted' : null) : method !== 'POST' ? null : !id ? 'created' : suffix ? SUFFIX_ACTIONS[suffix] : 'updated';
  const type = action && `${kind}.${action}`;
  if (!type || !KNOWN.has(type)) return null;
  return { type: type as WebhookEventType, ...(id ? { id: decodeURIComponent(id) } : {}), ...(vaultId ? { vault_id: vaultId } : {}) };
}
