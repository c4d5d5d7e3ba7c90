// `npm run gen:toolset`: writes sandbox/toolset/definitions.json from the installed SDK's agent toolset. Run it
// after upgrading @anthropic-ai/sdk; test/sandbox/toolset-definitions.test.ts fails until it has been.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { definitionsFromSdk } from '../sandbox/toolset/from-sdk.ts';

const file = path.resolve(import.meta.dirname, '..', 'sandbox', 'toolset', 'definitions.json');
const definitions = definitionsFromSdk();
writeFileSync(file, `${JSON.stringify(definitions, null, 2)}\n`);
process.stdout.write(`wrote ${definitions.length} tool definitions (${definitions.map((d) => d.name).join(', ')}) to ${path.relative(process.cwd(), file)}\n`);
