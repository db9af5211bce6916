export * from './model.js';
export type { StateSnapshot } from './state-index.js';
export { ProxyState, type ProxyStateOptions } from './store.js';
export { pickEndpoint, resolveTargetPort, type PickedEndpoint } from './select.js';
export { parseLocalConfig, loadLocalConfig } from './local-config.js';
export * from './authorization.js';
export * from './xds/index.js';
