export { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from './type-urls.js';
export type { ResourceHandler, ResourceUpdate } from './handler.js';
export { ztunnelNode, type ZtunnelNodeOptions } from './node.js';
export { resourceVersion } from './versions.js';
export {
  DeltaXdsServer,
  type DeltaXdsServerOptions,
  type XdsAuthentication,
  type XdsAuthenticator,
  type XdsListenerOptions,
} from './server.js';
export type { XdsConnectionStatus, XdsStreamTypeStatus, XdsNack } from './server-stream.js';
export {
  DeltaXdsClient,
  type DeltaXdsClientOptions,
  type XdsClientStatus,
  type XdsClientTypeStatus,
  type XdsClientNack,
  type XdsRequestMetadata,
  type XdsHeaders,
} from './client.js';
export type { TerminationReason } from './metrics.js';
