// Context builder: turns the session's log (a view of it) into a Messages API request for the agent's model, and
// gives the blocks that name a file the file's bytes.
import type { SessionAgent } from '../../contract/session.ts';
import type { SessionEvent } from '../../contract/events.ts';
import type { SkillSummary } from '../../contract/skill.ts';
import type { MountedMemoryStore } from '../../contract/session-spec.ts';
import { latestCompaction } from './compactor.ts';
import { evaluationFeedback, outcomeBrief } from './outcomes.ts';
import type { ToolDefinition } from './tools.ts';

/** The event types the model's context is built from; the brain reads only these from the log. */
export const CONTEXT_EVENT_TYPES = [
  'user.message',
  'agent.message',
  'system.message',
  'agent.tool_use',
  'agent.tool_result',
  'agent.custom_tool_use',
  'user.custom_tool_result',
  'agent.mcp_tool_use',
  'agent.mcp_tool_result',
  'agent.thread_context_compacted',
  'user.define_outcome',
  'span.outcome_evaluation_end',
] as const;

const DEFAULT_MAX_TOKENS = 8192;

type Block = { type: string; [k: string]: unknown };
export interface ModelMessage {
  role: 'user' | 'assistant';
  content: Block[];
}
export interface ModelRequest {
  model: string;
  max_tokens: number;
  system?: Block[];
  tools?: Array<ToolDefinition & { cache_control?: CacheControl }>;
  messages: ModelMessage[];
}

type CacheControl = { type: 'ephemeral' };
const EPHEMERAL: CacheControl = { type: 'ephemeral' };

/**
 * The system prompt's list of the agent's skills: each one's name, description and where its SKILL.md is. Only
 * these lines are always in context; the model reads a skill's body when a task calls for it. Built from the
 * session's spec alone, so it is the same bytes every turn and the cached prefix holds.
 */
export function skillsPrompt(skills: readonly SkillSummary[]): string {
  const lines = skills.map((s) => `- ${s.name}: ${s.description} (${s.path}SKILL.md)`);
  return [
    'You have skills: folders of instructions, scripts and resources for particular tasks. Only each skill\'s name and',
    'description are listed here. When a task matches a skill, read its SKILL.md first and follow it; it may point to',
    'further files in the same folder.',
    '',
    ...lines,
  ].join('\n');
}

/**
 * The system prompt's list of the session's memory stores: where each is mounted, whether the agent may write there,
 * and what the store and the attachment say about it. From the spec alone, so the cached prefix holds.
 */
export function memoryStoresPrompt(stores: readonly MountedMemoryStore[]): string {
  const blocks = stores.map((s) =>
    [
      `- ${s.name} at ${s.mount_path}/ (${s.access === 'read_only' ? 'read-only' : 'read-write'})`,
      ...(s.description ? [`  Description: ${s.description}`] : []),
      ...(s.instructions ? [`  Instructions: ${s.instructions}`] : []),
    ].join('\n'),
  );
  return [
    'You have memory stores: directories of text files that outlive this session. Each memory is a file under its',
    "store's mount path. Read them with your tools before starting work that they may inform. In a read-write store,",
    'what you write, change or delete there is saved as a memory when the tool call ends (UTF-8 text, at most 100 kB',
    'a file, at most 20 path segments); other sessions may change the same files.',
    '',
    ...blocks,
  ].join('\n');
}

export function buildModelRequest(
  agent: SessionAgent,
  events: SessionEvent[],
  tools: ToolDefinition[] = [],
  skills: readonly SkillSummary[] = [],
  memoryStores: readonly MountedMemoryStore[] = [],
): ModelRequest {
  const messages: ModelMessage[] = [];
  const push = (role: ModelMessage['role'], blocks: Block[]) => {
    if (!blocks.length) return;
    const last = messages[messages.length - 1];
    // The Messages API wants alternating roles: consecutive inputs of one role become one turn.
    if (last && last.role === role) last.content.push(...blocks);
    else messages.push({ role, content: [...blocks] });
  };
  // After a compaction the context is [summary][events after the cut]; the log itself keeps everything.
  const compacted = latestCompaction(events);
  if (compacted) {
    const from = events.findIndex((e) => e.id === compacted.compacted_through) + 1;
    events = events.slice(from);
    push('user', [{ type: 'text', text: `<conversation-summary>\n${compacted.summary}\n</conversation-summary>` }]);
  }
  for (const ev of events) {
    // Content blocks go to the model as the log holds them (the official block shapes are the Messages API's).
    const content = ('content' in ev && ev.content ? ev.content : []) as Block[];
    switch (ev.type) {
      case 'user.message':
        push('user', content.filter((b) => b.type !== 'redacted'));
        break;
      case 'agent.message':
        push('assistant', content.filter((b) => b.type === 'text'));
        break;
      // An outcome is a user turn with its task, and each verdict comes back to the agent as a user turn too.
      case 'user.define_outcome':
        push('user', [{ type: 'text', text: outcomeBrief(ev) }]);
        break;
      case 'span.outcome_evaluation_end':
        push('user', [{ type: 'text', text: evaluationFeedback(ev) }]);
        break;
      case 'system.message':
        push('user', content.map((b) => ({ type: 'text', text: `<system-message>${String(b.text ?? '')}</system-message>` })));
        break;
      // The log's event id is the tool_use id the model sees: stable across brains and retries.
      // An MCP tool is offered under its own name (worker/brain/tools.ts), so the call goes back as it was made.
      case 'agent.tool_use':
      case 'agent.custom_tool_use':
      case 'agent.mcp_tool_use':
        push('assistant', [{ type: 'tool_use', id: ev.id, name: ev.name, input: ev.input ?? {} }]);
        break;
      case 'agent.tool_result':
        push('user', [toolResult(ev.tool_use_id, content, ev.is_error === true)]);
        break;
      case 'user.custom_tool_result':
        push('user', [toolResult(ev.custom_tool_use_id, content, ev.is_error === true)]);
        break;
      case 'agent.mcp_tool_result':
        push('user', [toolResult(ev.mcp_tool_use_id, content, ev.is_error === true)]);
        break;
    }
  }
  // Tool results must open the user turn that follows the tool calls.
  for (const m of messages) {
    if (m.role === 'user') m.content.sort((a, b) => Number(b.type === 'tool_result') - Number(a.type === 'tool_result'));
  }
  const req: ModelRequest = { model: agent.model.id, max_tokens: DEFAULT_MAX_TOKENS, messages };
  if (tools.length) req.tools = tools.map((t) => ({ ...t }));
  const system: Block[] = [];
  if (agent.system) system.push({ type: 'text', text: agent.system });
  if (skills.length) system.push({ type: 'text', text: skillsPrompt(skills) });
  if (memoryStores.length) system.push({ type: 'text', text: memoryStoresPrompt(memoryStores) });
  if (system.length) req.system = system;
  placeCacheBreakpoints(req);
  return req;
}

/**
 * Prompt caching: the static prefix (tools, then system) is byte-identical from turn to turn and gets one
 * breakpoint at its end; the conversation gets one at its end, so the next turn reads everything before its
 * new input from the cache, and one at the end of the previous assistant turn, which lies within the
 * lookback window of where the previous request wrote. Three of the four breakpoints the API allows.
 */
function placeCacheBreakpoints(req: ModelRequest): void {
  const lastSystem = req.system?.[req.system.length - 1];
  const lastTool = req.tools?.[req.tools.length - 1];
  if (lastSystem) lastSystem.cache_control = EPHEMERAL;
  else if (lastTool) lastTool.cache_control = EPHEMERAL;
  const mark = (m: ModelMessage | undefined) => {
    const last = m?.content[m.content.length - 1];
    if (last) m!.content[m!.content.length - 1] = { ...last, cache_control: EPHEMERAL };
  };
  const n = req.messages.length;
  mark(req.messages[n - 1]);
  for (let i = n - 2; i >= 0; i--) {
    if (req.messages[i]!.role === 'assistant') {
      mark(req.messages[i]);
      break;
    }
  }
}

/** A file's type and bytes, for a block that names it; null when the file is gone (deleted since it was sent). */
export type FileRead = (fileId: string) => Promise<{ mimeType: string; bytes: Uint8Array } | null>;

/**
 * The request with each image and document block whose source is a file (in a user turn or inside a tool result)
 * carrying the file's bytes instead, as the model needs them: an image or a PDF as a base64 source, a text file as a
 * text source. Only the request carries bytes; the log keeps the reference. Each file is read once per request. A
 * file deleted since it was sent becomes a text block saying so, so the turn goes on without it.
 */
export async function withFileContents(req: ModelRequest, read: FileRead): Promise<ModelRequest> {
  if (!req.messages.some((m) => m.content.some(namesAFile))) return req;
  const reads = new Map<string, ReturnType<FileRead>>();
  const readOnce = (id: string) => {
    let r = reads.get(id);
    if (!r) reads.set(id, (r = read(id)));
    return r;
  };
  const resolve = async (block: Block): Promise<Block> => {
    if (block.type === 'tool_result' && Array.isArray(block.content)) return { ...block, content: await Promise.all((block.content as Block[]).map(resolve)) };
    const fileId = fileSourceId(block);
    if (fileId === null) return block;
    const file = await readOnce(fileId);
    if (!file) return { type: 'text', text: `[${block.type} from file '${fileId}': the file has been deleted and is no longer available]` };
    return { ...block, source: fileSource(block.type, file) };
  };
  const messages = await Promise.all(req.messages.map(async (m) => ({ ...m, content: await Promise.all(m.content.map(resolve)) })));
  return { ...req, messages };
}

function fileSourceId(block: Block): string | null {
  if (block.type !== 'image' && block.type !== 'document') return null;
  const source = block.source as { type?: string; file_id?: string } | undefined;
  return source?.type === 'file' && typeof source.file_id === 'string' ? source.file_id : null;
}

function namesAFile(block: Block): boolean {
  if (block.type === 'tool_result' && Array.isArray(block.content)) return (block.content as Block[]).some(namesAFile);
  return fileSourceId(block) !== null;
}

function fileSource(kind: string, file: { mimeType: string; bytes: Uint8Array }): Block {
  if (kind === 'document' && file.mimeType.startsWith('text/'))
    return { type: 'text', media_type: 'text/plain', data: new TextDecoder().decode(file.bytes) };
  return { type: 'base64', media_type: file.mimeType, data: base64(file.bytes) };
}

function base64(bytes: Uint8Array): string {
  let bin = '';
  // In slices: String.fromCharCode takes its bytes as arguments, and a call has a limit on those.
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

function toolResult(toolUseId: string, content: Block[], isError: boolean): Block {
  const block: Block = { type: 'tool_result', tool_use_id: toolUseId, content: content.length ? content : [{ type: 'text', text: '(no output)' }] };
  if (isError) block.is_error = true;
  return block;
}
