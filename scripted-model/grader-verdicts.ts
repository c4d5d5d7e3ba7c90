// The `[[grade:…]]` directive: how a test scripts the answer of an outcome grader (edgeharness's
// worker/brain/outcomes.ts), which asks for a JSON object `{"verdict", "explanation"}`. The directive
// sits in the rubric, so it reaches the grader's request and never the agent's, which sees only the
// outcome's description.

export type GradeDirective =
  | { kind: "verdict"; verdict: "satisfied" | "needs_revision" | "failed" }
  | { kind: "unparseable" }
  | { kind: "until"; word: string };

/** `satisfied`, `needs_revision`, `failed`, `unparseable`, or `until=WORD`; anything else is not a grade directive. */
export function parseGrade(spec: string): GradeDirective | undefined {
  if (spec === "satisfied" || spec === "needs_revision" || spec === "failed") return { kind: "verdict", verdict: spec };
  if (spec === "unparseable") return { kind: "unparseable" };
  const until = /^until=(\S+)$/.exec(spec);
  return until ? { kind: "until", word: until[1] ?? "" } : undefined;
}

/**
 * The grader's answer. `until=WORD` is satisfied once WORD appears in the request's text outside the directive
 * (in the agent's work), and asks for a revision naming WORD before that — so an agent that echoes its feedback,
 * as the demo reply does, passes the second evaluation.
 */
export function gradeAnswer(grade: GradeDirective, residualText: string): string {
  if (grade.kind === "unparseable") return "Looks fine to me, mostly? Hard to say.";
  if (grade.kind === "verdict") return JSON.stringify({ verdict: grade.verdict, explanation: `Scripted verdict: ${grade.verdict}.` });
  return residualText.includes(grade.word)
    ? JSON.stringify({ verdict: "satisfied", explanation: `The work contains "${grade.word}".` })
    : JSON.stringify({ verdict: "needs_revision", explanation: `The work does not contain "${grade.word}" yet.` });
}
