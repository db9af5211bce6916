export * from './labels.js';
export * from './response-flags.js';
export * from './metrics.js';
export * from './access-log.js';
export * from './connection-result.js';
