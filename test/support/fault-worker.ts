// Test-only Worker entry: the production Worker, whose brain steps can be killed at named points
// (test/support/faults.ts). The SessionLog keeps the pending kills in a table of its own, the Brain wraps the
// log, the hands and the MCP client it gives each step so a step dies where a test asked, once, exactly as if its process had
// died there, and `/v1/sessions/{id}/_faults` lets an end-to-end test ask. The workerd tests run this entry
// (vitest.config.ts); the end-to-end runtime runs it when a test passes `workerEntry` to scripts/runtime.ts.
import { z } from 'zod';
import production from '../../worker/index.ts';
import type { Env } from '../../worker/env.ts';
import { Brain as ProductionBrain } from '../../worker/brain/brain.ts';
import type { McpPort } from '../../worker/brain/mcp-client.ts';
import type { FilePort, LogPort, StepPorts } from '../../worker/brain/ports.ts';
import type { StepOutcome } from '../../worker/brain/step.ts';
import { SessionLog as ProductionSessionLog } from '../../durable-objects/session-log.ts';
import type { Hands } from '../../sandbox/hands.ts';
import { FAULT_POINTS, faultLog, type FaultPoint } from './faults.ts';

// Everything else (WorkspaceStore, Directory, the Cloudflare sandbox classes) as production exports it; the classes
// below take the names wrangler.toml binds.
export * from '../../worker/index.ts';

/** The production SessionLog plus a table of pending kills. */
export class SessionLog extends ProductionSessionLog {
  async injectFaults(points: FaultPoint[]): Promise<void> {
    if (this.leaseInfo() === null) throw new Error('session not found');
    this.faultTable();
    for (const point of points) this.ctx.storage.sql.exec(`INSERT INTO test_faults (point) VALUES (?)`, point);
  }

  async pendingFaults(): Promise<FaultPoint[]> {
    this.faultTable();
    return this.ctx.storage.sql.exec<{ point: FaultPoint }>(`SELECT point FROM test_faults ORDER BY seq`).toArray().map((r) => r.point);
  }

  /** The brain is about to die at `point`: it dies there once only. */
  async takeFault(point: FaultPoint): Promise<boolean> {
    this.faultTable();
    const row = this.ctx.storage.sql.exec<{ seq: number }>(`SELECT seq FROM test_faults WHERE point = ? ORDER BY seq LIMIT 1`, point).toArray()[0];
    if (!row) return false;
    this.ctx.storage.sql.exec(`DELETE FROM test_faults WHERE seq = ?`, row.seq);
    return true;
  }

  private faultTable(): void {
    this.ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS test_faults (seq INTEGER PRIMARY KEY AUTOINCREMENT, point TEXT NOT NULL)`);
  }
}

/** A simulated kill: the step stops where it is, lease still held, and the watchdog hands the session on. */
class Killed extends Error {
  constructor(point: FaultPoint) {
    super(`brain killed at ${point}`);
  }
}

/** The production Brain, whose steps die at the points their session's log has pending. */
export class Brain extends ProductionBrain {
  override async step(sessionId: string, epoch: number): Promise<StepOutcome> {
    try {
      return await super.step(sessionId, epoch);
    } catch (err) {
      // To the log a killed brain is one whose epoch is stale: the watchdog gives the session to the next one.
      if (err instanceof Killed) return 'stale';
      throw err;
    }
  }

  protected override ports(sessionId: string): StepPorts {
    const ports = super.ports(sessionId);
    const faults = faultLog(this.env, sessionId);
    // The kills pending when the step starts, as the step would have found them; each is taken (once) as it fires.
    let pending = new Set<FaultPoint>();
    const killAt = async (point: FaultPoint): Promise<void> => {
      if (!pending.has(point)) return;
      pending.delete(point);
      if (await faults.takeFault(point)) throw new Killed(point);
    };
    const log: LogPort = {
      async readForStep(epoch, types) {
        pending = new Set(await faults.pendingFaults());
        return ports.log.readForStep(epoch, types);
      },
      async emit(epoch, events, opts) {
        const carries = (type: string) => events.some((e) => e.type === type);
        if (carries('session.status_running')) await killAt('before_running');
        if (events.some((e) => e.type === 'span.model_request_end' && !e.is_error)) await killAt('after_model_response');
        if (carries('span.outcome_evaluation_end')) await killAt('after_grader_response');
        const result = await ports.log.emit(epoch, events, opts);
        if (result.ok && carries('session.status_running')) await killAt('after_running');
        if (result.ok && carries('span.model_request_start')) await killAt('after_model_request_start');
        return result;
      },
      async broadcastDelta(epoch, delta, thread) {
        const sent = await ports.log.broadcastDelta(epoch, delta, thread);
        if (delta.type === 'event_delta') await killAt('mid_stream');
        return sent;
      },
      release: (epoch) => ports.log.release(epoch),
      stillHolds: (epoch) => ports.log.stillHolds(epoch),
      async claimCall(epoch, key) {
        await killAt('after_mcp_tool_use');
        return ports.log.claimCall(epoch, key);
      },
    };
    const mcp: McpPort = {
      async connect(url, bearer) {
        const r = await ports.mcp.connect(url, bearer);
        if (!r.ok) return r;
        const { connection } = r;
        return {
          ok: true,
          connection: {
            tools: connection.tools,
            close: () => connection.close(),
            async call(name, input) {
              const outcome = await connection.call(name, input);
              await killAt('after_mcp_tool_call');
              return outcome;
            },
          },
        };
      },
    };
    const hands: Hands = {
      provision: (spec) => ports.hands.provision(spec),
      destroy: (id) => ports.hands.destroy(id),
      async execute(spec, call) {
        await killAt('after_tool_use');
        const outcome = await ports.hands.execute(spec, call);
        await killAt('after_tool_execution');
        return outcome;
      },
    };
    const files: FilePort = {
      ...ports.files,
      async saveMemoryChanges(...args) {
        const saved = await ports.files.saveMemoryChanges(...args);
        await killAt('after_memory_save');
        return saved;
      },
    };
    return { ...ports, log, hands, mcp, files };
  }
}

const FaultParams = z.strictObject({ points: z.array(z.enum(FAULT_POINTS)).min(1) });
const FAULTS_PATH = /^\/v1\/sessions\/([^/]+)\/_faults$/;

/**
 * `POST /v1/sessions/{id}/_faults` `{"points": [...]}` makes the session's next steps die at those points;
 * `GET` lists the points still pending (a point is taken when a step dies there). Everything else is the API.
 */
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const match = FAULTS_PATH.exec(url.pathname);
    if (!match || (request.method !== 'POST' && request.method !== 'GET')) return production.fetch(request, env, ctx);
    const sessionId = decodeURIComponent(match[1]!);
    // Auth and ownership as the API decides them: the caller must be able to see the session.
    const owned = await production.fetch(new Request(new URL(`/v1/sessions/${match[1]}`, url), { headers: request.headers }), env, ctx);
    if (!owned.ok) return owned;
    const faults = faultLog(env, sessionId);
    if (request.method === 'GET') return Response.json({ type: 'faults', session_id: sessionId, points: await faults.pendingFaults() });
    const body = FaultParams.safeParse(await request.json().catch(() => null));
    if (!body.success) return Response.json({ type: 'error', error: { type: 'invalid_request_error', message: body.error.message } }, { status: 400 });
    await faults.injectFaults(body.data.points);
    return Response.json({ type: 'faults_injected', session_id: sessionId, points: body.data.points });
  },
} satisfies ExportedHandler<Env>;
