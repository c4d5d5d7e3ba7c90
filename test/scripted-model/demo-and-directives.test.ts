// What `npm start` users see from the scripted model without a key, and the directive
// grammar that tests use to script it from a message.
import type Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { evaluateArithmetic } from "../../scripted-model/arithmetic.ts";
import { parseDirectives } from "../../scripted-model/directives.ts";
import { createScriptedModel } from "../../scripted-model/scripted-model.ts";
import { MODEL } from "./scripted-client.ts";

async function reply(messages: Anthropic.MessageParam[]): Promise<string> {
  const model = createScriptedModel();
  const response = await model.fetch(
    new Request("http://model/v1/messages", {
      method: "POST",
      body: JSON.stringify({ model: MODEL, max_tokens: 4096, messages }),
    }),
  );
  const message = (await response.json()) as Anthropic.Message;
  return message.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("");
}

describe("demo reply", () => {
  it("says it is the built-in scripted model and how to connect a real one", async () => {
    const text = await reply([{ role: "user", content: "hello there" }]);
    expect(text).toContain("built-in scripted model");
    expect(text).toContain("ANTHROPIC_API_KEY");
    expect(text).toContain("ANTHROPIC_BASE_URL");
    expect(text).toContain("npm start");
  });

  it("quotes the message with its word and character counts", async () => {
    const text = await reply([{ role: "user", content: "three little words" }]);
    expect(text).toContain('You said: "three little words" (3 words, 18 characters).');
  });

  it("evaluates a message that is arithmetic", async () => {
    expect(await reply([{ role: "user", content: "What is 6 * 7?" }])).toContain("6 * 7 = 42.");
  });

  it("names the turn and the previous message, so multi-turn context is visible", async () => {
    const text = await reply([
      { role: "user", content: "my name is Ada" },
      { role: "assistant", content: "noted" },
      { role: "user", content: "what is my name?" },
    ]);
    expect(text).toContain('This is turn 2 of our conversation; before this you said: "my name is Ada".');
  });

  it("acknowledges a tool result by its first line, naming the tool", async () => {
    const text = await reply([
      { role: "user", content: "go" },
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "grep", input: { pattern: "x" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "a.ts:1: x\nb.ts:2: x" }] }] },
    ]);
    expect(text).toContain('The grep tool returned 2 lines; the first: "a.ts:1: x".');
  });

  it("reports a failed tool as an error", async () => {
    const text = await reply([
      { role: "user", content: "go" },
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "bash", input: { command: "false" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "exit status 1", is_error: true }] },
    ]);
    expect(text).toContain('The bash tool reported an error: "exit status 1".');
  });

  it("leaves directives out of the quoted message", async () => {
    expect(await reply([{ role: "user", content: "hi [[delay 1]]" }])).toContain('You said: "hi" (1 word, 2 characters).');
  });
});

describe("arithmetic", () => {
  it("follows precedence, parentheses and right-associative powers", () => {
    expect(evaluateArithmetic("2 + 3 * 4")?.result).toBe("14");
    expect(evaluateArithmetic("(2 + 3) * 4 =")?.result).toBe("20");
    expect(evaluateArithmetic("2^3^2")?.result).toBe("512");
    expect(evaluateArithmetic("-2^2")?.result).toBe("-4");
    expect(evaluateArithmetic("0.1 + 0.2")?.result).toBe("0.3");
    expect(evaluateArithmetic("1/0")?.result).toBe("not a finite number");
  });

  it("declines prose, lone numbers, dates and unbalanced input", () => {
    for (const text of ["hello", "42", "2024-01-01", "(1 + 2", "2 +"]) expect(evaluateArithmetic(text)).toBeUndefined();
  });
});

describe("directive grammar", () => {
  it("reads fault options: status, retry-after and repeat count", () => {
    const { faults } = parseDirectives("x [[fault:429 retry-after=3 x2]] y");
    expect(faults).toHaveLength(1);
    expect(faults[0]?.times).toBe(2);
    expect(faults[0]?.step).toEqual({ type: "error", status: 429, retry_after_seconds: 3 });
  });

  it("reads cut, stream-error, slow-first-token and bad-tool-input", () => {
    const { faults } = parseDirectives("[[fault:cut after=7]][[fault:stream-error]][[slow-first-token 250 x3]][[bad-tool-input:bash]]");
    expect(faults.map((f) => f.step)).toEqual([
      { type: "cut", after_chars: 7 },
      { type: "stream_error", error_type: "overloaded_error", after_chars: 20 },
      { type: "slow_first_token", delay_ms: 250 },
      { type: "bad_tool_input", name: "bash" },
    ]);
    expect(faults[2]?.times).toBe(3);
  });

  it("reads tool input JSON even when it contains ]]", () => {
    const { content, residualText } = parseDirectives('before [[tool:write {"content":"a[[b]]c","n":[[1]]}]] after');
    expect(content).toEqual({ type: "tool_use", name: "write", input: { content: "a[[b]]c", n: [[1]] } });
    expect(residualText).toBe("before after");
  });

  it("reads a delegation, whose message may hold directives for the sub-agent", () => {
    expect(parseDirectives("please [[delegate:helper:count the vowels]] now")).toMatchObject({
      content: { type: "tool_use", name: "delegate", input: { agent_name: "helper", message: "count the vowels" } },
      residualText: "please now",
    });
    const nested = parseDirectives('[[delegate:helper:run it [[tool:bash {"command":"ls"}]] [[delay 5]]]]');
    expect(nested.content).toEqual({ type: "tool_use", name: "delegate", input: { agent_name: "helper", message: 'run it [[tool:bash {"command":"ls"}]] [[delay 5]]' } });
    expect(nested.delayMs).toBe(0);
    expect(parseDirectives("[[delegate:helper]] [[delegate::x]]").content).toBeUndefined();
  });

  it("keeps reply text verbatim and sums delays", () => {
    const parsed = parseDirectives("[[reply: spaced  out ]] [[delay 10]] [[delay 5]]");
    expect(parsed.content).toEqual({ type: "text", text: " spaced  out " });
    expect(parsed.delayMs).toBe(15);
  });

  it("leaves malformed or unknown directives as ordinary text", () => {
    const parsed = parseDirectives("[[fault:999]] [[fault:429 retry=1]] [[Wiki Page]] [[tool:bash {not json}]]");
    expect(parsed.faults).toEqual([]);
    expect(parsed.content).toBeUndefined();
    expect(parsed.residualText).toBe("[[fault:999]] [[fault:429 retry=1]] [[Wiki Page]] [[tool:bash {not json}]]");
  });
});
