export * from './config.js';
export * from './app.js';
export { buildRequest, type OutboundDecision, type BuildRequestOptions } from './proxy/build-request.js';
