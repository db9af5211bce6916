import type {
  ChannelCredentials,
  ChannelOptions,
  ClientDuplexStream,
  ServerDuplexStream,
  ServiceDefinition,
} from '@grpc/grpc-js';
import { ads, type discovery } from '@ambient/protos';

/**
 * `envoy.service.discovery.v3.AggregatedDiscoveryService` with only its incremental method:
 * nothing we serve speaks state-of-the-world, so grpc-js answers that path UNIMPLEMENTED.
 */
export const DELTA_ADS_SERVICE = {
  deltaAggregatedResources: ads.AggregatedDiscoveryServiceService.deltaAggregatedResources,
} satisfies ServiceDefinition;

export type ServerDeltaStream = ServerDuplexStream<
  discovery.DeltaDiscoveryRequest,
  discovery.DeltaDiscoveryResponse
>;

export type ClientDeltaStream = ClientDuplexStream<
  discovery.DeltaDiscoveryRequest,
  discovery.DeltaDiscoveryResponse
>;

export type DeltaAdsClient = ads.AggregatedDiscoveryServiceClient;

export function createDeltaAdsClient(
  address: string,
  credentials: ChannelCredentials,
  options: ChannelOptions,
): DeltaAdsClient {
  return new ads.AggregatedDiscoveryServiceClient(address, credentials, options);
}
