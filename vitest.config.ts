// Two test projects: `workers` runs inside workerd (Durable Objects, routes, the brain) via
// @cloudflare/vitest-plugin, on the test Worker entry (the production Worker, whose brain steps a crash test can
// kill at named points: test/support/fault-worker.ts); `node` runs the scripted model's tests and the end-to-end
// tests that start the real runtime and drive it with the official SDK.
import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: './wrangler.toml' },
            main: './test/support/fault-worker.ts',
            miniflare: {
              bindings: {
                EDGEHARNESS_API_KEY: 'test-key-default',
                EDGEHARNESS_ADMIN_KEY: 'test-admin-key',
                EDGEHARNESS_STREAM_TOKEN_SECRET: 'test-stream-secret',
                // One web app's origin may call the API from a browser (test/workers/cors.test.ts).
                EDGEHARNESS_ALLOWED_ORIGINS: 'https://app.example, https://other-app.example',
                ANTHROPIC_API_KEY: 'scripted',
                ANTHROPIC_BASE_URL: inject<string>('scriptedModelUrl'),
                EDGEHARNESS_LEASE_MS: '400',
                EDGEHARNESS_RETRY_BASE_MS: '20',
                EDGEHARNESS_MODEL_MAX_ATTEMPTS: '4',
                // Uploads past 8 MB are refused, so a test can pass the limit without sending 500 MB.
                EDGEHARNESS_MAX_FILE_BYTES: '8000000',
                // A fixed test key (never a real one): the vault seals credential secrets under it.
                VAULT_MASTER_KEY: 'jIkQ1ePc4dTzOmqMRFeDuiA9RvnrbK3R07zkQE/xVSo=',
                // Webhook endpoints on the test receiver (http, loopback); quick retries, three attempts.
                EDGEHARNESS_WEBHOOK_ALLOW_PRIVATE: '1',
                EDGEHARNESS_WEBHOOK_RETRY_BASE_MS: '50',
                EDGEHARNESS_WEBHOOK_MAX_ATTEMPTS: '3',
                // Telemetry destinations on the test receiver; quick retries, disabled after half a second of failing.
                EDGEHARNESS_TELEMETRY_ALLOW_PRIVATE: '1',
                EDGEHARNESS_TELEMETRY_RETRY_BASE_MS: '50',
                EDGEHARNESS_TELEMETRY_DISABLE_AFTER_MS: '500',
              },
            },
          })),
        ],
        test: {
          name: 'workers',
          include: ['test/workers/**/*.test.ts'],
          globalSetup: ['test/support/scripted-model-setup.ts', 'test/support/mcp-server-setup.ts', 'test/support/webhook-receiver-setup.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'node',
          include: ['test/scripted-model/**/*.test.ts', 'test/sandbox/**/*.test.ts', 'test/cloudflare-sandbox/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/install/**/*.test.ts', 'test/design/**/*.test.ts', 'test/eval/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // The end-to-end suites each start a runtime; one at a time keeps a 2-core machine responsive.
          fileParallelism: false,
        },
      },
    ],
  },
});
