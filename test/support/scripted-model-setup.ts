// Vitest global setup for the workerd project: one scripted model for the run, its URL provided to the Worker.
// Its control routes are on: tests read what the Worker sent it at /_scripted/requests.
import type { TestProject } from 'vitest/node';
import { startScriptedModel } from '../../scripted-model/server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    scriptedModelUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const server = await startScriptedModel({ port: 0, host: '127.0.0.1', controlRoutes: true });
  project.provide('scriptedModelUrl', server.url);
  return async () => {
    await server.close();
  };
}
