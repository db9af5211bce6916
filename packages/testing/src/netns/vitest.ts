import { afterAll, beforeAll } from 'vitest';
import { NetnsCluster } from './cluster.js';
import type { NetnsClusterOptions } from './plan.js';

/**
 * One cluster for the enclosing describe block (or file): built in `beforeAll`, destroyed in
 * `afterAll`, which vitest runs even when a test or the build failed. Call the getter in tests.
 */
export function useNetnsCluster(options: NetnsClusterOptions): () => NetnsCluster {
  let cluster: NetnsCluster | undefined;
  beforeAll(async () => {
    cluster = await NetnsCluster.create(options);
  });
  afterAll(async () => {
    await cluster?.destroy();
  });
  return () => {
    if (cluster === undefined)
      throw new Error('the netns cluster exists only inside tests (beforeAll builds it)');
    return cluster;
  };
}
