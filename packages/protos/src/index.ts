// Generated message types and gRPC service definitions (ts-proto via buf; see buf.gen.yaml).
export * as ca from './gen/istio/v1/auth/ca.js';
export * as struct from './gen/google/protobuf/struct.js';
