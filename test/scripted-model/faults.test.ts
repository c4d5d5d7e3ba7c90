// Fault injection, scripted and inline: each fault reaches the official SDK the way the real
// API's would, and a directive fault lets a retry of the same request through.
import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { ask, startBench, useBench, textOf, apiErrorFrom } from "./scripted-client.ts";

const bench = useBench();

const bashTool: Anthropic.Tool = {
  name: "bash",
  description: "Run a shell command",
  input_schema: {
    type: "object",
    properties: { command: { type: "string" }, timeout_ms: { type: "integer" } },
    required: ["command", "timeout_ms"],
  },
};

/** Collects raw stream event types until the stream ends or throws. */
async function drain(stream: AsyncIterable<Anthropic.RawMessageStreamEvent>): Promise<{ types: string[]; text: string; error: unknown }> {
  const types: string[] = [];
  let text = "";
  try {
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") text += event.delta.text;
    }
  } catch (error) {
    return { types, text, error };
  }
  return { types, text, error: undefined };
}

describe("HTTP errors", () => {
  it("answers 429 rate_limit_error with the retry-after header visible on the SDK error", async () => {
    bench.server.model.enqueue({ type: "error", status: 429, retry_after_seconds: 7 });
    const error = await apiErrorFrom(() => bench.client.messages.create(ask("hi")));
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect(error.status).toBe(429);
    expect(error.type).toBe("rate_limit_error");
    expect(error.headers?.get("retry-after")).toBe("7");
    expect(error.requestID).toMatch(/^req_/);
  });

  it("answers 529 overloaded_error", async () => {
    bench.server.model.enqueue({ type: "error", status: 529 });
    const error = await apiErrorFrom(() => bench.client.messages.create(ask("hi")));
    expect(error).toBeInstanceOf(Anthropic.OverloadedError);
    expect(error.status).toBe(529);
    expect(error.type).toBe("overloaded_error");
  });

  it("answers 500 api_error, also to a streaming request", async () => {
    bench.server.model.enqueue({ type: "error", status: 500 });
    const error = await apiErrorFrom(() => bench.client.messages.stream(ask("hi")).finalMessage());
    expect(error).toBeInstanceOf(Anthropic.InternalServerError);
    expect(error.status).toBe(500);
    expect(error.type).toBe("api_error");
  });

  it("triggers the same errors from inline directives", async () => {
    const limited = await apiErrorFrom(() => bench.client.messages.create(ask("hi [[fault:429 retry-after=1]]")));
    expect(limited.status).toBe(429);
    expect(limited.headers?.get("retry-after")).toBe("1");
    const overloaded = await apiErrorFrom(() => bench.client.messages.create(ask("hi [[fault:529]]")));
    expect(overloaded.type).toBe("overloaded_error");
    const failed = await apiErrorFrom(() => bench.client.messages.create(ask("hi [[fault:500]]")));
    expect(failed.type).toBe("api_error");
  });
});

describe("directive faults are one-shot per distinct request", () => {
  it("fails the first two identical requests of [[fault:529 x2]] and answers the third", async () => {
    const request = ask("please [[fault:529 x2]]");
    const statuses: Array<number | undefined> = [];
    for (let i = 0; i < 2; i++) {
      statuses.push((await apiErrorFrom(() => bench.client.messages.create(request))).status);
    }
    const third = await bench.client.messages.create(request);
    expect(statuses).toEqual([529, 529]);
    expect(textOf(third)).toContain('You said: "please"');
  });

  it("counts each distinct conversation separately", async () => {
    await apiErrorFrom(() => bench.client.messages.create(ask("one [[fault:500]]")));
    const other = await apiErrorFrom(() => bench.client.messages.create(ask("two [[fault:500]]")));
    expect(other.status).toBe(500);
    expect(textOf(await bench.client.messages.create(ask("one [[fault:500]]")))).toContain('"one"');
  });

  it("lets the SDK's own retry of an overloaded request succeed", async () => {
    const retrying = new Anthropic({ baseURL: bench.server.url, apiKey: "x", maxRetries: 1 });
    const message = await retrying.messages.create(ask("try again [[fault:529]] [[reply:made it]]"));
    expect(textOf(message)).toBe("made it");
    expect(bench.server.model.requests.map((r) => r.status)).toEqual([529, 200]);
    expect(bench.server.model.requests[1]?.headers["x-stainless-retry-count"]).toBe("1");
  });
});

describe("faults inside a stream", () => {
  it("cuts the connection mid-stream: some deltas arrive, no message_stop, the SDK stream throws", async () => {
    bench.server.model.enqueue({ type: "cut", after_chars: 12, text: "alpha beta gamma delta epsilon" });
    const stream = await bench.client.messages.create({ ...ask("hi"), stream: true });
    const { types, text, error } = await drain(stream);
    expect(error).toBeInstanceOf(Error);
    expect(text).toBe("alpha beta g");
    expect(types).toContain("content_block_delta");
    expect(types).not.toContain("message_stop");
    expect(types).not.toContain("message_delta");
  });

  it("makes MessageStream.finalMessage reject on a cut from a [[fault:cut]] directive", async () => {
    const stream = bench.client.messages.stream(ask("hello there [[fault:cut after=5]]"));
    const texts: string[] = [];
    stream.on("text", (delta) => texts.push(delta));
    await expect(stream.finalMessage()).rejects.toThrow();
    expect(texts.join("")).toBe("You s");
  });

  it("cuts a non-streaming response mid-body so the SDK call fails", async () => {
    bench.server.model.enqueue({ type: "cut", after_chars: 30 });
    await expect(bench.client.messages.create(ask("hi"))).rejects.toThrow();
  });

  it("ends a stream with an overloaded_error event the SDK raises as an APIError", async () => {
    bench.server.model.enqueue({ type: "stream_error", after_chars: 5, text: "partial answer" });
    const stream = await bench.client.messages.create({ ...ask("hi"), stream: true });
    const { types, error } = await drain(stream);
    expect(types).toContain("content_block_delta");
    expect(types).not.toContain("message_stop");
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect(error).toMatchObject({ type: "overloaded_error" });
  });

  it("sends headers at once and holds the first event back for a slow first token", async () => {
    bench.server.model.enqueue({ type: "slow_first_token", delay_ms: 400, text: "finally" });
    const stream = bench.client.messages.stream(ask("hi"));
    await stream.withResponse();
    const headersAt = performance.now();
    let firstEventAt = 0;
    for await (const event of stream) {
      if (!firstEventAt) firstEventAt = performance.now();
      void event;
    }
    expect(firstEventAt - headersAt).toBeGreaterThanOrEqual(300);
    expect(textOf(await stream.finalMessage())).toBe("finally");
  });

  it("delays only the first identical request of [[slow-first-token]]", async () => {
    const request = ask("hi [[slow-first-token 300]]");
    await bench.client.messages.create(request);
    await bench.client.messages.create(request);
    expect(bench.server.model.requests.map((r) => r.outcome)).toEqual(["slow_first_token 300ms", "text"]);
  });
});

describe("bad tool input", () => {
  it("sends a tool_use whose input omits a property the tool's schema requires", async () => {
    bench.server.model.enqueue({ type: "bad_tool_input", name: "bash" });
    const message = await bench.client.messages.create(ask("run something", { tools: [bashTool] }));
    const call = message.content.find((b): b is Anthropic.ToolUseBlock => b.type === "tool_use");
    expect(message.stop_reason).toBe("tool_use");
    expect(call?.name).toBe("bash");
    const input = call?.input as Record<string, unknown>;
    expect(input).not.toHaveProperty("command");
    expect(input["timeout_ms"]).toBe(1);
    expect(bench.server.model.requests[0]?.outcome).toBe("bad_tool_input bash: missing required property command");
  });

  it("gives a property the wrong type when the schema requires nothing", async () => {
    const tool: Anthropic.Tool = { name: "read", input_schema: { type: "object", properties: { file_path: { type: "string" } } } };
    const stream = bench.client.messages.stream(ask("read it [[bad-tool-input:read]]", { tools: [tool] }));
    const message = await stream.finalMessage();
    const call = message.content.find((b): b is Anthropic.ToolUseBlock => b.type === "tool_use");
    expect(typeof (call?.input as Record<string, unknown>)["file_path"]).not.toBe("string");
  });
});

describe("latency", () => {
  it("holds the whole response for a delay step, then answers its `then` step", async () => {
    bench.server.model.enqueue({ type: "delay", ms: 250, then: { type: "text", text: "late" } });
    const started = performance.now();
    const message = await bench.client.messages.create(ask("hi"));
    expect(performance.now() - started).toBeGreaterThanOrEqual(200);
    expect(textOf(message)).toBe("late");
  });
});

describe("authentication", () => {
  it("requires the configured API key when one is set", async () => {
    const guarded = await startBench({ apiKey: "secret" });
    try {
      const error = await apiErrorFrom(() => guarded.client.messages.create(ask("hi")));
      expect(error.status).toBe(401);
      const allowed = new Anthropic({ baseURL: guarded.server.url, apiKey: "secret", maxRetries: 0 });
      expect((await allowed.messages.create(ask("hi"))).type).toBe("message");
    } finally {
      await guarded.server.close();
    }
  });
});
