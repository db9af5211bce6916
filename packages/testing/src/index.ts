export * from './pki.js';
export * from './echo-server.js';
export * from './socks5-client.js';
export * from './csr-signer.js';
export * from './prometheus-text.js';
export * from './netns/index.js';
export * from './kube-api-server.js';
