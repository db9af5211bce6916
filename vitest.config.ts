import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

// Tests import workspace packages from source, so a test run never sees a stale build.
const workspace: Record<string, string> = {
  '@ambient/core': here('packages/core/src/index.ts'),
  '@ambient/protos': here('packages/protos/src/index.ts'),
  '@ambient/identity': here('packages/identity/src/index.ts'),
  '@ambient/xds': here('packages/xds/src/index.ts'),
  '@ambient/telemetry': here('packages/telemetry/src/index.ts'),
  '@ambient/state': here('packages/state/src/index.ts'),
  '@ambient/policy': here('packages/policy/src/index.ts'),
  '@ambient/hbone': here('packages/hbone/src/index.ts'),
  '@ambient/redirect': here('packages/redirect/src/index.ts'),
  '@ambient/testing': here('packages/testing/src/index.ts'),
  '@ambient/control-plane': here('packages/control-plane/src/index.ts'),
  '@ambient/ztunnel': here('daemonset/src/index.ts'),
};

export default defineConfig({
  resolve: {
    alias: Object.entries(workspace).map(([find, replacement]) => ({
      find: new RegExp(`^${find}$`),
      replacement,
    })),
  },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'daemonset/src/**/*.test.ts',
      'bench/src/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Each file gets its own process: listeners, loggers and metric registries do not leak across files.
    pool: 'forks',
  },
});
