// Prompt-cache accounting by prefix: what a growing conversation with cache_control
// breakpoints reports as cache creation, cache reads and plain input, over time.
import Anthropic from "@anthropic-ai/sdk";
import { beforeEach, describe, expect, it } from "vitest";
import { createScriptedModel } from "../../scripted-model/scripted-model.ts";
import { MODEL, useBench, apiErrorFrom } from "./scripted-client.ts";

let clock = 0;
const bench = useBench({ now: () => clock });
beforeEach(() => {
  clock = 1_000_000;
});

const MINUTE = 60_000;
const ephemeral: Anthropic.CacheControlEphemeral = { type: "ephemeral" };
const system: Anthropic.TextBlockParam[] = [{ type: "text", text: "You are a careful agent. ".repeat(200), cache_control: ephemeral }];

/** A user turn whose last block carries a breakpoint, as a harness marks the conversation's end. */
function userTurn(text: string): Anthropic.MessageParam {
  return { role: "user", content: [{ type: "text", text, cache_control: ephemeral }] };
}

/** The same turn without its breakpoint, as it appears once the conversation has moved on. */
function pastTurn(text: string): Anthropic.MessageParam {
  return { role: "user", content: [{ type: "text", text }] };
}

function request(messages: Anthropic.MessageParam[], extra: Partial<Anthropic.MessageCreateParamsNonStreaming> = {}): Anthropic.MessageCreateParamsNonStreaming {
  return { model: MODEL, max_tokens: 1024, system, messages, ...extra };
}

async function usageOf(params: Anthropic.MessageCreateParamsNonStreaming): Promise<Anthropic.Usage> {
  bench.server.model.enqueue({ type: "text", text: "ok" });
  return (await bench.client.messages.create(params)).usage;
}

describe("prompt-cache accounting", () => {
  it("reports creation on a first request and a read when a second request extends the same prefix", async () => {
    const first = await usageOf(request([userTurn("first question")]));
    expect(first.cache_creation_input_tokens).toBeGreaterThan(1000);
    expect(first.cache_read_input_tokens).toBe(0);

    const second = await usageOf(
      request([pastTurn("first question"), { role: "assistant", content: "ok" }, userTurn("second question")]),
    );
    expect(second.cache_read_input_tokens).toBe(first.cache_creation_input_tokens);
    expect(second.cache_creation_input_tokens).toBeGreaterThan(0);
    expect(second.cache_creation_input_tokens).toBeLessThan(50);
  });

  it("reads the whole previous conversation once its breakpoint has moved on by a turn", async () => {
    const turn1 = [pastTurn("q1"), { role: "assistant" as const, content: "a1" }];
    const second = await usageOf(request([...turn1, userTurn("q2")]));
    const third = await usageOf(request([...turn1, pastTurn("q2"), { role: "assistant", content: "a2" }, userTurn("q3")]));
    expect(third.cache_read_input_tokens).toBe(
      (second.cache_read_input_tokens ?? 0) + (second.cache_creation_input_tokens ?? 0),
    );
  });

  it("splits every request's input exactly into read, creation and plain input", async () => {
    const params = request([pastTurn("q1"), { role: "assistant", content: "a1" }, userTurn("q2"), { role: "assistant", content: "tail" }, pastTurn("after the breakpoint")]);
    await usageOf(request([userTurn("q1")]));
    const usage = await usageOf(params);
    const { input_tokens: total } = await bench.client.messages.countTokens({ model: MODEL, system, messages: params.messages });
    expect(usage.input_tokens + (usage.cache_read_input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0)).toBe(total);
    expect(usage.input_tokens).toBeGreaterThan(0);
  });

  it("forgets a 5-minute entry after five minutes without use", async () => {
    await usageOf(request([userTurn("q")]));
    clock += 5 * MINUTE + 1;
    const later = await usageOf(request([userTurn("q")]));
    expect(later.cache_read_input_tokens).toBe(0);
    expect(later.cache_creation_input_tokens).toBeGreaterThan(0);
  });

  it("refreshes an entry's lifetime each time it is read", async () => {
    await usageOf(request([userTurn("q")]));
    clock += 4 * MINUTE;
    expect((await usageOf(request([userTurn("q")]))).cache_read_input_tokens).toBeGreaterThan(0);
    clock += 4 * MINUTE;
    expect((await usageOf(request([userTurn("q")]))).cache_read_input_tokens).toBeGreaterThan(0);
  });

  it("keeps a ttl:1h entry for half an hour and reports it as 1h creation", async () => {
    const longSystem: Anthropic.TextBlockParam[] = [{ type: "text", text: "Stable instructions. ".repeat(100), cache_control: { type: "ephemeral", ttl: "1h" } }];
    const first = await usageOf(request([pastTurn("q")], { system: longSystem }));
    expect(first.cache_creation?.ephemeral_1h_input_tokens).toBe(first.cache_creation_input_tokens);
    expect(first.cache_creation?.ephemeral_5m_input_tokens).toBe(0);
    clock += 30 * MINUTE;
    const later = await usageOf(request([pastTurn("q")], { system: longSystem }));
    expect(later.cache_read_input_tokens).toBe(first.cache_creation_input_tokens);
  });

  it("caches up to the last block with top-level cache_control", async () => {
    const params = request([pastTurn("q")], { system: "Plain system prompt.", cache_control: ephemeral });
    const first = await usageOf(params);
    const second = await usageOf(params);
    expect(first.cache_creation_input_tokens).toBeGreaterThan(0);
    expect(second.cache_read_input_tokens).toBe(first.cache_creation_input_tokens);
    expect(second.input_tokens).toBe(0);
  });

  it("keeps a separate cache per model", async () => {
    await usageOf(request([userTurn("q")]));
    const other = await usageOf(request([userTurn("q")], { model: "another-model" }));
    expect(other.cache_read_input_tokens).toBe(0);
  });

  it("reports the cache split in a streamed message_start", async () => {
    await usageOf(request([userTurn("q")]));
    bench.server.model.enqueue({ type: "text", text: "streamed" });
    const stream = bench.client.messages.stream(request([userTurn("q")]));
    let startUsage: Anthropic.Usage | undefined;
    for await (const event of stream) if (event.type === "message_start") startUsage = event.message.usage;
    expect(startUsage?.cache_read_input_tokens).toBeGreaterThan(0);
    expect((await stream.finalMessage()).usage.cache_read_input_tokens).toBe(startUsage?.cache_read_input_tokens);
  });

  it("starts cold again after reset()", async () => {
    await usageOf(request([userTurn("q")]));
    bench.server.model.reset();
    expect((await usageOf(request([userTurn("q")]))).cache_read_input_tokens).toBe(0);
  });

  it("refuses more than four cache_control breakpoints, as the API does", async () => {
    const messages = ["a", "b", "c", "d"].map(userTurn);
    const error = await apiErrorFrom(() => bench.client.messages.create(request(messages)));
    expect(error.status).toBe(400);
    expect(error.message).toContain("A maximum of 4 blocks with cache_control may be provided. Found 5.");
  });

  it("does not cache a prefix shorter than minCacheableTokens", async () => {
    const model = createScriptedModel({ minCacheableTokens: 100_000 });
    const post = async (): Promise<Anthropic.Usage> => {
      const response = await model.fetch(
        new Request("http://model/v1/messages", { method: "POST", body: JSON.stringify(request([userTurn("q")])) }),
      );
      return ((await response.json()) as Anthropic.Message).usage;
    };
    await post();
    const second = await post();
    expect(second.cache_read_input_tokens).toBe(0);
    expect(second.cache_creation_input_tokens).toBe(0);
  });
});
