// Session events as clients send and list them: the params of events.send and the list query, mirroring
// events.d.ts. What the log stores, and how the runtime builds its own events, is in events.ts.
import { z } from 'zod';
import type { BetaManagedAgentsSessionEventType } from '@anthropic-ai/sdk/resources/beta/sessions/events';
import { MAX_ITERATIONS, MAX_RUBRIC_CHARS } from './outcome.ts';

const TextBlock = z.strictObject({ type: z.literal('text'), text: z.string() });
const ImageSource = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('base64'), media_type: z.string().min(1), data: z.string() }),
  z.strictObject({ type: z.literal('url'), url: z.string().min(1) }),
  z.strictObject({ type: z.literal('file'), file_id: z.string().min(1) }),
]);
const ImageBlock = z.strictObject({ type: z.literal('image'), source: ImageSource });
const DocumentSource = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('base64'), media_type: z.string().min(1), data: z.string() }),
  // official: "Must be text/plain"
  z.strictObject({ type: z.literal('text'), media_type: z.literal('text/plain'), data: z.string() }),
  z.strictObject({ type: z.literal('url'), url: z.string().min(1) }),
  z.strictObject({ type: z.literal('file'), file_id: z.string().min(1) }),
]);
const DocumentBlock = z.strictObject({
  type: z.literal('document'),
  source: DocumentSource,
  context: z.string().nullable().optional(),
  title: z.string().nullable().optional(),
});
const RedactedBlock = z.strictObject({ type: z.literal('redacted') }).passthrough();
const SearchResultBlock = z.looseObject({
  type: z.literal('search_result'),
  source: z.string(),
  title: z.string(),
  content: z.array(TextBlock),
  citations: z.looseObject({ enabled: z.boolean() }),
});

const UserContent = z.array(z.discriminatedUnion('type', [TextBlock, ImageBlock, DocumentBlock, RedactedBlock])).min(1);
const ToolResultContent = z.array(z.discriminatedUnion('type', [TextBlock, ImageBlock, DocumentBlock, SearchResultBlock]));

export const UserMessageParams = z.strictObject({ type: z.literal('user.message'), content: UserContent });
const UserInterruptParams = z.strictObject({
  type: z.literal('user.interrupt'),
  session_thread_id: z.string().nullable().optional(),
});
const UserToolConfirmationParams = z.strictObject({
  type: z.literal('user.tool_confirmation'),
  tool_use_id: z.string().min(1),
  result: z.enum(['allow', 'deny']),
  deny_message: z.string().nullable().optional(),
});
const UserCustomToolResultParams = z.strictObject({
  type: z.literal('user.custom_tool_result'),
  custom_tool_use_id: z.string().min(1),
  content: ToolResultContent.optional(),
  is_error: z.boolean().nullable().optional(),
});
const UserToolResultParams = z.strictObject({
  type: z.literal('user.tool_result'),
  tool_use_id: z.string().min(1),
  content: ToolResultContent.optional(),
  is_error: z.boolean().nullable().optional(),
});
export const UserDefineOutcomeParams = z.strictObject({
  type: z.literal('user.define_outcome'),
  description: z.string().min(1),
  rubric: z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('text'), content: z.string().min(1).max(MAX_RUBRIC_CHARS) }),
    z.strictObject({ type: z.literal('file'), file_id: z.string().min(1) }),
  ]),
  max_iterations: z.number().int().min(1).max(MAX_ITERATIONS).nullable().optional(),
});
const SystemMessageParams = z.strictObject({
  type: z.literal('system.message'),
  content: z.array(TextBlock).min(1),
});

export const EventParams = z.discriminatedUnion('type', [
  UserMessageParams,
  UserInterruptParams,
  UserToolConfirmationParams,
  UserCustomToolResultParams,
  UserDefineOutcomeParams,
  UserToolResultParams,
  SystemMessageParams,
]);
export type EventParams = z.infer<typeof EventParams>;

export const EventSendParams = z.strictObject({ events: z.array(EventParams).min(1).max(100) });

const EVENT_TYPES = [
  'user.message', 'user.interrupt', 'user.tool_confirmation', 'user.custom_tool_result', 'agent.custom_tool_use',
  'agent.message', 'agent.thinking', 'agent.mcp_tool_use', 'agent.mcp_tool_result', 'agent.tool_use',
  'agent.tool_result', 'agent.thread_message_received', 'agent.thread_message_sent', 'agent.thread_context_compacted',
  'session.error', 'session.status_rescheduled', 'session.status_running', 'session.status_idle',
  'session.status_terminated', 'session.thread_created', 'span.outcome_evaluation_start', 'span.outcome_evaluation_end',
  'span.model_request_start', 'span.model_request_end', 'span.outcome_evaluation_ongoing', 'user.define_outcome',
  'session.thread_status_running', 'session.thread_status_idle', 'session.thread_status_terminated', 'user.tool_result',
  'session.thread_status_rescheduled', 'session.updated', 'system.message', 'session.usage',
] as const satisfies readonly BetaManagedAgentsSessionEventType[];

export const EventListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  page: z.string().min(1).optional(),
  order: z.enum(['asc', 'desc']).default('asc'),
  'types[]': z.array(z.enum(EVENT_TYPES)).optional(),
});

export const DELTA_TYPES = ['agent.message', 'agent.thinking'] as const;
