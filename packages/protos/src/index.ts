// Generated message types and gRPC service definitions (ts-proto via buf; see buf.gen.yaml).
// One namespace per proto package (two for discovery: messages and the ADS service).
export * as ca from './gen/istio/v1/auth/ca.js';
export * as struct from './gen/google/protobuf/struct.js';
export * as any from './gen/google/protobuf/any.js';
export * as rpc from './gen/google/rpc/status.js';
export * as core from './gen/envoy/config/core/v3/base.js';
export * as discovery from './gen/envoy/service/discovery/v3/discovery.js';
export * as ads from './gen/envoy/service/discovery/v3/ads.js';
export * as workload from './gen/istio/workload/workload.js';
export * as security from './gen/istio/security/authorization.js';
export * as zds from './gen/istio/workload/zds/zds.js';
