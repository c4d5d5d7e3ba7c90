// Serves a scripted model over node:http: a small adapter between IncomingMessage /
// ServerResponse and the model's web-standard fetch handler, streaming as bodies are produced.
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createScriptedModel } from "./scripted-model.ts";
import type { ScriptedModel, ScriptedModelOptions } from "./scripted-model.ts";

export interface StartOptions extends ScriptedModelOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
}

export interface StartedScriptedModel {
  /** Base URL for `new Anthropic({ baseURL })`, without a trailing slash. */
  url: string;
  port: number;
  /** Stops listening and drops open connections, including keep-alive ones. */
  close(): Promise<void>;
  model: ScriptedModel;
}

export async function startScriptedModel(options: StartOptions = {}): Promise<StartedScriptedModel> {
  const { port = 0, host = "127.0.0.1", ...modelOptions } = options;
  const model = createScriptedModel(modelOptions);
  const server = createServer((req, res) => {
    serve(model, req, res).catch((error: unknown) => {
      // The adapter itself failed (not the model): nothing sensible is left to send.
      console.error("scripted-model: adapter error", error);
      res.destroy();
    });
  });
  await listen(server, port, host);
  const actualPort = (server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${actualPort}`,
    port: actualPort,
    model,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

async function serve(model: ScriptedModel, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const response = await model.fetch(await toRequest(req));
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const setCookies = response.headers.getSetCookie();
  if (setCookies.length > 0) headers["set-cookie"] = setCookies;
  res.writeHead(response.status, headers);
  // SSE needs the headers out before the first event, which may be scripted to come late.
  res.flushHeaders();
  if (!response.body) {
    res.end();
    return;
  }

  const reader = response.body.getReader();
  res.on("close", () => {
    if (!res.writableFinished) reader.cancel().catch(() => {});
  });
  let lastWrite: Promise<void> = Promise.resolve();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (res.destroyed) return;
      lastWrite = new Promise((resolve) => res.write(value, () => resolve()));
      // Backpressure: wait for the socket to drain rather than buffering a whole stream.
      if (res.writableNeedDrain) await new Promise((resolve) => res.once("drain", resolve));
    }
    res.end();
  } catch {
    // A body that errors (the `cut` fault) must look like a dropped connection to the client,
    // not a clean end: flush what was written, then destroy the socket mid-response.
    await lastWrite;
    res.socket?.destroy();
    res.destroy();
  }
}

async function toRequest(req: IncomingMessage): Promise<Request> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  const method = req.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  // Request bodies here are small JSON documents; reading them whole keeps the adapter simple.
  const chunks: Buffer[] = [];
  if (hasBody) for await (const chunk of req) chunks.push(chunk as Buffer);
  // Routing needs only the path; a fixed origin avoids trusting the Host header.
  return new Request(new URL(req.url ?? "/", "http://localhost"), {
    method,
    headers,
    body: hasBody ? Buffer.concat(chunks) : undefined,
  });
}
