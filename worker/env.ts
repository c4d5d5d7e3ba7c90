// The bindings and variables the Worker and its Durable Objects receive (see wrangler.toml and the README).
import type { Brain } from './brain/brain.ts';
import type { DeploymentScheduler } from '../durable-objects/deployment-scheduler.ts';
import type { Directory } from '../durable-objects/directory.ts';
import type { SessionLog } from '../durable-objects/session-log.ts';
import type { WorkspaceStore } from '../durable-objects/workspace-store.ts';
import type { WebhookOutbox } from '../durable-objects/webhook-outbox.ts';
import type { TelemetryOutbox } from '../durable-objects/telemetry-outbox.ts';
import type { SessionSandbox } from '../sandbox/cloudflare/session-sandbox.ts';

export interface Env {
  SESSION_LOG: DurableObjectNamespace<SessionLog>;
  WORKSPACE: DurableObjectNamespace<WorkspaceStore>;
  DIRECTORY: DurableObjectNamespace<Directory>;
  /** One per scheduled deployment: the schedule's alarm (durable-objects/deployment-scheduler.ts). */
  DEPLOYMENT_SCHEDULER: DurableObjectNamespace<DeploymentScheduler>;
  BRAIN: Service<Brain>;
  /** The console's static files (web/, `[assets]` in wrangler.toml); absent where the Worker runs without them. */
  ASSETS?: Fetcher;
  /** The organization's webhook endpoints and the queue of deliveries to them (docs/webhooks.md). */
  WEBHOOKS: DurableObjectNamespace<WebhookOutbox>;
  /**
   * "1": webhook endpoints may be http and point at loopback/private addresses. `npm start` and the tests set it;
   * deployed, leave it unset (https to public hosts only).
   */
  EDGEHARNESS_WEBHOOK_ALLOW_PRIVATE?: string;
  /** Webhook delivery: attempts before the endpoint is disabled (default 8), and the first retry's delay in ms (default 30000, doubling). */
  EDGEHARNESS_WEBHOOK_MAX_ATTEMPTS?: string;
  EDGEHARNESS_WEBHOOK_RETRY_BASE_MS?: string;
  /** The organization's telemetry destinations and the queue of spans for them (docs/telemetry.md). */
  TELEMETRY: DurableObjectNamespace<TelemetryOutbox>;
  /**
   * "1": telemetry destinations may be http, IP addresses, loopback/private hosts and any port. `npm start` and the
   * tests set it; deployed, leave it unset (https on port 443 to public hostnames only).
   */
  EDGEHARNESS_TELEMETRY_ALLOW_PRIVATE?: string;
  /** Span delivery: the first retry's delay in ms (default 1000, doubling, at most 5 minutes). */
  EDGEHARNESS_TELEMETRY_RETRY_BASE_MS?: string;
  /** How long deliveries may fail with no success in between before the destination is disabled (ms, default 3600000). */
  EDGEHARNESS_TELEMETRY_DISABLE_AFTER_MS?: string;
  /** The files' bytes (worker/api/routes/files.ts), keyed `<workspace id>/<file id>`; their metadata is in WORKSPACE. */
  FILES: R2Bucket;
  /** Lowers the largest file an upload may carry (default and ceiling 500000000 bytes, contract/file.ts). */
  EDGEHARNESS_MAX_FILE_BYTES?: string;
  /** API key of the default workspace. */
  EDGEHARNESS_API_KEY?: string;
  /**
   * The organization's admin key: the only key the `/v1/organizations/*` routes take (workspaces, API keys, webhooks);
   * unset, those routes answer 401. `npm start` generates and saves one as it does the API key.
   */
  EDGEHARNESS_ADMIN_KEY?: string;
  /**
   * Requests per minute an API key may make unless it has a limit of its own (the `rate_limit_per_minute` of the
   * create-key extension). Default 6000; "0" turns the default limit off. Counted in the Directory's token buckets.
   */
  EDGEHARNESS_RATE_LIMIT_PER_MINUTE?: string;
  /**
   * Deployed only, optional: the Workers rate-limiting binding (`[[env.cloudflare.ratelimits]]` in wrangler.toml).
   * Bound, it counts the keys that have no limit of their own instead of the Directory; see docs/workspaces.md.
   */
  RATE_LIMITER?: RateLimit;
  /**
   * Origins whose web pages may call the API from a browser (CORS), comma-separated exact origins such as
   * `https://app.example.com`; `*` allows any. Unset: none but the runtime's own (the console). See docs/browser.md.
   */
  EDGEHARNESS_ALLOWED_ORIGINS?: string;
  /** HMAC key for short-lived browser stream tokens; falls back to a key derived from EDGEHARNESS_API_KEY. */
  EDGEHARNESS_STREAM_TOKEN_SECRET?: string;
  /**
   * The vault's master key: the base64 of 32 random bytes (`openssl rand -base64 32`). Credential secrets are
   * sealed under it (AES-256-GCM, vault/crypto.ts); without it no credential can be created. A Worker secret.
   */
  VAULT_MASTER_KEY?: string;
  /**
   * Rotation: former master keys, comma-separated, same format. Used only to open secrets sealed under them; every
   * new or updated secret is sealed under VAULT_MASTER_KEY. Remove a key once nothing is sealed under it.
   */
  VAULT_PREVIOUS_MASTER_KEYS?: string;
  ANTHROPIC_API_KEY?: string;
  ANTHROPIC_BASE_URL?: string;
  /** Cloudflare provider only (`--env cloudflare`): one SessionSandbox (and container) per session. */
  SANDBOX?: DurableObjectNamespace<SessionSandbox>;
  /**
   * Which hands run tools (sandbox/providers.ts): "local" (unset or empty too) is the sandbox host `npm start` runs,
   * "cloudflare" containers (set by `--env cloudflare`); any other name gives hands that refuse every call
   * (a tool call is an error result) with a message naming this variable and the providers there are.
   */
  SANDBOX_PROVIDER?: string;
  /** Local provider: the sandbox host started by `npm start`, and the secret the Worker authenticates with. */
  SANDBOX_HOST_URL?: string;
  EDGEHARNESS_SANDBOX_SECRET?: string;
  /** Brain lease length in ms (default 30000); a crashed brain's session is re-woken after it. */
  EDGEHARNESS_LEASE_MS?: string;
  /** Model attempts per request before retries_exhausted (default 5), and the first backoff in ms (default 1000). */
  EDGEHARNESS_MODEL_MAX_ATTEMPTS?: string;
  EDGEHARNESS_RETRY_BASE_MS?: string;
}

export { DEFAULT_WORKSPACE_ID } from '../contract/workspace.ts';
