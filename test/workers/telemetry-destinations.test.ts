// Telemetry destinations through the official SDK (`client.beta.organization.telemetryDestinations`, admin key
// only): round-trips in the official shape with header values never answered, the documented update semantics,
// workspace lists, 400s naming the field; `test` and exported spans against the test receiver
// (test/support/webhook-receiver.ts) as an OTLP collector; a failing collector is disabled with the official reason.
import Anthropic, { BadRequestError, NotFoundError, PermissionDeniedError, RateLimitError } from '@anthropic-ai/sdk';
import { SELF, env } from 'cloudflare:test';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { KEY } from './api.ts';
import { invalidAddress, telemetryUrlProblem } from '../../contract/telemetry.ts';
import type { TraceSpan } from '../../contract/trace-span.ts';
import { telemetryOutbox } from '../../durable-objects/stubs.ts';

const BASE = 'http://edgeharness.test';
const sdk = (apiKey = 'test-admin-key') => new Anthropic({ apiKey, baseURL: BASE, maxRetries: 0, fetch: (input, init) => SELF.fetch(input, init) });
const destinations = () => sdk().beta.organization.telemetryDestinations;
const receiver = () => inject('webhookReceiverUrl');
const unique = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
/** A collector at the test receiver: spans arrive at `/hooks/<name>/v1/traces`. */
const collector = (name: string) => `${receiver()}/hooks/${name}`;
const SECRET = 'Bearer canary-7f3a9c-never-answered';

interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  status: number;
}
async function received(name: string): Promise<Received[]> {
  return (await (await fetch(`${receiver()}/received/${name}`)).json()) as Received[];
}

interface OtlpSpan {
  name: string;
  traceId: string;
  attributes: { key: string; value: Record<string, unknown> }[];
}
/** The spans of OTLP JSON request bodies, with the resource's service.name. */
function otlpSpans(bodies: Received[]): { service: unknown; span: OtlpSpan }[] {
  return bodies.flatMap((b) =>
    (JSON.parse(b.body) as { resourceSpans: { resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: { spans: OtlpSpan[] }[] }[] }).resourceSpans.flatMap((rs) =>
      rs.scopeSpans.flatMap((ss) => ss.spans.map((span) => ({ service: rs.resource.attributes.find((a) => a.key === 'service.name')?.value, span }))),
    ),
  );
}

function span(name: string, attributes: TraceSpan['attributes'] = {}): TraceSpan {
  const hex = (n: number) => [...crypto.getRandomValues(new Uint8Array(n))].map((b) => b.toString(16).padStart(2, '0')).join('');
  const now = Date.now();
  return { traceId: hex(16), spanId: hex(8), name, kind: 'client', startMs: now - 5, endMs: now, status: { code: 'ok' }, attributes, events: [] };
}

async function newWorkspace(): Promise<string> {
  return (await sdk().beta.organization.workspaces.create({ name: unique('ws') })).id;
}

// One organization for the whole file, and at most 10 destinations in it: each test leaves none behind.
afterEach(async () => {
  for await (const d of destinations().list()) await destinations().delete(d.id);
});

describe('telemetry destinations', () => {
  it('round-trips in the official shape and never answers a header value', async () => {
    const created = await destinations().create({
      endpoint_url: collector(unique('rt')),
      workspaces: { type: 'all' },
      display_name: 'Collector',
      headers: { authorization: SECRET },
    });
    expect(created).toMatchObject({
      type: 'telemetry_destination',
      display_name: 'Collector',
      header_names: ['authorization'],
      state: { type: 'enabled' },
      traces: { enabled: true, endpoint_url: null, content_mode: 'metadata_only', max_content_bytes: null },
      workspaces: { type: 'all' },
      delivery_health: { last_error: null, last_error_at: null, last_success_at: null },
    });
    expect(created.id).toMatch(/^tdst_/);
    const read = await destinations().retrieve(created.id);
    expect(read).toEqual(created);
    const listed = await destinations().list();
    expect(listed.data.map((d) => d.id)).toEqual([created.id]);
    for (const answer of [created, read, listed.data]) expect(JSON.stringify(answer)).not.toContain('canary');

    await destinations().delete(created.id);
    await expect(destinations().retrieve(created.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuses a workspace key', async () => {
    await expect(sdk(KEY).beta.organization.telemetryDestinations.list()).rejects.toBeInstanceOf(PermissionDeniedError);
  });

  it('updates as documented: omitted fields keep, null clears, a new hostname drops the headers', async () => {
    const url = collector(unique('upd'));
    const d = await destinations().create({ endpoint_url: url, workspaces: { type: 'all' }, display_name: 'A', headers: { authorization: SECRET, 'x-team': 'a' } });
    const renamed = await destinations().update(d.id, { traces: { content_mode: 'content', max_content_bytes: 1000 } });
    expect(renamed.display_name).toBe('A');
    expect(renamed.header_names).toEqual(['authorization', 'x-team']);
    expect(renamed.traces).toMatchObject({ content_mode: 'content', max_content_bytes: 1000, enabled: true });

    const cleared = await destinations().update(d.id, { display_name: null, traces: null });
    expect(cleared.display_name).toBeNull();
    expect(cleared.traces).toEqual({ enabled: true, endpoint_url: null, content_mode: 'metadata_only', max_content_bytes: null });

    // Setting a header value needs endpoint_url (the current one is accepted); null removes one.
    await expect(destinations().update(d.id, { headers: { 'x-team': 'b' } })).rejects.toThrow(/headers: .*endpoint_url/);
    const merged = await destinations().update(d.id, { endpoint_url: url, headers: { 'x-team': null, 'X-Region': 'eu' } });
    expect(merged.header_names).toEqual(['authorization', 'X-Region']);

    // A path change keeps the headers; a new host (here: port) removes them.
    const pathOnly = await destinations().update(d.id, { endpoint_url: `${url}/otlp` });
    expect(pathOnly.header_names).toEqual(['authorization', 'X-Region']);
    const moved = await destinations().update(d.id, { endpoint_url: url.replace('127.0.0.1', 'localhost') });
    expect(moved.header_names).toEqual([]);

    const disabled = await destinations().update(d.id, { state: { type: 'disabled' } });
    expect(disabled.state).toEqual({ type: 'disabled', reason: { type: 'caller' } });
    expect((await destinations().update(d.id, { state: { type: 'enabled' } })).state).toEqual({ type: 'enabled' });
    expect(JSON.stringify(await destinations().retrieve(d.id))).not.toContain('canary');
  });

  it('refuses bad input with a 400 naming the field', async () => {
    const all = { type: 'all' } as const;
    const refusal = (p: Promise<unknown>) => expect(p).rejects.toBeInstanceOf(BadRequestError);
    await refusal(destinations().create({ endpoint_url: 'ftp://collector.example.com', workspaces: all }));
    await expect(destinations().create({ endpoint_url: `${collector('q')}?token=1`, workspaces: all })).rejects.toThrow(/endpoint_url: must not contain a query/);
    await expect(destinations().create({ endpoint_url: collector('h'), workspaces: all, headers: { 'content-type': 'text/plain' } })).rejects.toThrow(
      /headers\.content-type: is a reserved header name/,
    );
    await expect(destinations().create({ endpoint_url: collector('h'), workspaces: all, headers: { X_Forwarded_For: '1.2.3.4' } })).rejects.toThrow(/reserved/);
    await expect(destinations().create({ endpoint_url: collector('h'), workspaces: all, headers: { 'x-a': ' padded' } })).rejects.toThrow(/headers\.x-a: .*space/);
    await expect(destinations().create({ endpoint_url: collector('w'), workspaces: { type: 'include', workspace_ids: ['wrkspc_nope'] } })).rejects.toThrow(
      /workspaces\.workspace_ids\[0\]: no workspace wrkspc_nope/,
    );
    await expect(
      destinations().create({ endpoint_url: collector('w'), workspaces: { type: 'all', workspace_ids: ['wrkspc_default'] } as never }),
    ).rejects.toThrow(/workspace_ids/);
    await expect(destinations().create({ endpoint_url: collector('m'), workspaces: all, traces: { max_content_bytes: 10_000_000 } })).rejects.toThrow(
      /traces\.max_content_bytes: .*1048576/,
    );
    expect((await destinations().list()).data).toEqual([]);

    for (let i = 0; i < 10; i++) await destinations().create({ endpoint_url: collector(unique('n')), workspaces: all });
    await expect(destinations().create({ endpoint_url: collector('eleven'), workspaces: all })).rejects.toThrow(/at most 10 telemetry destinations/);
  });

  it('deployed, takes only https on port 443 to a hostname', () => {
    expect(telemetryUrlProblem('https://collector.example.com/otlp', false)).toBeNull();
    expect(telemetryUrlProblem('https://collector.example.com:443', false)).toBeNull();
    expect(telemetryUrlProblem('http://collector.example.com', false)).toMatch(/https/);
    expect(telemetryUrlProblem('https://collector.example.com:4318', false)).toMatch(/443/);
    expect(telemetryUrlProblem('https://10.0.0.1', false)).toMatch(/not an IP address/);
    expect(telemetryUrlProblem('https://u:p@collector.example.com', false)).toMatch(/username/);
    expect(telemetryUrlProblem('https://collector.example.com/#x', false)).toMatch(/fragment/);
    expect(telemetryUrlProblem(`https://collector.example.com/${'a'.repeat(2048)}`, false)).toMatch(/2048/);
    expect(telemetryUrlProblem('http://127.0.0.1:4318', true)).toBeNull();
    // A loopback or private host is refused at delivery, as an invalid address, unless private delivery is allowed.
    expect(invalidAddress('https://localhost/v1/traces', false)).toBe(true);
    expect(invalidAddress('https://192.168.1.10/v1/traces', false)).toBe(true);
    expect(invalidAddress('https://collector.example.com/v1/traces', false)).toBe(false);
    expect(invalidAddress('http://127.0.0.1:4318/v1/traces', true)).toBe(false);
  });

  it('keeps a workspace list: add, list newest first, remove', async () => {
    const [a, b] = [await newWorkspace(), await newWorkspace()];
    const d = await destinations().create({ endpoint_url: collector(unique('ws')), workspaces: { type: 'include', workspace_ids: [a] } });
    const lists = destinations().workspaces;
    const added = await lists.add(b, { destination_id: d.id });
    expect(added).toMatchObject({ type: 'telemetry_destination_workspace', telemetry_destination_id: d.id, workspace_id: b });
    expect((await lists.add(b, { destination_id: d.id })).created_at).toBe(added.created_at);
    expect((await lists.list(d.id)).data.map((w) => w.workspace_id)).toEqual([b, a]);
    expect((await destinations().list({ workspace_ids: [b] })).data.map((x) => x.id)).toEqual([d.id]);
    expect(await lists.remove(b, { destination_id: d.id })).toEqual({ type: 'telemetry_destination_workspace_deleted', telemetry_destination_id: d.id, workspace_id: b });
    await expect(lists.remove(b, { destination_id: d.id })).rejects.toBeInstanceOf(NotFoundError);
    expect((await destinations().list({ workspace_ids: [b] })).data).toEqual([]);

    const everywhere = await destinations().create({ endpoint_url: collector(unique('all')), workspaces: { type: 'all' } });
    await expect(lists.add(a, { destination_id: everywhere.id })).rejects.toBeInstanceOf(BadRequestError);
    expect((await lists.list(everywhere.id)).data).toEqual([]);
  });

  it('tests a destination once: success, a failure with the official wording, and a 429 within 10 s', async () => {
    const up = unique('testok');
    const ok = await destinations().create({ endpoint_url: collector(up), workspaces: { type: 'all' }, headers: { authorization: SECRET } });
    expect(await destinations().test(ok.id)).toEqual({ type: 'telemetry_destination_test', result: { type: 'success' } });
    const got = await received(up);
    expect(got).toHaveLength(1);
    expect(got[0]!.path).toBe(`/hooks/${up}/v1/traces`);
    expect(got[0]!.headers.authorization).toBe(SECRET);
    expect(otlpSpans(got).map((s) => s.span.name)).toEqual(['anthropic.test']);
    await expect(destinations().test(ok.id)).rejects.toBeInstanceOf(RateLimitError);

    const down = await destinations().create({ endpoint_url: collector(unique('status503')), workspaces: { type: 'all' } });
    expect(await destinations().test(down.id)).toEqual({ type: 'telemetry_destination_test', result: { type: 'failure', error: 'HTTP error (status 503)' } });
    // A test changes neither state nor delivery_health.
    expect(await destinations().retrieve(down.id)).toEqual(down);

    const nobody = await destinations().create({ endpoint_url: 'http://127.0.0.1:1', workspaces: { type: 'all' } });
    expect(await destinations().test(nobody.id)).toEqual({ type: 'telemetry_destination_test', result: { type: 'failure', error: 'connection failure' } });
  });

  it('posts to traces.endpoint_url exactly, with content cut to max_content_bytes; traces.enabled false queues nothing', async () => {
    const [name, off] = [unique('custom'), unique('off')];
    const d = await destinations().create({
      endpoint_url: receiver(),
      workspaces: { type: 'all' },
      traces: { endpoint_url: `${collector(name)}/otlp/traces`, content_mode: 'content', max_content_bytes: 4 },
    });
    const quiet = await destinations().create({ endpoint_url: collector(off), workspaces: { type: 'all' }, traces: { enabled: false } });
    const outbox = telemetryOutbox(env);
    await outbox.exportSpans({ workspaceId: 'wrkspc_default', sessionId: 'sesn_content', spans: [span('chat', { 'gen_ai.input.messages': 'a prompt' })] });
    await expect.poll(async () => (await received(name)).length, { timeout: 20_000 }).toBe(1);
    const got = await received(name);
    expect(got[0]!.path).toBe(`/hooks/${name}/otlp/traces`);
    const attrs = Object.fromEntries(otlpSpans(got)[0]!.span.attributes.map((a) => [a.key, a.value]));
    expect(attrs['gen_ai.input.messages']).toEqual({ stringValue: 'a pr' });
    expect((await outbox.queued())[quiet.id]).toBeUndefined();
    expect(await received(off)).toEqual([]);
    expect((await destinations().retrieve(d.id)).delivery_health.last_error).toBeNull();
  });

  it('exports spans as OTLP JSON to each enabled destination covering the workspace, and nothing to the others', async () => {
    const workspace = await newWorkspace();
    const [covering, other] = [unique('covering'), unique('other')];
    const yes = await destinations().create({ endpoint_url: collector(covering), workspaces: { type: 'include', workspace_ids: [workspace] }, headers: { authorization: SECRET } });
    const no = await destinations().create({ endpoint_url: collector(other), workspaces: { type: 'exclude', workspace_ids: [workspace] } });
    const outbox = telemetryOutbox(env);
    expect(await outbox.covers(workspace)).toEqual({ content: false, maxContentBytes: 0 });

    await outbox.exportSpans({
      workspaceId: workspace,
      sessionId: 'sesn_telemetry',
      spans: [
        span('chat claude-sonnet-4-5', { 'gen_ai.request.model': 'claude-sonnet-4-5', 'gen_ai.usage.input_tokens': 12, 'gen_ai.input.messages': 'a prompt' }),
        span('execute_tool bash', { 'gen_ai.tool.name': 'bash', 'session.id': 'sesn_telemetry' }),
      ],
    });
    await expect.poll(async () => otlpSpans(await received(covering)).map((s) => s.span.name), { timeout: 20_000 }).toEqual(['chat claude-sonnet-4-5', 'execute_tool bash']);
    const spans = otlpSpans(await received(covering));
    expect(spans[0]!.service).toEqual({ stringValue: 'edgeharness' });
    const attrs = Object.fromEntries(spans[0]!.span.attributes.map((a) => [a.key, a.value]));
    expect(attrs['gen_ai.request.model']).toEqual({ stringValue: 'claude-sonnet-4-5' });
    expect(attrs['gen_ai.usage.input_tokens']).toEqual({ intValue: 12 });
    // metadata_only, the default: no content attribute leaves.
    expect(attrs['gen_ai.input.messages']).toBeUndefined();
    expect((await received(covering))[0]!.headers['content-type']).toBe('application/json');
    await expect.poll(async () => (await destinations().retrieve(yes.id)).delivery_health.last_success_at).not.toBeNull();

    expect(await received(other)).toEqual([]);
    expect((await outbox.queued())[no.id]).toBeUndefined();
  });

  it('disables a destination that keeps failing with sustained_failure, and drops its spans', async () => {
    const name = unique('fail');
    const d = await destinations().create({ endpoint_url: collector(name), workspaces: { type: 'all' } });
    const outbox = telemetryOutbox(env);
    await outbox.exportSpans({ workspaceId: 'wrkspc_default', sessionId: 'sesn_failing', spans: [span('chat')] });
    await expect.poll(async () => (await destinations().retrieve(d.id)).state, { timeout: 30_000 }).toEqual({ type: 'disabled', reason: { type: 'sustained_failure' } });
    const after = await destinations().retrieve(d.id);
    expect(after.delivery_health).toMatchObject({ last_error: 'HTTP error (status 500)', last_success_at: null });
    expect((await outbox.queued())[d.id]).toBeUndefined();
    expect((await received(name)).length).toBeGreaterThan(1);

    // Disabled: spans produced now are never delivered, not even after it is enabled again.
    await outbox.exportSpans({ workspaceId: 'wrkspc_default', sessionId: 'sesn_failing', spans: [span('chat')] });
    expect(await outbox.covers('wrkspc_default')).toBeNull();
    expect((await outbox.queued())[d.id]).toBeUndefined();
  });

  it('disables a destination that answers with a redirect at once, with reason redirect', async () => {
    const name = unique('status301');
    const d = await destinations().create({ endpoint_url: collector(name), workspaces: { type: 'all' } });
    await telemetryOutbox(env).exportSpans({ workspaceId: 'wrkspc_default', sessionId: 'sesn_redirect', spans: [span('chat')] });
    await expect.poll(async () => (await destinations().retrieve(d.id)).state, { timeout: 20_000 }).toEqual({ type: 'disabled', reason: { type: 'redirect' } });
    expect((await destinations().retrieve(d.id)).delivery_health.last_error).toBe('redirect (status 301)');
    expect(await received(name)).toHaveLength(1);
  });
});
