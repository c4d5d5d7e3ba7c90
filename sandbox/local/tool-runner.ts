// Runs inside a session's sandbox: the official SDK's agent toolset (bash, read, write, edit, glob, grep) bound to
// the workspace, serving the host's calls as JSON lines over stdin/stdout. It outlives calls (bash keeps its shell).
// Usage: node tool-runner.ts --workdir <workspace> --max-chars <n>
import { closeSync, mkdirSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { betaAgentToolset20260401 } from '@anthropic-ai/sdk/tools/agent-toolset/node';
import { runRunnableTool } from '@anthropic-ai/sdk/lib/tools/BetaRunnableTool';
import type { RunnerCall, RunnerMessage } from './runner-protocol.ts';

const { values } = parseArgs({ options: { workdir: { type: 'string' }, 'max-chars': { type: 'string' } } });
const workdir = values.workdir ?? process.cwd();
const maxChars = Number(values['max-chars'] ?? 100_000);
/**
 * Where outputs too long for a result are kept whole, relative to the workspace. The host redacts credential
 * values from these files after each call (saved-output.ts, which names the same place).
 */
const OUTPUTS_DIR = path.join(workdir, '.edgeharness', 'outputs');

// sandbox-runtime points TMPDIR at /tmp/claude, which the sandbox's private /tmp does not have yet
mkdirSync(process.env.TMPDIR ?? '/tmp', { recursive: true });

const tools = new Map(betaAgentToolset20260401({ workdir }).map((tool) => [tool.name, tool]));

function send(message: RunnerMessage): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function serve(call: RunnerCall): Promise<void> {
  const tool = tools.get(call.name);
  if (!tool) {
    send({ type: 'result', id: call.id, isError: true, text: `unknown tool "${call.name}"; this sandbox runs ${[...tools.keys()].join(', ')}` });
    return;
  }
  const spool = call.name === 'bash' && typeof call.input.command === 'string' && call.input.command !== ''
    ? path.join(OUTPUTS_DIR, `${call.key}.txt`)
    : undefined;
  let input = call.input;
  if (spool) {
    mkdirSync(OUTPUTS_DIR, { recursive: true });
    input = { ...input, command: spooled(String(call.input.command), spool) };
  }

  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new Error(`timed out after ${call.timeoutMs} ms`)), call.timeoutMs);
  const timedOut = new Promise<undefined>((resolve) => deadline.signal.addEventListener('abort', () => resolve(undefined), { once: true }));
  const toolUse = { type: 'tool_use' as const, id: call.key, name: call.name, input };
  try {
    // on abort the SDK's bash kills the shell's process group, so a hung command and its children stop too
    const outcome = await Promise.race([runRunnableTool(tool, input, { toolUse, toolUseBlock: toolUse, signal: deadline.signal }), timedOut]);
    if (outcome === undefined) {
      const tail = spool ? readTail(spool, 5_000) : '';
      const shown = tail ? `\nlast output before it was stopped:\n${tail}` : '';
      send({ type: 'result', id: call.id, isError: true, text: `${call.name} timed out after ${call.timeoutMs} ms; the command and the processes it started were stopped${shown}` });
      return;
    }
    const text = contentText(outcome.content);
    const result = text.length > maxChars ? truncated(text, spool, call.key) : text;
    // gone before the host hears of the result: a short output leaves no copy behind
    if (spool && text.length <= maxChars) rmSync(spool, { force: true });
    send({ type: 'result', id: call.id, isError: outcome.isError, text: result });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The command with its output also written whole to `file`: the SDK's shell keeps only the last 100 KiB, but
 * a truncated result must point at all of it. The braces keep it in the same shell (cd and variables persist)
 * and the exit status is handed on, so the SDK still reports a failing command as an error.
 */
function spooled(command: string, file: string): string {
  const q = `'${file.replaceAll("'", "'\\''")}'`;
  return `{ ${command}\n} > ${q} 2>&1; __edgeharness_status=$?; cat ${q}; (exit $__edgeharness_status)`;
}

/** The first and last parts of an output too long for a result, with where the whole of it is. */
function truncated(text: string, spool: string | undefined, key: string): string {
  const file = spool ?? path.join(OUTPUTS_DIR, `${key}.txt`);
  if (!spool) {
    mkdirSync(OUTPUTS_DIR, { recursive: true });
    writeFileSync(file, text);
  }
  const part = Math.floor((maxChars - 1_000) / 2);
  const { size } = statSync(file);
  const note = `\n\n[… output truncated: ${size} bytes in all; the first and last ${part} characters are shown. The whole output is saved in ${file} …]\n\n`;
  // trailing newlines dropped, as the SDK's own results have them
  return `${readHead(file, part)}${note}${readTail(file, part).replace(/\n+$/, '')}`;
}

function readHead(file: string, chars: number): string {
  return readSlice(file, 0, chars * 4).slice(0, chars);
}

function readTail(file: string, chars: number): string {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return '';
  }
  const text = readSlice(file, Math.max(0, size - chars * 4), chars * 4);
  return text.slice(Math.max(0, text.length - chars));
}

/** Reads at most `length` bytes from `start`; a character cut at either end decodes as U+FFFD. */
function readSlice(file: string, start: number, length: number): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const buffer = Buffer.alloc(length);
    const read = readSync(fd, buffer, 0, length, start);
    return buffer.subarray(0, read).toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function contentText(content: string | ReadonlyArray<{ type: string; text?: string }>): string {
  if (typeof content === 'string') return content;
  return content.map((block) => (block.type === 'text' && block.text !== undefined ? block.text : `[${block.type}]`)).join('\n');
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (!line.trim()) return;
  let call: RunnerCall;
  try {
    call = JSON.parse(line) as RunnerCall;
  } catch {
    process.stderr.write(`tool runner: ignoring a line that is not JSON: ${line.slice(0, 200)}\n`);
    return;
  }
  serve(call).catch((error: unknown) => {
    send({ type: 'result', id: call.id, isError: true, text: `the tool runner failed: ${error instanceof Error ? error.message : String(error)}` });
  });
});
// the host closing our stdin (or dying) is the signal to stop: end the shell's process group with us
lines.on('close', () => {
  for (const tool of tools.values()) void tool.close?.();
  process.exit(0);
});
send({ type: 'ready' });
