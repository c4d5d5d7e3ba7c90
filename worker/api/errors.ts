// API errors as values: one class per official error type, mapped to status + envelope here and only here.
import type { ZodError, z } from 'zod';

export type ApiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'conflict_error'
  | 'memory_precondition_failed_error'
  | 'memory_path_conflict_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'overloaded_error';

const STATUS: Record<ApiErrorType, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  conflict_error: 409,
  memory_precondition_failed_error: 409,
  memory_path_conflict_error: 409,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  overloaded_error: 529,
};

export class ApiError extends Error {
  readonly type: ApiErrorType;
  readonly status: number;
  /** Machine-readable detail, surfaced by the SDK as `err.errorCode` / `err.details`. */
  readonly errorCode: string | undefined;
  /** Seconds after which the same request may succeed: the SDK is told to retry then (other client errors say not to). */
  readonly retryAfter: number | undefined;
  /** Fields of the error object beside type and message (memory_path_conflict_error's `conflicting_path`, …). */
  readonly fields: Record<string, string> | undefined;
  constructor(type: ApiErrorType, message: string, errorCode?: string, opts: { retryAfter?: number; fields?: Record<string, string> } = {}) {
    super(message);
    this.type = type;
    this.status = STATUS[type];
    this.errorCode = errorCode;
    this.retryAfter = opts.retryAfter;
    this.fields = opts.fields;
  }

  toResponse(requestId: string): Response {
    const error: Record<string, unknown> = { ...this.fields, type: this.type, message: this.message };
    if (this.errorCode) error.details = { error_code: this.errorCode };
    const headers: Record<string, string> = { 'content-type': 'application/json', 'request-id': requestId };
    // The SDK retries 409 and 5xx by default; a client error will not go away by retrying it, unless it says when.
    if (this.retryAfter !== undefined) {
      headers['x-should-retry'] = 'true';
      headers['retry-after'] = String(this.retryAfter);
    } else if (this.status < 500 && this.status !== 429) headers['x-should-retry'] = 'false';
    return new Response(JSON.stringify({ type: 'error', error, request_id: requestId }), {
      status: this.status,
      headers,
    });
  }
}

export const invalidRequest = (message: string, errorCode?: string) =>
  new ApiError('invalid_request_error', message, errorCode);
export const notFound = (message: string, errorCode?: string) => new ApiError('not_found_error', message, errorCode);
export const conflict = (message: string, errorCode?: string) => new ApiError('conflict_error', message, errorCode);
/** The same request is still being answered: a retry after `seconds` gets its answer. */
export const stillInFlight = (message: string, errorCode: string, seconds: number) =>
  new ApiError('conflict_error', message, errorCode, { retryAfter: seconds });
export const unauthenticated = (message: string) => new ApiError('authentication_error', message);
export const forbidden = (message: string) => new ApiError('permission_error', message);
/** Too many requests on this key: the SDK retries after `seconds` (its `retry-after`). */
export const rateLimited = (message: string, seconds: number) => new ApiError('rate_limit_error', message, undefined, { retryAfter: seconds });
export const tooLarge = (message: string) => new ApiError('request_too_large', message);

/** `events[0].content: expected array, received string` — names the field so the caller can fix the call. */
export function fromZodError(err: ZodError, root?: string): ApiError {
  const issue = err.issues[0];
  if (!issue) return invalidRequest('invalid request');
  if (issue.code === 'invalid_key') {
    // The record is the field; the key is what was wrong with it.
    const key = String(issue.path[issue.path.length - 1]);
    const inner = issue.issues[0];
    return invalidRequest(`${formatPath(issue.path.slice(0, -1), root)}: key '${clip(key)}': ${inner ? describeIssue(inner) : issue.message}`);
  }
  return invalidRequest(`${formatPath(issue.path, root)}: ${describeIssue(issue)}`);
}

function formatPath(path: readonly PropertyKey[], root?: string): string {
  let out = root ?? '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${clip(String(part))}` : clip(String(part));
  }
  return out || '(body)';
}

/** A name taken from the request (a metadata key, an unknown field) may be megabytes long: quote its start only. */
function clip(name: string): string {
  return name.length > 64 ? `${name.slice(0, 32)}… (${name.length} characters)` : name;
}

/** Issues come from parseWith, which asks zod to report inputs, so a size refusal can say what it got. */
function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return /received undefined$/.test(issue.message) ? `required field is missing (expected ${issue.expected})` : issue.message;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${clip(k)}'`).join(', ')}`;
    case 'invalid_union':
      return issue.message === 'Invalid input' ? 'does not match any accepted shape' : issue.message;
    case 'too_big': {
      const input = issue.input;
      if (issue.origin === 'string' && typeof input === 'string') return `at most ${issue.maximum} characters, got ${input.length}`;
      if (issue.origin === 'array' && Array.isArray(input)) return `at most ${issue.maximum} entries, got ${input.length}`;
      if (issue.origin === 'number' && typeof input === 'number') return `at most ${issue.maximum}, got ${input}`;
      return issue.message;
    }
    default:
      return issue.message;
  }
}
