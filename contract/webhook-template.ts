// Extension: how a deployment's inbound webhook turns the request body into the run's `user.message`
// (docs/deployments.md). Without a template the body is the message as sent. A template is text with placeholders:
// `{{payload}}` is the whole body as sent; `{{payload.a.b}}` (`{{payload.items.0.name}}` for an array element) is a
// field of a JSON body — a string as it is, any other value as JSON, a field the body lacks (or a body that is not
// JSON) as nothing. Nothing else may stand between `{{` and `}}`.

/** The longest template taken (ours; the SDK has no such field). */
export const MAX_TEMPLATE_CHARS = 16_384;

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;
const FIELD_PATH = /^payload(\.[A-Za-z0-9_$-]+)*$/;

/** What is wrong with `template`, or null: an unknown placeholder is named, so a typo is not rendered as nothing. */
export function templateProblem(template: string): string | null {
  for (const m of template.matchAll(PLACEHOLDER)) {
    const path = m[1]!.trim();
    if (!FIELD_PATH.test(path)) return `unknown placeholder '{{${m[1]}}}': use {{payload}} or {{payload.<field>.<field>}}`;
  }
  return null;
}

/** The message `template` makes of `body` (a template that passed `templateProblem`). */
export function renderTemplate(template: string, body: string): string {
  let parsed: { ok: true; value: unknown } | { ok: false } | undefined;
  const json = () => {
    if (!parsed) {
      try {
        parsed = { ok: true, value: JSON.parse(body) };
      } catch {
        parsed = { ok: false };
      }
    }
    return parsed;
  };
  return template.replace(PLACEHOLDER, (_all, inner: string) => {
    const [, ...fields] = inner.trim().split('.');
    if (fields.length === 0) return body;
    const root = json();
    if (!root.ok) return '';
    let value: unknown = root.value;
    for (const field of fields) {
      if (value === null || typeof value !== 'object' || !Object.hasOwn(value, field)) return '';
      value = (value as Record<string, unknown>)[field];
    }
    return typeof value === 'string' ? value : JSON.stringify(value) ?? '';
  });
}
