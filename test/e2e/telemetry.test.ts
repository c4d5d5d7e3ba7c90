// End to end: traces of a real runtime's sessions reach an OTLP/HTTP receiver the test runs on loopback. A session
// with a tool call exports a trace whose model request and tool call spans carry tokens and timing and name the
// session's events; `test` reports success; a destination whose collector is down never holds up a turn and ends
// disabled with the official reason; and a vault secret used in the session is in no exported byte, even to a
// destination that takes content.
import Anthropic from '@anthropic-ai/sdk';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScriptedRuntime, turn } from '../support/scripted-runtime.ts';
import { suiteFixture } from '../support/suite-fixture.ts';

type Event = Anthropic.Beta.Sessions.BetaManagedAgentsSessionEvent;

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Array<{ key: string; value: OtlpValue }>;
}

/** An OTLP/HTTP receiver: every body posted under `/<name>/v1/traces`, raw, by name. */
async function otlpReceiver(): Promise<{ server: Server; url: string; bodies: Map<string, string[]> }> {
  const bodies = new Map<string, string[]>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const name = /^\/([^/]+)\/v1\/traces$/.exec(req.url ?? '')?.[1];
      if (req.method !== 'POST' || !name || req.headers['content-type'] !== 'application/json') {
        res.writeHead(400).end();
        return;
      }
      bodies.set(name, [...(bodies.get(name) ?? []), Buffer.concat(chunks).toString('utf8')]);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies };
}

/** A loopback port nothing listens on: a collector that is down. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function spansIn(bodies: readonly string[]): OtlpSpan[] {
  return bodies.flatMap((b) =>
    (JSON.parse(b) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }> }).resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)),
  );
}

function attr(span: OtlpSpan, key: string): string | number | boolean | undefined {
  const v = span.attributes.find((a) => a.key === key)?.value;
  if (!v) return undefined;
  return v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.doubleValue ?? v.boolValue;
}

const SECRET = `canary-${crypto.randomUUID()}`;

describe('telemetry to an OTLP receiver', () => {
  const e2e = suiteFixture(
    () =>
      startScriptedRuntime('telemetry', {
        // Quick retries, and a collector down for 2 s counts as a sustained failure.
        workerVars: { EDGEHARNESS_TELEMETRY_RETRY_BASE_MS: '100', EDGEHARNESS_TELEMETRY_DISABLE_AFTER_MS: '2000' },
      }),
    (run) => run.stop(),
  );
  let receiver: Awaited<ReturnType<typeof otlpReceiver>>;
  let admin: Anthropic;
  let agentId: string;
  let environmentId: string;

  beforeAll(async () => {
    receiver = await otlpReceiver();
    admin = new Anthropic({ baseURL: e2e.runtime.url, apiKey: e2e.runtime.adminKey, maxRetries: 0 });
    agentId = (await e2e.client.beta.agents.create({ name: 'traced', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] })).id;
    environmentId = (await e2e.client.beta.environments.create({ name: 'traced env' })).id;
  });
  afterAll(() => {
    receiver?.server.close();
  });

  const newSession = async () => (await e2e.client.beta.sessions.create({ agent: agentId, environment_id: environmentId })).id;
  const spansOf = (name: string, sessionId: string) =>
    spansIn(receiver.bodies.get(name) ?? []).filter((s) => attr(s, 'edgeharness.session.id') === sessionId);

  it('exports a trace of a turn with a tool call: model requests and the tool call with tokens, timing and event ids', async () => {
    const destination = await admin.beta.organization.telemetryDestinations.create({
      endpoint_url: `${receiver.url}/main`,
      display_name: 'local collector',
      workspaces: { type: 'all' },
    });
    const tested = await admin.beta.organization.telemetryDestinations.test(destination.id);
    expect(tested.result).toEqual({ type: 'success' });
    expect(spansIn(receiver.bodies.get('main') ?? []).map((s) => s.name)).toContain('anthropic.test');

    const sessionId = await newSession();
    const seen = await turn(e2e.client, sessionId, '[[tool:bash {"command":"echo traced"}]]');
    expect(seen.some((e) => e.type === 'agent.tool_result')).toBe(true);

    await expect.poll(() => spansOf('main', sessionId).some((s) => s.name.startsWith('invoke_agent')), { timeout: 30_000 }).toBe(true);
    const spans = spansOf('main', sessionId);
    const events: Event[] = [];
    for await (const e of e2e.client.beta.sessions.events.list(sessionId)) events.push(e as Event);
    const ids = new Set(events.map((e) => e.id));

    // One trace: a root for the turn, the rest under it.
    const root = spans.find((s) => s.name.startsWith('invoke_agent'))!;
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([root.traceId]));
    for (const s of spans.filter((x) => x !== root)) expect(s.parentSpanId, s.name).toBeTruthy();

    const chats = spans.filter((s) => s.name.startsWith('chat '));
    expect(chats.length).toBeGreaterThanOrEqual(2); // the tool call, then the answer
    for (const chat of chats) {
      expect(attr(chat, 'gen_ai.operation.name')).toBe('chat');
      expect(attr(chat, 'gen_ai.request.model')).toBe('claude-sonnet-5-5');
      expect(attr(chat, 'gen_ai.usage.output_tokens')).toBeGreaterThan(0);
      expect(typeof attr(chat, 'gen_ai.usage.input_tokens')).toBe('number');
      expect(typeof attr(chat, 'gen_ai.usage.cache_read.input_tokens')).toBe('number');
      expect(typeof attr(chat, 'edgeharness.cost_usd')).toBe('number');
    }
    const tool = spans.find((s) => s.name === 'execute_tool bash')!;
    expect(tool).toBeDefined();
    expect(attr(tool, 'gen_ai.tool.name')).toBe('bash');
    const toolUse = events.find((e) => e.type === 'agent.tool_use')!;
    expect(attr(tool, 'gen_ai.tool.call.id')).toBe(toolUse.id);

    // Durations come from the events' own times, and every span names the events it was built from.
    for (const s of spans) {
      expect(BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano), s.name).toBe(true);
      expect(ids.has(String(attr(s, 'edgeharness.event.id'))), `${s.name} start event`).toBe(true);
      expect(attr(s, 'edgeharness.agent.id')).toBe(agentId);
    }
    expect(attr(tool, 'edgeharness.end_event.id')).toBe(events.find((e) => e.type === 'agent.tool_result')!.id);

    const health = await admin.beta.organization.telemetryDestinations.retrieve(destination.id);
    expect(health.delivery_health.last_success_at).not.toBeNull();
    expect(health.state).toEqual({ type: 'enabled' });
    // Metadata only by default: the command the agent ran is in no span.
    expect((receiver.bodies.get('main') ?? []).join('')).not.toContain('echo traced');
  });

  it('finishes turns while a collector is down, and disables that destination as a sustained failure', async () => {
    const down = await admin.beta.organization.telemetryDestinations.create({
      endpoint_url: `http://127.0.0.1:${await deadPort()}/down`,
      workspaces: { type: 'all' },
    });
    const failed = await admin.beta.organization.telemetryDestinations.test(down.id);
    expect(failed.result).toEqual({ type: 'failure', error: 'connection failure' });

    const sessionId = await newSession();
    for (const text of ['[[reply:one]]', '[[reply:two]]', '[[reply:three]]']) {
      const seen = await turn(e2e.client, sessionId, text);
      expect(seen.at(-1)?.type).toBe('session.status_idle');
    }
    // The healthy destination still receives every turn.
    await expect.poll(() => spansOf('main', sessionId).filter((s) => s.name.startsWith('invoke_agent')).length, { timeout: 30_000 }).toBe(3);

    await expect
      .poll(async () => (await admin.beta.organization.telemetryDestinations.retrieve(down.id)).state, { timeout: 60_000, interval: 500 })
      .toEqual({ type: 'disabled', reason: { type: 'sustained_failure' } });
    const after = await admin.beta.organization.telemetryDestinations.retrieve(down.id);
    expect(after.delivery_health).toMatchObject({ last_error: 'connection failure', last_success_at: null });
    await admin.beta.organization.telemetryDestinations.delete(down.id);
  });

  it('exports no byte of a vault secret the session used, even to a destination that takes content', async () => {
    const content = await admin.beta.organization.telemetryDestinations.create({
      endpoint_url: `${receiver.url}/content`,
      workspaces: { type: 'all' },
      traces: { content_mode: 'content' },
    });
    const vault = await e2e.client.beta.vaults.create({ display_name: 'traced vault' });
    await e2e.client.beta.vaults.credentials.create(vault.id, {
      display_name: 'token',
      auth: { type: 'environment_variable', secret_name: 'TOKEN', secret_value: SECRET, networking: { type: 'limited', allowed_hosts: ['127.0.0.2'] } },
    });
    const session = await e2e.client.beta.sessions.create({ agent: agentId, environment_id: environmentId, vault_ids: [vault.id] });
    // The agent reads the secret's variable and spells it several ways: the sandbox hands back only its placeholder.
    await turn(e2e.client, session.id, `[[tool:bash ${JSON.stringify({ command: 'echo "$TOKEN"; echo "$TOKEN" | base64; echo "$TOKEN" | rev' })}]]`);

    await expect.poll(() => spansOf('content', session.id).some((s) => s.name.startsWith('invoke_agent')), { timeout: 30_000 }).toBe(true);
    const exported = (receiver.bodies.get('content') ?? []).join('\n');
    // Content was exported (the tool's command is there), and the secret in no spelling.
    expect(exported).toContain('base64');
    expect(exported).not.toContain(SECRET);
    expect(exported).not.toContain(Buffer.from(SECRET).toString('base64').slice(0, 24));
    expect(exported).not.toContain([...SECRET].reverse().join(''));
    // Nor in anything any destination received.
    expect([...receiver.bodies.values()].flat().join('\n')).not.toContain(SECRET);
    await admin.beta.organization.telemetryDestinations.delete(content.id);
  });
});
