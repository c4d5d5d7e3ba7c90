// The one module that knows `@cloudflare/sandbox` (0.12, due to be replaced by 1.0): the sandbox Durable Object
// class of a session, the wiring of its egress through the Worker, and `SandboxLike` mapped onto the SDK.
import { ContainerProxy, Sandbox, getSandbox } from '@cloudflare/sandbox';
import type { CallRecord } from '../call-ledger.ts';
import type { ToolOutcome } from '../hands.ts';
import type { OpenSandbox, SandboxLike } from './container-hands.ts';
import { applyEgressPolicy, vaultReaderOf, type EgressParams } from './outbound-handler.ts';

// The Worker must export this entrypoint: the container's intercepted requests are delivered through it.
export { ContainerProxy };

const LEDGER_PREFIX = 'edgeharness:tool-call:';

/**
 * One per session (wrangler `class_name = "SessionSandbox"`): owns the session's container and keeps its call
 * records (the store of ../call-ledger.ts, whose rules run in the Worker).
 */
export class SessionSandbox extends Sandbox {
  // Only intercepted HTTP and HTTPS leave the container: with internet access on, raw TCP would bypass the policy.
  override enableInternet = false;
  // HTTPS is decrypted with the platform's per-sandbox CA (trusted in the image), so the handler sees every host.
  override interceptHttps = true;

  async readToolCall(key: string): Promise<CallRecord | undefined> {
    return this.ctx.storage.get<CallRecord>(LEDGER_PREFIX + key);
  }

  // Durable Object input gates keep the read and the write below from interleaving with another request.
  async claimToolCall(key: string, started: Extract<CallRecord, { state: 'started' }>): Promise<CallRecord | undefined> {
    const record = await this.ctx.storage.get<CallRecord>(LEDGER_PREFIX + key);
    if (record) return record;
    await this.ctx.storage.put<CallRecord>(LEDGER_PREFIX + key, started);
    return undefined;
  }

  async recordToolOutcome(key: string, outcome: ToolOutcome): Promise<void> {
    const record = await this.ctx.storage.get<CallRecord>(LEDGER_PREFIX + key);
    if (record?.state === 'done') return;
    await this.ctx.storage.put<CallRecord>(LEDGER_PREFIX + key, { state: 'done', outcome });
  }

  async forgetToolCalls(): Promise<void> {
    const keys = [...(await this.ctx.storage.list({ prefix: LEDGER_PREFIX })).keys()];
    for (let i = 0; i < keys.length; i += 128) await this.ctx.storage.delete(keys.slice(i, i + 128));
  }
}

// Registered per class name by the SDK, at module load, so the ContainerProxy entrypoint finds it in any isolate.
// `outbound` is the default (no params: refuses everything, and puts the container in intercept-all mode);
// `setNetworking` switches to `egressPolicy` with the session's networking as params.
function egressPolicy(request: Request, env: unknown, ctx: { params?: unknown }): Promise<Response> {
  return applyEgressPolicy(request, ctx.params, undefined, undefined, vaultReaderOf(env));
}

SessionSandbox.outboundHandlers = { egressPolicy };
SessionSandbox.outbound = egressPolicy;

/** `SandboxLike` over the SDK: one `SessionSandbox` per session, reached by `getSandbox` (which starts nothing). */
export function openSessionSandbox(namespace: DurableObjectNamespace<SessionSandbox>): OpenSandbox {
  return (sessionId): SandboxLike => {
    const sandbox = getSandbox(namespace, sandboxIdFor(sessionId));
    return {
      async setNetworking(networking, vault, clone) {
        const params: EgressParams = { networking, ...(vault ? { vault } : {}), ...(clone ? { clone } : {}) };
        await sandbox.setOutboundHandler('egressPolicy', params);
      },
      async exec(command, { timeoutMs }) {
        const result = await sandbox.exec(command, { timeout: timeoutMs });
        return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
      },
      async writeFile(path, content, options) {
        await sandbox.writeFile(path, content, options && { encoding: options.encoding });
      },
      calls: {
        read: (key) => sandbox.readToolCall(key),
        claim: (key, started) => sandbox.claimToolCall(key, started),
        finish: (key, outcome) => sandbox.recordToolOutcome(key, outcome),
      },
      async destroy() {
        await sandbox.destroy();
        await sandbox.forgetToolCalls();
      },
    };
  };
}

/**
 * The sandbox id of a session: its UTF-8 bytes in hex. Session ids mix cases, and the SDK warns about (and will
 * later lowercase) ids with capitals, which would merge `sesn_aB…` with `sesn_Ab…`; hex keeps them apart.
 */
function sandboxIdFor(sessionId: string): string {
  const hex = [...new TextEncoder().encode(sessionId)].map((b) => b.toString(16).padStart(2, '0')).join('');
  if (hex.length === 0 || hex.length > 63) throw new Error(`session id ${JSON.stringify(sessionId)} cannot name a sandbox (1-31 bytes)`);
  return hex;
}
