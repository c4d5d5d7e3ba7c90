// Shared setup for the scripted model's tests: a model served over real HTTP and the official
// SDK pointed at it, retries off so every fault reaches the test.
import Anthropic, { APIError } from "@anthropic-ai/sdk";
import { beforeEach } from "vitest";
import { startScriptedModel } from "../../scripted-model/server.ts";
import type { StartOptions, StartedScriptedModel } from "../../scripted-model/server.ts";
import { suiteFixture } from "../support/suite-fixture.ts";

export interface Bench {
  server: StartedScriptedModel;
  client: Anthropic;
}

/** The control routes (/_scripted/*) are on: these tests read the request log and post scripts. */
export async function startBench(options: StartOptions = {}): Promise<Bench> {
  const server = await startScriptedModel({ controlRoutes: true, ...options });
  return { server, client: new Anthropic({ baseURL: server.url, apiKey: "x", maxRetries: 0 }) };
}

/** One bench for the test file that calls this: started before its tests, closed after them, reset before each. */
export function useBench(options: StartOptions = {}): Bench {
  const bench = suiteFixture(() => startBench(options), (b) => b.server.close());
  beforeEach(() => bench.server.model.reset());
  return bench;
}

export const MODEL = "claude-scripted-test";

/** A one-message request body. */
export function ask(text: string, extra: Partial<Anthropic.MessageCreateParamsNonStreaming> = {}): Anthropic.MessageCreateParamsNonStreaming {
  return { model: MODEL, max_tokens: 1024, messages: [{ role: "user", content: text }], ...extra };
}

export function textOf(message: Anthropic.Message): string {
  return message.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("");
}

/** Runs `fn` and returns what it threw; fails the test if it did not throw. */
async function thrownBy(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to throw");
}

/** Runs `fn` and returns the API error it threw; fails the test on success or any other error. */
export async function apiErrorFrom(fn: () => Promise<unknown>): Promise<APIError> {
  const error = await thrownBy(fn);
  if (!(error instanceof APIError)) throw new Error(`expected an APIError, got ${String(error)}`);
  return error;
}
