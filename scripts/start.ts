// `npm start`: runs edgeharness on this machine with built-in defaults, prints how to connect, and supervises it:
// a crashed child is restarted, SIGINT/SIGTERM/SIGHUP stop everything; state survives in the state dir.
import path from 'node:path';
import { isTruthy, RuntimeStartError, startRuntime, type Runtime } from './runtime.ts';

const say = (line: string): void => { process.stdout.write(`edgeharness: ${line}\n`); };
// a closed terminal fails every later write (EIO): stopping cleanly matters more than saying so
process.stdout.on('error', () => {});
/** Restarts allowed within 10 minutes; past them the runtime stops and says why. */
const RESTARTS = 3;
const verbose = process.argv.includes('--verbose') || isTruthy(process.env.EDGEHARNESS_VERBOSE);
// npm runs scripts from the project root; a relative path is meant from where the user typed `npm start`
const userCwd = process.env.INIT_CWD ?? process.cwd();
const stateDir = process.env.EDGEHARNESS_STATE_DIR ? path.resolve(userCwd, process.env.EDGEHARNESS_STATE_DIR) : undefined;

const starting = new AbortController();
let runtime: Runtime | undefined;
let stopRequested = false;

function requestStop(why: string): void {
  // npm forwards the terminal's SIGINT to us as well, so one Ctrl-C can arrive twice: act once
  if (stopRequested) return;
  stopRequested = true;
  say(`${why}: stopping…`);
  if (runtime) void runtime.stop();
  else starting.abort(new Error(why));
}
process.on('SIGINT', () => requestStop('SIGINT'));
process.on('SIGTERM', () => requestStop('SIGTERM'));
// a closed terminal: without a handler Node would die at once, leaving the children to the reaper
process.on('SIGHUP', () => requestStop('SIGHUP'));

// if whoever started us is killed outright (kill -9 of npm), no signal comes: notice being orphaned.
// (If we are killed outright, the reaper, scripts/reaper.ts, stops the children.)
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) requestStop('parent process gone');
}, 1_000).unref();

try {
  runtime = await startRuntime({ stateDir, verbose, onStatus: say, signal: starting.signal, restarts: RESTARTS });
} catch (error) {
  if (stopRequested) {
    say('stopped before it was ready');
    process.exit(0);
  }
  say(`could not start: ${error instanceof Error ? error.message : String(error)}`);
  if (error instanceof RuntimeStartError && error.logTail) process.stdout.write(`${error.logTail}\n`);
  process.exit(1);
}

// a signal that arrived between the last check in startRuntime and here still has to stop it
if (stopRequested) void runtime.stop();
else printBanner(runtime);

const exit = await runtime.exited;
if (exit.ok) {
  say('stopped');
  process.exit(0);
}
say(`${exit.reason}; stopped the rest`);
process.stdout.write(`${exit.logTail}\n`);
process.exit(1);

function printBanner(r: Runtime): void {
  const shown = (p: string): string => {
    const rel = path.relative(userCwd, p);
    return rel && !rel.startsWith('..') ? rel : p;
  };
  const key = r.apiKeySource === 'env' ? '(from EDGEHARNESS_API_KEY)' : `${r.apiKey}   (saved in ${shown(path.join(r.stateDir, 'api-key'))})`;
  const adminKey = r.adminKeySource === 'env' ? '(from EDGEHARNESS_ADMIN_KEY)' : `${r.adminKey}   (saved in ${shown(path.join(r.stateDir, 'admin-key'))})`;
  const keyExpr = r.apiKeySource === 'env' ? 'process.env.EDGEHARNESS_API_KEY' : `'${r.apiKey}'`;
  const model = r.model.kind === 'scripted'
    ? [`scripted model at ${r.model.baseURL} (deterministic, offline; for tests and demos)`,
       'for Claude: ANTHROPIC_API_KEY=sk-ant-… npm start   (or ANTHROPIC_BASE_URL=<gateway>)']
    : [r.model.baseURL ? `Anthropic-compatible API at ${r.model.baseURL}` : 'Anthropic API (api.anthropic.com)'];
  const rule = '─'.repeat(78);
  const lines = [
    rule,
    ' edgeharness is running',
    `   URL       ${r.url}`,
    `   API key   ${key}`,
    `   Admin key ${adminKey}   (organization routes only)`,
    `   State     ${r.stateDir}`,
    `   Model     ${model[0]}`,
    ...model.slice(1).map((l) => `             ${l}`),
    `   Console   ${r.url}/console/   (sign in with the API key)`,
    r.allowedOrigins.length
      ? `   Origins   ${r.allowedOrigins.join(', ')} may call the API from a browser (EDGEHARNESS_ALLOWED_ORIGINS)`
      : '   Origins   only the console; for a web app: EDGEHARNESS_ALLOWED_ORIGINS=http://localhost:5173 npm start',
    `   Logs      ${r.logDir}  (EDGEHARNESS_VERBOSE=1 to stream them here)`,
    ...(r.inspectorUrl ? [`   Inspector ${r.inspectorUrl}  (DevTools; it can read every secret of the Worker)`] : []),
    '',
    ' Connect with the official SDK:',
    "   import Anthropic from '@anthropic-ai/sdk';",
    `   const client = new Anthropic({ baseURL: '${r.url}', apiKey: ${keyExpr} });`,
    "   const agent = await client.beta.agents.create({ name: 'hello', model: 'claude-sonnet-5-5' });",
    "   const environment = await client.beta.environments.create({ name: 'local' });",
    '   const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });',
    '',
    ' Ctrl-C stops everything; sessions and the API key are kept for the next start. A crashed part is restarted.',
    rule,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
