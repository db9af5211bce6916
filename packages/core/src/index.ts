export * from './errors.js';
export * from './config.js';
export * from './logger.js';
export * from './backoff.js';
export * from './address.js';
export * from './listen.js';
export * from './process.js';
