// Builds tool input that breaks the tool's own input_schema in exactly one, named way, so
// the harness's validation of model-produced tool calls can be tested.
import type { RequestTool } from "./messages-request.ts";

export interface ViolatingInput {
  input: Record<string, unknown>;
  /** What is wrong with `input`, recorded with the request for tests to read. */
  violation: string;
}

type JsonSchema = Record<string, unknown>;

/**
 * In order of preference: drop the first required property (filling the others validly),
 * give a typed property a value of the wrong type, add a property the schema forbids. A
 * schema that constrains nothing cannot be violated; the input then only carries an
 * unexpected property and the violation says so.
 */
export function violatingInput(toolName: string, tools: RequestTool[] | undefined): ViolatingInput {
  const tool = tools?.find((t) => t.name === toolName);
  if (!tool) return { input: {}, violation: `tool ${toolName} is not among the request's tools` };
  const schema = asSchema(tool["input_schema"]) ?? {};
  const properties = asSchema(schema["properties"]) ?? {};
  const required = Array.isArray(schema["required"])
    ? schema["required"].filter((name): name is string => typeof name === "string")
    : [];

  const [missing, ...others] = required;
  if (missing !== undefined) {
    const input: Record<string, unknown> = {};
    for (const name of others) input[name] = sampleValue(asSchema(properties[name]), 0);
    return { input, violation: `missing required property ${missing}` };
  }

  for (const [name, raw] of Object.entries(properties)) {
    const type = primaryType(asSchema(raw));
    if (type) {
      return { input: { [name]: wrongValueFor(type) }, violation: `property ${name}: expected ${type}` };
    }
  }

  if (schema["additionalProperties"] === false) {
    return { input: { unexpected_property: true }, violation: "additional property unexpected_property" };
  }
  return {
    input: { unexpected_property: true },
    violation: `schema of ${toolName} accepts any object; sent an unexpected property`,
  };
}

/** A deterministic value that satisfies `schema`, for the properties that stay valid. */
function sampleValue(schema: JsonSchema | undefined, depth: number): unknown {
  if (!schema) return "example";
  if ("const" in schema) return schema["const"];
  if (Array.isArray(schema["enum"]) && schema["enum"].length > 0) return schema["enum"][0];
  switch (primaryType(schema)) {
    case "string":
      return "example";
    case "number":
    case "integer":
      return 1;
    case "boolean":
      return true;
    case "array":
      return [];
    case "null":
      return null;
    case "object": {
      const value: Record<string, unknown> = {};
      if (depth > 4) return value;
      const properties = asSchema(schema["properties"]) ?? {};
      const required = Array.isArray(schema["required"]) ? schema["required"] : [];
      for (const name of required) {
        if (typeof name === "string") value[name] = sampleValue(asSchema(properties[name]), depth + 1);
      }
      return value;
    }
    default:
      return "example";
  }
}

function wrongValueFor(type: string): unknown {
  switch (type) {
    case "string":
      return 42;
    case "number":
    case "integer":
      return "not a number";
    case "boolean":
      return "not a boolean";
    case "array":
      return "not an array";
    case "object":
      return "not an object";
    default:
      return { unexpected: true };
  }
}

/** The schema's type, preferring a non-null one when it lists several (["string", "null"]). */
function primaryType(schema: JsonSchema | undefined): string | undefined {
  const type = schema?.["type"];
  if (typeof type === "string") return type;
  if (Array.isArray(type)) {
    const named = type.filter((t): t is string => typeof t === "string");
    return named.find((t) => t !== "null") ?? named[0];
  }
  return undefined;
}

function asSchema(value: unknown): JsonSchema | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as JsonSchema) : undefined;
}
