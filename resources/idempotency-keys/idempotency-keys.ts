// Idempotency keys of one workspace: which request each `Idempotency-Key` named, whether it is still being
// answered, and its answer, kept 24 hours. Queries only (tables: migrations.ts); the workspace's Durable Object
// hosts them, the API's idempotency middleware (worker/api/idempotency.ts) is their only caller.
import type { Claim, RequestIdentity, StoredAnswer } from '../../contract/idempotency.ts';
import { Queries } from '../shared/queries.ts';

/** How long an answer is replayed for its key. */
export const ANSWER_TTL_MS = 24 * 60 * 60 * 1000;
/**
 * How long a claimed key waits for its answer. Every POST answers in well under a second; an attempt still
 * unanswered after this is presumed dead (its Worker crashed mid-way), and the next request with the key runs.
 */
export const IN_FLIGHT_TTL_MS = 60 * 1000;
/** Expired keys dropped per claim: enough to keep up with any request rate, never a long pause. */
const SWEEP_BATCH = 16;

interface KeyRow extends Record<string, SqlStorageValue> {
  key: string;
  method: string;
  path: string;
  body_sha256: string;
  token: string | null;
  status: number | null;
  headers: string | null;
  body: ArrayBuffer | null;
  size: number | null;
  chunks: number;
  expires_at: number;
}

export class IdempotencyKeys extends Queries {
  /**
   * Binds `key` to `request` and lets the caller run it, or says why not: the key already has an answer (replay
   * it), another attempt is answering it, or it was used for a different request. One transaction, so two
   * concurrent requests with one key never both run.
   */
  claim(key: string, request: RequestIdentity, now: number): Claim {
    return this.storage.transactionSync(() => {
      this.sweep(now);
      let row = this.row(key);
      if (row && row.expires_at <= now) {
        // Answered more than 24 hours ago, or claimed by an attempt that died: the key is free again.
        this.forget(key);
        row = undefined;
      }
      if (row) {
        if (row.method !== request.method || row.path !== request.path || row.body_sha256 !== request.bodySha256)
          return { kind: 'mismatch', first: { method: row.method, path: row.path, bodySha256: row.body_sha256 } };
        return row.status !== null ? { kind: 'answered', answer: answerOf(row) } : { kind: 'in_flight' };
      }
      const token = crypto.randomUUID();
      this.sql.exec(
        `INSERT INTO idempotency_keys (key, method, path, body_sha256, token, status, headers, body, size, chunks, expires_at)
         VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, 0, ?)`,
        key,
        request.method,
        request.path,
        request.bodySha256,
        token,
        now + IN_FLIGHT_TTL_MS,
      );
      return { kind: 'claimed', token };
    });
  }

  /** Stores one chunk of a large answer. False when `token` no longer holds the key (it was presumed dead). */
  putChunk(key: string, token: string, idx: number, data: Uint8Array): boolean {
    if (!this.holds(key, token)) return false;
    this.sql.exec(`INSERT OR REPLACE INTO idempotency_chunks (key, idx, data) VALUES (?, ?, ?)`, key, idx, arrayBuffer(data));
    return true;
  }

  /** Records the answer (inline `body`, or the chunks already put); it is replayed for ANSWER_TTL_MS. */
  complete(key: string, token: string, answer: StoredAnswer, now: number): boolean {
    return this.storage.transactionSync(() => {
      if (!this.holds(key, token)) return false;
      const stored = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM idempotency_chunks WHERE key = ?`, key).one().n;
      if (stored !== answer.chunks) throw new Error(`idempotency key answer has ${stored} chunks stored, ${answer.chunks} announced`);
      this.sql.exec(
        `UPDATE idempotency_keys SET token = NULL, status = ?, headers = ?, body = ?, size = ?, chunks = ?, expires_at = ? WHERE key = ?`,
        answer.status,
        JSON.stringify(answer.headers),
        answer.chunks === 0 && answer.body ? arrayBuffer(answer.body) : null,
        answer.size,
        answer.chunks,
        now + ANSWER_TTL_MS,
        key,
      );
      return true;
    });
  }

  /** The attempt failed in a way a retry may not (a 5xx): forget the key, so the retry runs. */
  release(key: string, token: string): void {
    this.storage.transactionSync(() => {
      if (this.holds(key, token)) this.forget(key);
    });
  }

  /** One chunk of an answered key's body; null if the key has expired (or never had that chunk). */
  chunk(key: string, idx: number): Uint8Array | null {
    const row = this.sql
      .exec<{ data: ArrayBuffer }>(
        `SELECT c.data FROM idempotency_chunks c JOIN idempotency_keys k ON k.key = c.key WHERE c.key = ? AND c.idx = ? AND k.status IS NOT NULL`,
        key,
        idx,
      )
      .toArray()[0];
    return row ? new Uint8Array(row.data) : null;
  }

  /** Drops a few expired keys: answers past 24 hours, and attempts presumed dead. */
  private sweep(now: number): void {
    const expired = this.sql
      .exec<{ key: string }>(`SELECT key FROM idempotency_keys WHERE expires_at <= ? ORDER BY expires_at LIMIT ?`, now, SWEEP_BATCH)
      .toArray();
    for (const { key } of expired) this.forget(key);
  }

  private forget(key: string): void {
    this.sql.exec(`DELETE FROM idempotency_chunks WHERE key = ?`, key);
    this.sql.exec(`DELETE FROM idempotency_keys WHERE key = ?`, key);
  }

  private holds(key: string, token: string): boolean {
    return this.row(key)?.token === token;
  }

  private row(key: string): KeyRow | undefined {
    return this.sql.exec<KeyRow>(`SELECT * FROM idempotency_keys WHERE key = ?`, key).toArray()[0];
  }
}

function answerOf(row: KeyRow): StoredAnswer {
  return {
    status: row.status!,
    headers: row.headers ? (JSON.parse(row.headers) as Record<string, string>) : {},
    size: row.size ?? 0,
    chunks: row.chunks,
    body: row.body ? new Uint8Array(row.body) : row.chunks === 0 ? new Uint8Array(0) : null,
  };
}

/** SQLite takes BLOBs as ArrayBuffers; a view's own bytes only. */
function arrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer as ArrayBuffer;
}
