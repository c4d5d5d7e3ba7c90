// The scripted model as an outcome grader: `[[grade:…]]` in the rubric scripts the verdict a grader answers.
import type Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { createScriptedModel } from "../../scripted-model/scripted-model.ts";
import { MODEL } from "./scripted-client.ts";

async function answer(text: string): Promise<string> {
  const model = createScriptedModel();
  const response = await model.fetch(
    new Request("http://model/v1/messages", {
      method: "POST",
      body: JSON.stringify({ model: MODEL, max_tokens: 4096, messages: [{ role: "user", content: text }] }),
    }),
  );
  const message = (await response.json()) as Anthropic.Message;
  return message.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("");
}

describe("grade directive", () => {
  it("answers the scripted verdict as the grader's JSON object", async () => {
    for (const verdict of ["satisfied", "needs_revision", "failed"]) {
      const parsed = JSON.parse(await answer(`<rubric>criteria [[grade:${verdict}]]</rubric>`));
      expect(parsed.verdict).toBe(verdict);
      expect(typeof parsed.explanation).toBe("string");
    }
  });

  it("wins over a reply directive quoted in the work", async () => {
    const text = await answer("<task>do it [[reply:agent words]]</task> <rubric>[[grade:satisfied]]</rubric>");
    expect(JSON.parse(text).verdict).toBe("satisfied");
  });

  it("asks for a revision until the word appears outside the directive, then is satisfied", async () => {
    const before = JSON.parse(await answer("<rubric>[[grade:until=ZEBRA]]</rubric><work>a horse</work>"));
    expect(before).toMatchObject({ verdict: "needs_revision" });
    expect(before.explanation).toContain("ZEBRA");
    const after = JSON.parse(await answer("<rubric>[[grade:until=ZEBRA]]</rubric><work>a ZEBRA</work>"));
    expect(after.verdict).toBe("satisfied");
  });

  it("answers prose that is no verdict when asked to be unparseable", async () => {
    const text = await answer("<rubric>[[grade:unparseable]]</rubric>");
    expect(() => JSON.parse(text)).toThrow();
  });

  it("leaves an unknown verdict as ordinary text", async () => {
    const text = await answer("[[grade:maybe]]");
    expect(text).toContain("[[grade:maybe]]");
  });
});
