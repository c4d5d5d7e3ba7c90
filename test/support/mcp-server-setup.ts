// Vitest global setup for the workerd project: one bearer-protected MCP server for the run (test/support/mcp-server.ts);
// the Worker's tests get its URL and the token a vault credential must hold to reach it.
import type { TestProject } from 'vitest/node';
import { startMcpServer } from './mcp-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    mcpServerUrl: string;
    mcpServerToken: string;
  }
}

export default async function setup(project: TestProject) {
  const token = 'mcp-test-bearer-9f2c4e71';
  const server = await startMcpServer(token);
  project.provide('mcpServerUrl', server.url);
  project.provide('mcpServerToken', token);
  return async () => {
    await server.close();
  };
}
