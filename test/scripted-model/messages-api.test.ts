// The scripted model speaks the Messages API as the official SDK expects it: plain and
// streaming replies, tool calls assembled from input_json_delta, errors, recording, control.
import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { createScriptedModel } from "../../scripted-model/scripted-model.ts";
import type { RecordedRequest } from "../../scripted-model/scripted-model.ts";
import { ask, MODEL, useBench, textOf, apiErrorFrom } from "./scripted-client.ts";

const bench = useBench();

describe("replies", () => {
  it("answers a non-streaming request with a complete Message", async () => {
    bench.server.model.enqueue({ type: "text", text: "Hello from the script." });
    const { data: message, response } = await bench.client.messages.create(ask("hi")).withResponse();
    expect(message).toMatchObject({
      type: "message",
      role: "assistant",
      model: MODEL,
      stop_reason: "end_turn",
      content: [{ type: "text", text: "Hello from the script." }],
    });
    expect(message.id).toMatch(/^msg_/);
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    expect(response.headers.get("request-id")).toMatch(/^req_/);
  });

  it("streams text as several text_delta events in the API's event order", async () => {
    bench.server.model.enqueue({ type: "text", text: "one two three four five six" });
    const stream = bench.client.messages.stream(ask("hi"));
    const types: string[] = [];
    const deltas: string[] = [];
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") deltas.push(event.delta.text);
    }
    const final = await stream.finalMessage();
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.join("")).toBe("one two three four five six");
    expect(textOf(final)).toBe("one two three four five six");
    expect(types[0]).toBe("message_start");
    expect(types[1]).toBe("content_block_start");
    expect(types.slice(-3)).toEqual(["content_block_stop", "message_delta", "message_stop"]);
    expect(final.stop_reason).toBe("end_turn");
    expect(final.usage.output_tokens).toBeGreaterThan(1);
  });

  it("sends a tool call whose input the SDK assembles from input_json_delta chunks", async () => {
    const input = { command: "echo 'a fairly long command so the input spans several deltas'" };
    bench.server.model.enqueue({ type: "tool_use", name: "bash", input, text: "Running it." });
    const stream = bench.client.messages.stream(ask("run it"));
    let jsonDeltas = 0;
    for await (const event of stream) {
      if (event.type === "content_block_delta" && event.delta.type === "input_json_delta") jsonDeltas++;
    }
    const final = await stream.finalMessage();
    expect(jsonDeltas).toBeGreaterThan(1);
    expect(final.stop_reason).toBe("tool_use");
    expect(final.content[0]).toMatchObject({ type: "text", text: "Running it." });
    expect(final.content[1]).toMatchObject({ type: "tool_use", name: "bash", input });
    expect((final.content[1] as Anthropic.ToolUseBlock).id).toMatch(/^toolu_/);
  });

  it("answers a [[tool:…]] directive with that tool call, then acknowledges its result", async () => {
    const first = await bench.client.messages.create(ask('list files [[tool:bash {"command":"ls -1"}]]'));
    const call = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === "tool_use");
    expect(first.stop_reason).toBe("tool_use");
    expect(call).toMatchObject({ name: "bash", input: { command: "ls -1" } });

    const second = await bench.client.messages.create({
      model: MODEL,
      max_tokens: 1024,
      messages: [
        { role: "user", content: 'list files [[tool:bash {"command":"ls -1"}]]' },
        { role: "assistant", content: first.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: call?.id ?? "", content: "README.md\npackage.json" }] },
      ],
    });
    expect(second.stop_reason).toBe("end_turn");
    expect(textOf(second)).toContain('The bash tool returned 2 lines; the first: "README.md"');
  });

  it("answers [[reply:…]] with exactly that text", async () => {
    const message = await bench.client.messages.create(ask("say it [[reply:Exactly  this, verbatim.]]"));
    expect(textOf(message)).toBe("Exactly  this, verbatim.");
  });

  it("stops at max_tokens like the API, cutting the text short", async () => {
    bench.server.model.enqueue({ type: "text", text: "x".repeat(100) });
    const message = await bench.client.messages.create(ask("hi", { max_tokens: 5 }));
    expect(message.stop_reason).toBe("max_tokens");
    expect(textOf(message)).toBe("x".repeat(20));
    expect(message.usage.output_tokens).toBe(5);
  });
});

describe("determinism", () => {
  it("gives identical content to two identical requests", async () => {
    const request = ask("What is 6 * 7?");
    const a = await bench.client.messages.create(request);
    const b = await bench.client.messages.create(request);
    expect(b.content).toEqual(a.content);
    expect(b.usage).toEqual(a.usage);
    expect(b.id).not.toBe(a.id);
  });

  it("answers the same requests with byte-identical bodies in two fresh instances", async () => {
    const bodies = async (): Promise<string[]> => {
      const model = createScriptedModel();
      const out: string[] = [];
      for (const text of ["hello", '[[tool:bash {"command":"pwd"}]]', "What is 2^10?"]) {
        const response = await model.fetch(
          new Request("http://model/v1/messages", { method: "POST", body: JSON.stringify(ask(text)) }),
        );
        out.push(await response.text());
      }
      return out;
    };
    expect(await bodies()).toEqual(await bodies());
  });
});

describe("validation", () => {
  it("refuses a request without max_tokens, naming the field", async () => {
    const error = await apiErrorFrom(() =>
      bench.client.messages.create({ model: MODEL, messages: [{ role: "user", content: "hi" }] } as unknown as Anthropic.MessageCreateParamsNonStreaming),
    );
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect(error.type).toBe("invalid_request_error");
    expect(error.message).toContain("max_tokens: Field required");
  });

  it("names the offending message when a role is wrong", async () => {
    const error = await apiErrorFrom(() =>
      bench.client.messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: "robot", content: "hi" }] } as unknown as Anthropic.MessageCreateParamsNonStreaming),
    );
    expect(error.status).toBe(400);
    expect(error.message).toContain("messages[0].role");
  });

  it("refuses an empty messages array", async () => {
    const error = await apiErrorFrom(() => bench.client.messages.create({ model: MODEL, max_tokens: 10, messages: [] }));
    expect(error.message).toContain("messages: at least one message is required");
  });

  it("answers an unknown path with a not_found_error envelope", async () => {
    const response = await fetch(`${bench.server.url}/v1/nowhere`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ type: "error", error: { type: "not_found_error" } });
  });
});

describe("control endpoints", () => {
  it("records each request's body, headers and reported usage at /_scripted/requests", async () => {
    const message = await bench.client.messages.create(ask("remember me", { system: "Be brief." }));
    const response = await fetch(`${bench.server.url}/_scripted/requests`);
    const { data } = (await response.json()) as { data: RecordedRequest[] };
    expect(data).toHaveLength(1);
    const recorded = data[0];
    expect(recorded?.body).toMatchObject({ system: "Be brief.", messages: [{ role: "user", content: "remember me" }] });
    expect(recorded?.headers["anthropic-version"]).toBeTruthy();
    // This SDK sends its apiKey as a Bearer token.
    expect(recorded?.headers["authorization"] ?? recorded?.headers["x-api-key"]).toMatch(/^(Bearer )?x$/);
    expect(recorded?.status).toBe(200);
    expect(recorded?.decided_by).toBe("demo");
    expect(recorded?.usage?.output_tokens).toBe(message.usage.output_tokens);
    expect(Date.parse(recorded?.received_at ?? "")).not.toBeNaN();
  });

  it("consumes steps posted to /_scripted/script in order, honouring repeat", async () => {
    const posted = await fetch(`${bench.server.url}/_scripted/script`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ steps: [{ type: "text", text: "first", repeat: 2 }, { type: "text", text: "second" }] }),
    });
    expect(posted.status).toBe(200);
    const texts: string[] = [];
    for (let i = 0; i < 4; i++) texts.push(textOf(await bench.client.messages.create(ask("hi"))));
    expect(texts.slice(0, 3)).toEqual(["first", "first", "second"]);
    expect(texts[3]).toContain("built-in scripted model");
  });

  it("refuses a malformed script step, naming the field", async () => {
    const response = await fetch(`${bench.server.url}/_scripted/script`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ steps: [{ type: "error" }] }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { message: string } };
    expect(body.error.message).toContain("steps[0].status");
  });

  it("forgets requests and queued steps on POST /_scripted/reset", async () => {
    bench.server.model.enqueue({ type: "text", text: "queued" });
    await bench.client.messages.create(ask("hi"));
    bench.server.model.enqueue({ type: "text", text: "never used" });
    expect((await fetch(`${bench.server.url}/_scripted/reset`, { method: "POST" })).status).toBe(200);
    expect(bench.server.model.requests).toHaveLength(0);
    expect(textOf(await bench.client.messages.create(ask("hi")))).toContain("built-in scripted model");
  });

  it("reports healthy at /healthz", async () => {
    expect((await fetch(`${bench.server.url}/healthz`)).status).toBe(200);
  });

  it("counts tokens without touching the cache", async () => {
    const counted = await bench.client.messages.countTokens({ model: MODEL, messages: [{ role: "user", content: "a".repeat(400) }] });
    expect(counted.input_tokens).toBeGreaterThanOrEqual(100);
  });
});
