// CLI: `node scripted-model/main.ts [--port N] [--host H] [--control-routes]` serves the scripted model until
// SIGINT/SIGTERM, announcing itself with one line that scripts/runtime.ts waits for.
import { parseArgs } from "node:util";
import { startScriptedModel } from "./server.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    // the request log holds every session's prompts: only a test that reads it turns it on, never `npm start`
    "control-routes": { type: "boolean", default: false },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`scripted-model: --port must be an integer from 0 to 65535, got ${values.port}`);
  process.exit(2);
}

const server = await startScriptedModel({ port, host: values.host, controlRoutes: values["control-routes"] });
console.log(`scripted-model listening on ${server.url}`);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  server.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error("scripted-model: error while closing", error);
      process.exit(1);
    },
  );
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
// whoever started us died without a signal (kill -9): do not go on serving for nobody
// (scripts/wrangler-dev.ts repeats this check on purpose: the scripted model runs on its own, importing nothing of scripts/)
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stop();
}, 1_000).unref();
