// Capture for ztunnel and the node agent: a Node-API addon for what Node cannot do itself, the
// in-pod iptables rules, and ZDS (how the node agent hands pods to ztunnel).
export type {
  ConnectInNetnsOptions,
  FileIdentity,
  IpFamily,
  PollCallback,
  Poller,
  SeqpacketPacket,
  SocketAddressInfo,
  SocketInNetnsOptions,
} from './addon.js';
export * from './system-error.js';
export * from './sockets.js';
export { createPoller, waitWritable } from './poller.js';
export * from './netns-sockets.js';
export * from './seqpacket.js';
export * from './inpod-rules.js';
export * from './inpod-install.js';
export * from './zds/codec.js';
export * from './zds/client.js';
export * from './zds/server.js';
