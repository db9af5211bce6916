export * from './config.js';
export * from './app.js';
export { buildRequest, type OutboundDecision, type BuildRequestOptions } from './proxy/build-request.js';
export { acceptSocks5, parseRequest as parseSocks5Request, Socks5Reply } from './proxy/socks5.js';
