// Runs inside the container, once per tool call (the SDK's exec has no stdin to keep a runner fed): starts the
// local provider's tool runner unchanged, hands it the call read from stdin (root's shell opens the call file, which
// lives where only root may go), prints the runner's result as one JSON line on stdout, then closes the runner's
// stdin, which stops it and its shell.
// Usage: node run-one-call.ts --runner <tool-runner.ts> --workdir <dir> --max-chars <n> < call.json
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { RunnerCall, RunnerMessage } from '../local/runner-protocol.ts';

const { values } = parseArgs({
  options: {
    runner: { type: 'string' },
    workdir: { type: 'string' },
    'max-chars': { type: 'string' },
  },
});
if (!values.runner || !values.workdir) {
  process.stderr.write('usage: run-one-call.ts --runner <tool-runner.ts> --workdir <dir> --max-chars <n> < call.json\n');
  process.exit(2);
}

const call = JSON.parse(readFileSync(0, 'utf8')) as RunnerCall;

const runner = spawn(process.execPath, [path.resolve(values.runner), '--workdir', values.workdir, '--max-chars', values['max-chars'] ?? '100000'], {
  cwd: values.workdir,
  stdio: ['pipe', 'pipe', 'inherit'],
});
let answered = false;

createInterface({ input: runner.stdout }).on('line', (line) => {
  let message: RunnerMessage;
  try {
    message = JSON.parse(line) as RunnerMessage;
  } catch {
    return;
  }
  if (message.type === 'result' && message.id === call.id && !answered) {
    answered = true;
    process.stdout.write(`${line}\n`);
    runner.stdin.end();
  }
});
// The pipe buffers the call until the runner has loaded the toolset and starts reading.
runner.stdin.write(`${JSON.stringify(call)}\n`);

// `timeout` stops us with SIGTERM when the runner hangs: closing its stdin lets it stop its shell's processes.
process.once('SIGTERM', () => {
  runner.stdin.end();
  setTimeout(() => {
    runner.kill('SIGKILL');
    process.exit(143);
  }, 2_000).unref();
});

runner.once('exit', (code, signal) => {
  process.exit(answered ? 0 : (code ?? (signal ? 128 : 1)));
});
