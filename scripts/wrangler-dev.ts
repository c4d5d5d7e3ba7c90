// Runs the Worker the way `wrangler dev --local` does, through wrangler's own `startWorker`, because only that
// API can turn the DevTools inspector off: `wrangler dev` always opens one, and its `Runtime.evaluate` hands any
// local process that reaches it (a sandbox allowed onto loopback, say) every secret of the Worker.
// Usage: node scripts/wrangler-dev.ts --config <wrangler.toml> --ip <host> --port <n> --persist-to <dir>
//        --env-file <file> [--inspector-port <n>] [--entry <file>]
// `--entry` runs another Worker entry than the config's `main`, with the config's bindings: tests use it to run the
// production Worker wrapped (test/support/fault-worker.ts).
import { parseArgs } from 'node:util';
import { unstable_startWorker } from 'wrangler';

const { values } = parseArgs({
  options: {
    config: { type: 'string' },
    ip: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    'persist-to': { type: 'string' },
    'env-file': { type: 'string' },
    'inspector-port': { type: 'string' },
    entry: { type: 'string' },
  },
});
const fail = (message: string): never => {
  // `✘ [ERROR]` is what wrangler prints and what scripts/runtime.ts watches the log for
  process.stderr.write(`✘ [ERROR] ${message}\n`);
  process.exit(1);
};
if (!values.config || !values.port || !values['persist-to'] || !values['env-file']) {
  fail('wrangler-dev: --config, --port, --persist-to and --env-file are required');
}
const port = Number(values.port);
const inspectorPort = values['inspector-port'] === undefined ? undefined : Number(values['inspector-port']);

const worker = await unstable_startWorker({
  config: values.config,
  ...(values.entry === undefined ? {} : { entrypoint: values.entry }),
  // with explicit env files wrangler reads these only, so a developer's own .dev.vars never leaks in
  envFiles: [values['env-file']],
  dev: {
    remote: false, // no remote bindings: never needs a Cloudflare login or the network
    server: { hostname: values.ip, port },
    // off unless asked for; when on, on loopback only (workerd's own inspector behind it always is)
    inspector: inspectorPort === undefined ? false : { hostname: values.ip, port: inspectorPort },
    persist: values['persist-to'],
    // no dev registry: no other local wrangler can route to this Worker, and workerd opens no debug port for it
    registry: undefined,
  },
}).catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
await worker.ready;

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  worker.dispose().then(() => process.exit(0), () => process.exit(1));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// the supervisor died without a word (kill -9) and its reaper too: do not go on serving the state dir for nobody
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stop();
}, 1_000).unref();
