// Vitest global setup for the workerd project: one webhook receiver (test/support/webhook-receiver.ts) for the run;
// the Worker's tests get its URL and point webhook endpoints at it.
import type { TestProject } from 'vitest/node';
import { startWebhookReceiver } from './webhook-receiver.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    webhookReceiverUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const receiver = await startWebhookReceiver();
  project.provide('webhookReceiverUrl', receiver.url);
  return async () => {
    await receiver.close();
  };
}
