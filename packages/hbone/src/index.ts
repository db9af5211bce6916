export * from './settings.js';
export * from './headers.js';
export * from './pump.js';
export * from './pool.js';
export * from './server.js';
