// Files as message content: a user.message's image and document blocks may name a file (`source: {type: 'file'}`).
// The route checks each file is the caller's and of a kind the block takes; the log keeps the reference, and the
// model receives the file's bytes as a base64 (or text) source.
import { SELF } from 'cloudflare:test';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { withFileContents, type ModelRequest } from '../../worker/brain/context-builder.ts';
import { allEvents, call, KEY, makeSession, registerKey, settle } from './api.ts';

const BASE = 'http://edgeharness.test';
const OTHER_KEY = 'test-key-file-content-other';

async function upload(bytes: Uint8Array | string, filename: string, type: string, key = KEY): Promise<string> {
  const form = new FormData();
  form.append('file', new File([bytes], filename, { type }));
  const res = await SELF.fetch(`${BASE}/v1/files`, { method: 'POST', body: form, headers: { 'x-api-key': key } });
  const body = (await res.json()) as any;
  if (res.status !== 200) throw new Error(`upload failed: ${JSON.stringify(body)}`);
  return body.id;
}

const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const fileSource = (file_id: string) => ({ type: 'file', file_id });

/** The request bodies the scripted model received whose messages mention `marker`. */
async function modelRequestsWith(marker: string): Promise<any[]> {
  const recorded: any = await (await fetch(`${inject('scriptedModelUrl')}/_scripted/requests`)).json();
  return recorded.data.map((r: any) => r.body).filter((b: any) => JSON.stringify(b.messages).includes(marker));
}

beforeAll(() => registerKey(OTHER_KEY, 'wrkspc_file_content_other'));

describe('file-sourced content blocks', () => {
  it('reach the model as base64 image and document blocks with the exact bytes; the log keeps the reference', async () => {
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...crypto.getRandomValues(new Uint8Array(300))]);
    const pdf = Uint8Array.from([...new TextEncoder().encode('%PDF-1.7\n'), ...crypto.getRandomValues(new Uint8Array(500))]);
    const pngId = await upload(png, 'chart.png', 'image/png');
    const pdfId = await upload(pdf, 'report.pdf', 'application/pdf');
    const textId = await upload('plain words', 'notes.txt', 'text/plain');
    const { sessionId } = await makeSession();
    const marker = `describe these, ${sessionId}`;
    const content = [
      { type: 'text', text: marker },
      { type: 'image', source: fileSource(pngId) },
      { type: 'document', source: fileSource(pdfId), title: 'Report' },
      { type: 'document', source: fileSource(textId) },
    ];
    const sent = await call('POST', `/v1/sessions/${sessionId}/events`, { events: [{ type: 'user.message', content }] });
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    await settle(sessionId);

    const [request] = await modelRequestsWith(marker);
    const blocks = request.messages.flatMap((m: any) => m.content).map(({ cache_control: _, ...b }: any) => b);
    expect(blocks).toContainEqual({ type: 'image', source: { type: 'base64', media_type: 'image/png', data: base64(png) } });
    expect(blocks).toContainEqual({ type: 'document', title: 'Report', source: { type: 'base64', media_type: 'application/pdf', data: base64(pdf) } });
    expect(blocks).toContainEqual({ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'plain words' } });

    const stored = (await allEvents(sessionId)).find((e) => e.type === 'user.message');
    expect(stored.content).toEqual(content);
  });

  it("refuses a file the workspace does not have, or another workspace's, naming the field, appending nothing", async () => {
    const theirs = await upload('secret', 'secret.txt', 'text/plain', OTHER_KEY);
    const { sessionId } = await makeSession();
    for (const fileId of ['file_unknown', theirs]) {
      const before = (await allEvents(sessionId)).length;
      const r = await call('POST', `/v1/sessions/${sessionId}/events`, {
        events: [{ type: 'user.message', content: [{ type: 'text', text: 'look' }, { type: 'document', source: fileSource(fileId) }] }],
      });
      expect(r.status).toBe(400);
      expect(r.body.error.message).toBe(`events[0].content[1].source.file_id: no file '${fileId}' in this workspace`);
      expect((await allEvents(sessionId)).length).toBe(before);
    }
  });

  it('refuses a file of a kind the block does not take', async () => {
    const pdfId = await upload('%PDF-1.7', 'doc.pdf', 'application/pdf');
    const binId = await upload('\u0000\u0001', 'blob.bin', 'application/octet-stream');
    const { sessionId } = await makeSession();
    const image = await call('POST', `/v1/sessions/${sessionId}/events`, { events: [{ type: 'user.message', content: [{ type: 'image', source: fileSource(pdfId) }] }] });
    expect(image.status).toBe(400);
    expect(image.body.error.message).toMatch(/^events\[0\]\.content\[0\]\.source\.file_id: file '.+' is application\/pdf; an image block takes image\/jpeg/);
    const doc = await call('POST', `/v1/sessions/${sessionId}/events`, { events: [{ type: 'user.message', content: [{ type: 'document', source: fileSource(binId) }] }] });
    expect(doc.status).toBe(400);
    expect(doc.body.error.message).toMatch(/a document block takes application\/pdf or text$/);
  });

  it('checks the initial events of a session create too, creating no session', async () => {
    const a = await call('POST', '/v1/agents', { name: 'files', model: 'claude-sonnet-5-5' });
    const e = await call('POST', '/v1/environments', { name: 'env' });
    const r = await call('POST', '/v1/sessions', {
      agent: a.body.id,
      environment_id: e.body.id,
      initial_events: [{ type: 'user.message', content: [{ type: 'image', source: fileSource('file_unknown') }] }],
    });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toBe("initial_events[0].content[0].source.file_id: no file 'file_unknown' in this workspace");
  });

  it('gives the model a note for a file deleted since it was sent, and reads each file once', async () => {
    const reads: string[] = [];
    const request: ModelRequest = {
      model: 'm',
      max_tokens: 1,
      messages: [
        { role: 'user', content: [{ type: 'image', source: fileSource('file_gone') }, { type: 'image', source: fileSource('file_kept') }] },
        { role: 'assistant', content: [{ type: 'text', text: 'ok' }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'image', source: fileSource('file_kept') }] }] },
      ],
    };
    const out = await withFileContents(request, async (id) => {
      reads.push(id);
      return id === 'file_kept' ? { mimeType: 'image/gif', bytes: Uint8Array.from([1, 2, 3]) } : null;
    });
    const kept = { type: 'image', source: { type: 'base64', media_type: 'image/gif', data: 'AQID' } };
    expect(out.messages[0]!.content).toEqual([{ type: 'text', text: "[image from file 'file_gone': the file has been deleted and is no longer available]" }, kept]);
    expect(out.messages[2]!.content).toEqual([{ type: 'tool_result', tool_use_id: 't', content: [kept] }]);
    expect(reads.sort()).toEqual(['file_gone', 'file_kept']);
    // The request it was given is left as it was: the log's view keeps the reference.
    expect(request.messages[0]!.content[1]).toEqual({ type: 'image', source: fileSource('file_kept') });
  });
});
