// The tool definitions the Worker offers the model are the installed SDK's, byte for byte: after an SDK upgrade
// this fails until `npm run gen:toolset` has regenerated sandbox/toolset/definitions.json.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_TOOL_DEFINITIONS } from '../../sandbox/toolset/definitions.ts';
import { definitionsFromSdk } from '../../sandbox/toolset/from-sdk.ts';

describe('agent toolset definitions', () => {
  it('match what the installed SDK produces (run `npm run gen:toolset` if not)', () => {
    const file = path.join(import.meta.dirname, '..', '..', 'sandbox', 'toolset', 'definitions.json');
    expect(readFileSync(file, 'utf8')).toBe(`${JSON.stringify(definitionsFromSdk(), null, 2)}\n`);
  });

  it('are the six tools of agent_toolset_20260401, each with an object input schema', () => {
    expect(AGENT_TOOL_DEFINITIONS.map((d) => d.name)).toEqual(['bash', 'read', 'write', 'edit', 'glob', 'grep']);
    for (const d of AGENT_TOOL_DEFINITIONS) {
      expect(d.description.length, d.name).toBeGreaterThan(0);
      expect(d.input_schema.type, d.name).toBe('object');
    }
    expect(AGENT_TOOL_DEFINITIONS.find((d) => d.name === 'bash')?.input_schema.properties).toHaveProperty('command');
    expect(AGENT_TOOL_DEFINITIONS.find((d) => d.name === 'read')?.input_schema.required).toEqual(['file_path']);
  });
});
