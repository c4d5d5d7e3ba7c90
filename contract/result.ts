// What a store operation answers: a value, or an error in the API's own terms (the routes turn it into the
// official error envelope; see worker/api/http.ts `unwrap`).
export type StoreError = {
  type: 'invalid_request_error' | 'not_found_error' | 'conflict_error' | 'memory_precondition_failed_error' | 'memory_path_conflict_error';
  message: string;
  code?: string;
  /** Fields the error object carries beside `type` and `message` (a path conflict's `conflicting_path`, …). */
  fields?: Record<string, string>;
};
export type Result<T> = { ok: true; value: T } | { ok: false; error: StoreError };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = (type: StoreError['type'], message: string, code?: string): Result<never> => ({
  ok: false,
  error: code ? { type, message, code } : { type, message },
});

/** A refusal whose error object carries more than a message, e.g. `memory_path_conflict_error`. */
export const failWith = (type: StoreError['type'], message: string, fields: Record<string, string>): Result<never> => ({
  ok: false,
  error: { type, message, fields },
});
