// Evaluates a message that is a plain arithmetic expression ("what is 2 + 3 * 4?"), so the
// demo reply can show it actually read the message. A small parser, never `eval`.

const MAX_EXPRESSION_LENGTH = 200;
const MAX_NESTING = 32;

export interface Evaluation {
  expression: string;
  /** Formatted result, or a short reason when there is no finite value (1/0). */
  result: string;
}

/**
 * Returns the evaluation when the whole message is an expression with at least one
 * operator; undefined for anything else (a lone number is not a question worth answering).
 */
export function evaluateArithmetic(message: string): Evaluation | undefined {
  const expression = message
    .trim()
    .replace(/^(what is|what's|calculate|compute|evaluate)\s+/i, "")
    .replace(/\s*[=?]+\s*$/, "")
    .trim();
  if (!expression || expression.length > MAX_EXPRESSION_LENGTH) return undefined;
  if (!/^[\d\s.+\-*/%^()×÷]+$/.test(expression) || !/\d/.test(expression)) return undefined;
  if (!/\d\s*\)?\s*[+\-*/%^×÷]/.test(expression)) return undefined;
  // A date is not a subtraction someone wants answered.
  if (/^\d{4}-\d{1,2}-\d{1,2}$/.test(expression)) return undefined;
  const parser = new Parser(expression.replace(/×/g, "*").replace(/÷/g, "/"));
  const value = parser.parse();
  if (value === undefined) return undefined;
  return { expression, result: Number.isFinite(value) ? formatNumber(value) : "not a finite number" };
}

function formatNumber(value: number): string {
  if (Object.is(value, -0)) return "0";
  if (Number.isInteger(value) && Math.abs(value) < 1e21) return String(value);
  return String(Number.parseFloat(value.toPrecision(12)));
}

/** Recursive descent: expr = term (("+"|"-") term)*, term = unary (("*"|"/"|"%") unary)*. */
class Parser {
  readonly #text: string;
  #pos = 0;
  #depth = 0;

  constructor(text: string) {
    this.#text = text;
  }

  parse(): number | undefined {
    const value = this.#expression();
    this.#skipSpaces();
    return value !== undefined && this.#pos === this.#text.length ? value : undefined;
  }

  #expression(): number | undefined {
    let left = this.#term();
    while (left !== undefined) {
      const op = this.#take("+", "-");
      if (!op) break;
      const right = this.#term();
      if (right === undefined) return undefined;
      left = op === "+" ? left + right : left - right;
    }
    return left;
  }

  #term(): number | undefined {
    let left = this.#unary();
    while (left !== undefined) {
      const op = this.#take("*", "/", "%");
      if (!op) break;
      const right = this.#unary();
      if (right === undefined) return undefined;
      left = op === "*" ? left * right : op === "/" ? left / right : left % right;
    }
    return left;
  }

  #unary(): number | undefined {
    const op = this.#take("-", "+");
    if (!op) return this.#power();
    if (++this.#depth > MAX_NESTING) return undefined;
    const value = this.#unary();
    this.#depth--;
    return value === undefined ? undefined : op === "-" ? -value : value;
  }

  // Binds tighter than a unary minus on its left (-2^2 = -4) and is right-associative.
  #power(): number | undefined {
    const base = this.#primary();
    if (base === undefined || !this.#take("^")) return base;
    if (++this.#depth > MAX_NESTING) return undefined;
    const exponent = this.#unary();
    this.#depth--;
    return exponent === undefined ? undefined : base ** exponent;
  }

  #primary(): number | undefined {
    if (this.#take("(")) {
      if (++this.#depth > MAX_NESTING) return undefined;
      const value = this.#expression();
      this.#depth--;
      return value !== undefined && this.#take(")") ? value : undefined;
    }
    this.#skipSpaces();
    const match = /^(\d+\.?\d*|\.\d+)/.exec(this.#text.slice(this.#pos));
    if (!match) return undefined;
    this.#pos += match[0].length;
    return Number(match[0]);
  }

  #take(...ops: string[]): string | undefined {
    this.#skipSpaces();
    const ch = this.#text[this.#pos];
    if (ch === undefined || !ops.includes(ch)) return undefined;
    this.#pos++;
    return ch;
  }

  #skipSpaces(): void {
    while (this.#text[this.#pos] === " " || this.#text[this.#pos] === "\t" || this.#text[this.#pos] === "\n") {
      this.#pos++;
    }
  }
}
