// Runs the local sandbox host as its own process (`npm start` does this). The bearer secret arrives as the first
// line of stdin, so it is never in argv or the environment. Prints "sandbox host listening on <url>" when ready.
// Usage: node sandbox/local/main.ts --state <dir> [--port 0] [--hide <dir>]... < secret
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { DEFAULT_IDLE_MS, startSandboxHost } from './host.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    state: { type: 'string' },
    hide: { type: 'string', multiple: true, default: [] },
  },
});
if (!values.state) {
  process.stderr.write('sandbox host: --state <dir> is required\n');
  process.exit(2);
}

const secret = await firstLine();
if (!secret) {
  process.stderr.write('sandbox host: expected the bearer secret on the first line of stdin\n');
  process.exit(2);
}

const idle = Number(process.env.EDGEHARNESS_SANDBOX_IDLE_MS ?? DEFAULT_IDLE_MS);
const host = await startSandboxHost({
  stateDir: values.state,
  secret,
  port: Number(values.port),
  hide: values.hide,
  idleMs: Number.isFinite(idle) && idle > 0 ? idle : DEFAULT_IDLE_MS,
});
process.stdout.write(`sandbox host listening on ${host.url}\n`);

let stopping = false;
const stop = (why: string): void => {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`sandbox host: ${why}, stopping the sandboxes\n`);
  void host.close().then(() => process.exit(0));
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
// whoever started us died without a signal (kill -9): do not outlive it with sandboxes running
// (scripts/start.ts and the other process entries repeat this check on purpose: sandbox/ imports nothing of scripts/)
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stop('parent process gone');
}, 1_000).unref();

function firstLine(): Promise<string> {
  return new Promise((resolve) => {
    const lines = createInterface({ input: process.stdin });
    let done = false;
    const finish = (line: string): void => {
      if (done) return;
      done = true;
      lines.close();
      process.stdin.destroy(); // nothing else comes this way; do not keep the process alive for it
      resolve(line.trim());
    };
    lines.once('line', finish);
    lines.once('close', () => finish(''));
  });
}
