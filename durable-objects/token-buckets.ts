// Per-key rate limiting in memory: one token bucket per API key, refilled continuously at its per-minute limit and
// holding at most a minute's worth. Held by the one Directory, so every Worker isolate counts against the same
// buckets; lost if the Directory is evicted from memory, which only hands each key a fresh minute.

interface Bucket {
  tokens: number;
  perMinute: number;
  at: number;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  /** Takes one token for `key`: admitted, or the whole seconds until a token is there. */
  take(key: string, perMinute: number, now = Date.now()): { admitted: true } | { admitted: false; retryAfter: number } {
    let b = this.buckets.get(key);
    if (!b || b.perMinute !== perMinute) {
      // A new key, or its limit changed: start full at the new limit.
      b = { tokens: perMinute, perMinute, at: now };
      this.buckets.set(key, b);
    }
    const perMs = perMinute / 60_000;
    b.tokens = Math.min(perMinute, b.tokens + (now - b.at) * perMs);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { admitted: true };
    }
    return { admitted: false, retryAfter: Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000)) };
  }
}
