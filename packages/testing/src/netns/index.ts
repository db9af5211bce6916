// The vitest helper (./vitest.js) is left out on purpose: code outside tests must not load vitest.
export {
  NetnsCluster,
  DEFAULT_EXEC_TIMEOUT_MS,
  type NetnsExecOptions,
  type NetnsExecResult,
  type NetnsSpawnOptions,
} from './cluster.js';
export {
  DEFAULT_NETNS_PREFIX,
  NETNS_DIR,
  type NetnsClusterOptions,
  type NetnsNode,
  type NetnsPod,
} from './plan.js';
