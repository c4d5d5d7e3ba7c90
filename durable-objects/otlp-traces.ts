// The body of one OTLP/HTTP traces request: our TraceSpans as OpenTelemetry's ReadableSpans, serialized by the
// OpenTelemetry project's own JSON serializer, with what a destination's content mode lets it see.
import { SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { SpanAttributes, TraceSpan } from '../contract/trace-span.ts';
import { CONTENT_ATTRIBUTES, truncateUtf8 } from '../contract/telemetry-spans.ts';

type ReadableSpan = Parameters<typeof JsonTraceSerializer.serializeRequest>[0][number];

const RESOURCE = resourceFromAttributes({ 'service.name': 'edgeharness' });
const SCOPE = { name: 'edgeharness' };

export interface ContentPolicy {
  mode: 'metadata_only' | 'content';
  /** Null: no bound of the destination's own. */
  maxBytes: number | null;
}

function shapeAttributes(attributes: SpanAttributes, policy: ContentPolicy): SpanAttributes {
  const out: SpanAttributes = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (!CONTENT_ATTRIBUTES.has(key)) out[key] = value;
    else if (policy.mode === 'content') out[key] = policy.maxBytes !== null && typeof value === 'string' ? truncateUtf8(value, policy.maxBytes) : value;
  }
  return out;
}

/** `s` as a destination with `policy` may see it: content attributes removed, or cut to its bound. */
export function shapeSpan(s: TraceSpan, policy: ContentPolicy): TraceSpan {
  return {
    ...s,
    attributes: shapeAttributes(s.attributes, policy),
    events: s.events.map((e) => ({ ...e, attributes: shapeAttributes(e.attributes, policy) })),
  };
}

function toReadable(s: TraceSpan, policy: ContentPolicy): ReadableSpan {
  const ctx = { traceId: s.traceId, spanId: s.spanId, traceFlags: TraceFlags.SAMPLED };
  const start = millisToHrTime(s.startMs);
  const end = millisToHrTime(s.endMs);
  return {
    name: s.name,
    kind: s.kind === 'client' ? SpanKind.CLIENT : SpanKind.INTERNAL,
    spanContext: () => ctx,
    ...(s.parentSpanId ? { parentSpanContext: { traceId: s.traceId, spanId: s.parentSpanId, traceFlags: TraceFlags.SAMPLED } } : {}),
    startTime: start,
    endTime: end,
    duration: millisToHrTime(Math.max(0, s.endMs - s.startMs)),
    status: {
      code: s.status.code === 'ok' ? SpanStatusCode.OK : s.status.code === 'error' ? SpanStatusCode.ERROR : SpanStatusCode.UNSET,
      ...(s.status.message !== undefined ? { message: s.status.message } : {}),
    },
    attributes: shapeAttributes(s.attributes, policy),
    links: [],
    events: s.events.map((e) => ({ name: e.name, time: millisToHrTime(e.timeMs), attributes: shapeAttributes(e.attributes, policy) })),
    ended: true,
    resource: RESOURCE,
    instrumentationScope: SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/** OTLP/HTTP JSON (`content-type: application/json`) for `spans`, as the destination's policy shapes them. */
export function otlpTracesBody(spans: readonly TraceSpan[], policy: ContentPolicy): Uint8Array {
  const body = JsonTraceSerializer.serializeRequest(spans.map((s) => toReadable(s, policy)));
  if (!body) throw new Error('the OTLP serializer produced no body');
  return body;
}
