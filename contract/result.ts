// What a store operation answers: a value, or an error in the API's own terms (the routes turn it into the
// official error envelope; see worker/api/http.ts `unwrap`).
export type StoreError = { type: 'invalid_request_error' | 'not_found_error' | 'conflict_error'; message: string; code?: string };
export type Result<T> = { ok: true; value: T } | { ok: false; error: StoreError };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = (type: StoreError['type'], message: string, code?: string): Result<never> => ({
  ok: false,
  error: code ? { type, message, code } : { type, message },
});
