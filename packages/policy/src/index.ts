export type { ConnectionAttributes } from './connection.js';
export { compilePolicy, compilePolicies, type CompiledPolicy, type CompiledPolicySet } from './compile.js';
export { evaluate, evaluateCompiled } from './evaluate.js';
export {
  describeDecision,
  describeDryRun,
  deniedMessage,
  NOT_ALLOWED_MESSAGE,
  type AllowedDecision,
  type AuthorizationDecision,
  type DeniedDecision,
  type DryRunResult,
} from './decision.js';
export { strictPeerAuthenticationPolicy, STRICT_PEER_AUTHENTICATION_POLICY_NAME } from './strict.js';
