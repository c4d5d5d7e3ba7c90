// What the API's idempotency middleware (worker/api/idempotency.ts) and the workspace's Idempotency-Key records
// (resources/idempotency-keys/) say to each other: the request a key is bound to, a stored answer, and a claim.

/** Answers larger than this are stored as chunk rows of this size (rows hold at most 2 MB). */
export const CHUNK_BYTES = 1_000_000;

/** What a key is bound to: the first request that used it. */
export interface RequestIdentity {
  method: string;
  path: string;
  bodySha256: string;
}

/** A stored answer. Its body is inline when `chunks` is 0, otherwise read chunk by chunk. */
export interface StoredAnswer {
  status: number;
  headers: Record<string, string>;
  size: number;
  chunks: number;
  body: Uint8Array | null;
}

export type Claim =
  /** The key is new (or its last attempt died): run the request, then complete or release with this token. */
  | { kind: 'claimed'; token: string }
  | { kind: 'answered'; answer: StoredAnswer }
  | { kind: 'in_flight' }
  | { kind: 'mismatch'; first: RequestIdentity };
