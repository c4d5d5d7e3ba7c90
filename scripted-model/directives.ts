// Inline directives: `[[...]]` markers in the last user message that script the scripted
// model's answer without a queued step (grammar in scripted-model.ts's module comment).
import type { RespondingStep } from "./script-steps.ts";
import { gradeAnswer, parseGrade, type GradeDirective } from "./grader-verdicts.ts";

/** A fault that fires for the first `times` identical requests, so a retry can succeed. */
export interface GatedFault {
  /** Identifies the directive within the message: its position and its source text. */
  key: string;
  times: number;
  step: Extract<
    RespondingStep,
    { type: "error" | "cut" | "stream_error" | "slow_first_token" | "bad_tool_input" }
  >;
}

export type DirectiveContent =
  | { type: "text"; text: string }
  | { type: "tool_use"; name: string; input: Record<string, unknown> };

export interface Directives {
  /** In order of appearance; the first one not yet exhausted fires. */
  faults: GatedFault[];
  /** What to say when no fault fires (the last `tool:`/`reply:` wins); the demo reply when absent. */
  content: DirectiveContent | undefined;
  delayMs: number;
  /** The message text with every recognised directive removed. */
  residualText: string;
}

const DEFAULT_CUT_AFTER_CHARS = 20;

/** Finds every well-formed directive in `text`; anything malformed stays ordinary text. */
export function parseDirectives(text: string): Directives {
  const result: Directives = { faults: [], content: undefined, delayMs: 0, residualText: "" };
  let residual = "";
  let cursor = 0;
  let searchFrom = 0;
  let grade: GradeDirective | undefined;
  while (true) {
    const open = text.indexOf("[[", searchFrom);
    if (open < 0) break;
    const parsed = parseOne(text, open);
    if (!parsed) {
      searchFrom = open + 2;
      continue;
    }
    residual += text.slice(cursor, open);
    cursor = parsed.end;
    searchFrom = parsed.end;
    const source = text.slice(open, parsed.end);
    const d = parsed.directive;
    if (d.kind === "fault") {
      result.faults.push({ key: `${result.faults.length}:${source}`, times: d.times, step: d.step });
    } else if (d.kind === "content") {
      result.content = d.content;
    } else if (d.kind === "grade") {
      grade = d.grade;
    } else {
      result.delayMs += d.ms;
    }
  }
  residual += text.slice(cursor);
  result.residualText = residual.replace(/[ \t]{2,}/g, " ").trim();
  // A grade directive marks a grader's request: it wins over any reply or tool directive quoted in the work.
  if (grade) result.content = { type: "text", text: gradeAnswer(grade, result.residualText) };
  return result;
}

type OneDirective =
  | { kind: "fault"; times: number; step: GatedFault["step"] }
  | { kind: "content"; content: DirectiveContent }
  | { kind: "delay"; ms: number }
  | { kind: "grade"; grade: GradeDirective };

function parseOne(text: string, open: number): { directive: OneDirective; end: number } | undefined {
  const start = open + 2;
  // tool: carries JSON, which may itself contain "]]", so it is scanned by bracket balance.
  const toolHead = /^tool:([A-Za-z0-9_.-]+)\s*/.exec(text.slice(start));
  if (toolHead) {
    const name = toolHead[1] ?? "";
    const jsonStart = start + toolHead[0].length;
    if (text.startsWith("]]", jsonStart)) {
      return { directive: { kind: "content", content: { type: "tool_use", name, input: {} } }, end: jsonStart + 2 };
    }
    const jsonEnd = scanJsonObject(text, jsonStart);
    if (jsonEnd === undefined) return undefined;
    const closeAt = skipSpaces(text, jsonEnd);
    if (!text.startsWith("]]", closeAt)) return undefined;
    const input = parseJsonObject(text.slice(jsonStart, jsonEnd));
    if (!input) return undefined;
    return { directive: { kind: "content", content: { type: "tool_use", name, input } }, end: closeAt + 2 };
  }
  // delegate: carries a message that may hold directives of its own (for the sub-agent's model), so it closes at
  // its own "]]", past balanced inner "[[…]]".
  const close = text.startsWith("delegate:", start) ? balancedClose(text, start) : text.indexOf("]]", start);
  if (close < 0) return undefined;
  const body = text.slice(start, close);
  const directive = parseBody(body);
  return directive ? { directive, end: close + 2 } : undefined;
}

/** Where the directive opened before `start` closes, counting inner "[[" and "]]" pairs; -1 if it does not. */
function balancedClose(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length - 1; i++) {
    if (text.startsWith("[[", i)) {
      depth++;
      i++;
    } else if (text.startsWith("]]", i)) {
      if (depth === 0) return i;
      depth--;
      i++;
    }
  }
  return -1;
}

function parseBody(body: string): OneDirective | undefined {
  if (body.startsWith("reply:")) {
    return { kind: "content", content: { type: "text", text: body.slice("reply:".length) } };
  }
  if (body.startsWith("delegate:")) {
    // [[delegate:AGENT_NAME:MESSAGE]]: the call edgeharness's `delegate` tool takes (docs/threads.md).
    const rest = body.slice("delegate:".length);
    const colon = rest.indexOf(":");
    const agentName = colon > 0 ? rest.slice(0, colon).trim() : "";
    const message = colon > 0 ? rest.slice(colon + 1).trim() : "";
    if (!agentName || !message) return undefined;
    return { kind: "content", content: { type: "tool_use", name: "delegate", input: { agent_name: agentName, message } } };
  }
  if (body.startsWith("grade:")) {
    const grade = parseGrade(body.slice("grade:".length).trim());
    return grade ? { kind: "grade", grade } : undefined;
  }
  const [head = "", ...words] = body.trim().split(/\s+/);
  if (head === "delay") {
    const ms = parseCount(words[0]);
    return ms === undefined || words.length !== 1 ? undefined : { kind: "delay", ms };
  }
  if (head === "slow-first-token") {
    const delayMs = parseCount(words[0]);
    const options = parseOptions(words.slice(1), []);
    if (delayMs === undefined || !options) return undefined;
    return { kind: "fault", times: options.times, step: { type: "slow_first_token", delay_ms: delayMs } };
  }
  if (head.startsWith("bad-tool-input:")) {
    const name = head.slice("bad-tool-input:".length);
    const options = parseOptions(words, []);
    if (!name || !options) return undefined;
    return { kind: "fault", times: options.times, step: { type: "bad_tool_input", name } };
  }
  if (head.startsWith("fault:")) return parseFault(head.slice("fault:".length), words);
  return undefined;
}

function parseFault(what: string, words: string[]): OneDirective | undefined {
  if (what === "cut" || what === "stream-error") {
    const options = parseOptions(words, ["after"]);
    if (!options) return undefined;
    const afterChars = options.values.get("after") ?? DEFAULT_CUT_AFTER_CHARS;
    const step: GatedFault["step"] =
      what === "cut"
        ? { type: "cut", after_chars: afterChars }
        : { type: "stream_error", error_type: "overloaded_error", after_chars: afterChars };
    return { kind: "fault", times: options.times, step };
  }
  const status = /^\d{3}$/.test(what) ? Number(what) : NaN;
  if (!(status >= 400 && status <= 599)) return undefined;
  const options = parseOptions(words, ["retry-after"]);
  if (!options) return undefined;
  const retryAfter = options.values.get("retry-after");
  return {
    kind: "fault",
    times: options.times,
    step: retryAfter === undefined ? { type: "error", status } : { type: "error", status, retry_after_seconds: retryAfter },
  };
}

/** `xN` (times) and `name=N` options; any other word makes the directive malformed. */
function parseOptions(
  words: string[],
  allowed: string[],
): { times: number; values: Map<string, number> } | undefined {
  let times = 1;
  const values = new Map<string, number>();
  for (const word of words) {
    const timesMatch = /^x(\d+)$/.exec(word);
    if (timesMatch) {
      times = Number(timesMatch[1]);
      if (times < 1) return undefined;
      continue;
    }
    const eq = word.indexOf("=");
    const name = word.slice(0, eq);
    const value = parseCount(word.slice(eq + 1));
    if (eq < 0 || !allowed.includes(name) || value === undefined) return undefined;
    values.set(name, value);
  }
  return { times, values };
}

function parseCount(word: string | undefined): number | undefined {
  return word !== undefined && /^\d+$/.test(word) ? Number(word) : undefined;
}

function skipSpaces(text: string, from: number): number {
  let i = from;
  while (i < text.length && /\s/.test(text[i] ?? "")) i++;
  return i;
}

/** Index just past the JSON object starting at `from`, balancing brackets outside strings. */
function scanJsonObject(text: string, from: number): number | undefined {
  if (text[from] !== "{") return undefined;
  let depth = 0;
  let inString = false;
  for (let i = from; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === "{" || ch === "[") depth++;
    else if (ch === "}" || ch === "]") {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return undefined;
}

function parseJsonObject(json: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(json);
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
