// The idempotency-key records of a workspace, queried directly (no HTTP): one run per key, the first answer
// replayed for 24 hours, a dead attempt's key freed, large answers chunked.
import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { CHUNK_BYTES, type StoredAnswer } from '../../../contract/idempotency.ts';
import { ANSWER_TTL_MS, IN_FLIGHT_TTL_MS, IdempotencyKeys } from '../../../resources/idempotency-keys/idempotency-keys.ts';

const request = { method: 'POST', path: '/v1/agents', bodySha256: 'a'.repeat(64) };
const answer = (body: string): StoredAnswer => ({
  status: 200,
  headers: { 'content-type': 'application/json' },
  size: body.length,
  chunks: 0,
  body: new TextEncoder().encode(body),
});

/** A fresh workspace store per test, its records reached through the module itself. */
function withKeys<T>(name: string, fn: (keys: IdempotencyKeys) => T | Promise<T>): Promise<T> {
  return runInDurableObject(env.WORKSPACE.get(env.WORKSPACE.idFromName(`wrkspc_idem_${name}`)), (_obj, state) =>
    fn(new IdempotencyKeys(state.storage)),
  );
}

function claimed(c: ReturnType<IdempotencyKeys['claim']>): string {
  if (c.kind !== 'claimed') throw new Error(`expected a claim, got ${c.kind}`);
  return c.token;
}

describe('idempotency keys', () => {
  it('lets one attempt run a key; another asking meanwhile is told it is in flight', () =>
    withKeys('once', (keys) => {
      const now = Date.now();
      claimed(keys.claim('k', request, now));
      expect(keys.claim('k', request, now + 1).kind).toBe('in_flight');
    }));

  it('replays the answer to the same request and refuses a different body, path or method', () =>
    withKeys('replay', (keys) => {
      const now = Date.now();
      const token = claimed(keys.claim('k', request, now));
      expect(keys.complete('k', token, answer('{"id":"agent_1"}'), now)).toBe(true);
      const again = keys.claim('k', request, now + 1000);
      expect(again.kind).toBe('answered');
      if (again.kind === 'answered') {
        expect(again.answer.status).toBe(200);
        expect(new TextDecoder().decode(again.answer.body!)).toBe('{"id":"agent_1"}');
      }
      for (const other of [{ ...request, bodySha256: 'b'.repeat(64) }, { ...request, path: '/v1/environments' }, { ...request, method: 'DELETE' }]) {
        const c = keys.claim('k', other, now + 1000);
        expect(c).toEqual({ kind: 'mismatch', first: request });
      }
    }));

  it('forgets an answer after 24 hours: the key then names a new request', () =>
    withKeys('expiry', (keys) => {
      const now = Date.now();
      keys.complete('k', claimed(keys.claim('k', request, now)), answer('{}'), now);
      expect(keys.claim('k', request, now + ANSWER_TTL_MS - 1).kind).toBe('answered');
      const other = { ...request, bodySha256: 'c'.repeat(64) };
      expect(keys.claim('k', other, now + ANSWER_TTL_MS + 1).kind).toBe('claimed');
    }));

  it('frees the key of an attempt that died, and refuses that attempt’s late answer', () =>
    withKeys('crash', (keys) => {
      const now = Date.now();
      const dead = claimed(keys.claim('k', request, now));
      expect(keys.claim('k', request, now + IN_FLIGHT_TTL_MS - 1).kind).toBe('in_flight');
      const next = claimed(keys.claim('k', request, now + IN_FLIGHT_TTL_MS + 1));
      expect(keys.complete('k', dead, answer('{"late":true}'), now + IN_FLIGHT_TTL_MS + 2)).toBe(false);
      expect(keys.putChunk('k', dead, 0, new Uint8Array(3))).toBe(false);
      expect(keys.complete('k', next, answer('{"late":false}'), now + IN_FLIGHT_TTL_MS + 2)).toBe(true);
      const replay = keys.claim('k', request, now + IN_FLIGHT_TTL_MS + 3);
      expect(replay.kind === 'answered' && new TextDecoder().decode(replay.answer.body!)).toBe('{"late":false}');
    }));

  it('forgets a key released after a failure, so a retry runs', () =>
    withKeys('release', (keys) => {
      const now = Date.now();
      keys.release('k', claimed(keys.claim('k', request, now)));
      expect(keys.claim('k', request, now + 1).kind).toBe('claimed');
    }));

  it('stores an answer larger than a row in chunks and reads it back whole', () =>
    withKeys('chunks', (keys) => {
      const now = Date.now();
      const token = claimed(keys.claim('k', request, now));
      const body = new Uint8Array(CHUNK_BYTES * 2 + 123).map((_, i) => i % 251);
      let chunks = 0;
      for (let off = 0; off < body.byteLength; off += CHUNK_BYTES, chunks++) expect(keys.putChunk('k', token, chunks, body.slice(off, off + CHUNK_BYTES))).toBe(true);
      expect(keys.chunk('k', 0)).toBeNull(); // not an answer until completed
      keys.complete('k', token, { status: 200, headers: {}, size: body.byteLength, chunks, body: null }, now);
      const replay = keys.claim('k', request, now + 1);
      if (replay.kind !== 'answered') throw new Error(replay.kind);
      expect(replay.answer).toMatchObject({ chunks: 3, size: body.byteLength, body: null });
      const read = new Uint8Array(body.byteLength);
      for (let i = 0, off = 0; i < 3; i++) {
        const part = keys.chunk('k', i)!;
        read.set(part, off);
        off += part.byteLength;
      }
      expect(read).toEqual(body);
    }));
});
