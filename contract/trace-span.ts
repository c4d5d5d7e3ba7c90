// One span of a session's trace, as the runtime records it before export: plain data (it crosses Durable Object
// RPC and is queued in storage), turned into OpenTelemetry's wire format only by the exporter. Ids are hex, as in
// OTLP: a trace id is 32 characters, a span id 16.

/** An attribute's value: what OTLP's AnyValue carries for the attributes we set. */
export type SpanAttributeValue = string | number | boolean | string[];
export type SpanAttributes = Record<string, SpanAttributeValue>;

/** Something that happened at one moment inside a span (a budget or limit update, say). */
export interface TraceSpanEvent {
  name: string;
  /** Unix time, milliseconds. */
  timeMs: number;
  attributes: SpanAttributes;
}

export interface TraceSpan {
  traceId: string;
  spanId: string;
  /** Absent on a trace's root span. */
  parentSpanId?: string;
  name: string;
  /** `client` for a call that leaves the runtime (a model request, an MCP call); `internal` otherwise. */
  kind: 'internal' | 'client';
  /** Unix time, milliseconds. */
  startMs: number;
  endMs: number;
  status: { code: 'unset' | 'ok' | 'error'; message?: string };
  attributes: SpanAttributes;
  events: TraceSpanEvent[];
}

/** What a session's spans are exported for: the workspace picks the destinations, the rest names the session. */
export interface TraceBatch {
  workspaceId: string;
  sessionId: string;
  spans: TraceSpan[];
}
