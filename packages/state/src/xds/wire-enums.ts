import { security, workload as wire } from '@ambient/protos';
import type { AuthorizationAction, AuthorizationScope } from '../authorization.js';
import type { TunnelProtocol, WorkloadStatus, WorkloadType } from '../model.js';

/*
 * Wire enum numbers ↔ model names, one table per enum so that decoding and encoding cannot drift.
 * A number missing from a table is unknown to us and rejects the resource.
 */

/** LEGACY_ISTIO_MTLS is deliberately absent: ztunnel refuses it, and so do we (with its own message). */
export const TUNNEL_PROTOCOLS: ReadonlyMap<wire.TunnelProtocol, TunnelProtocol> = new Map<
  wire.TunnelProtocol,
  TunnelProtocol
>([
  [wire.TunnelProtocol.NONE, 'NONE'],
  [wire.TunnelProtocol.HBONE, 'HBONE'],
]);

export const WORKLOAD_TYPES: ReadonlyMap<wire.WorkloadType, WorkloadType> = new Map<
  wire.WorkloadType,
  WorkloadType
>([
  [wire.WorkloadType.DEPLOYMENT, 'deployment'],
  [wire.WorkloadType.CRONJOB, 'cronjob'],
  [wire.WorkloadType.POD, 'pod'],
  [wire.WorkloadType.JOB, 'job'],
]);

export const WORKLOAD_STATUSES: ReadonlyMap<wire.WorkloadStatus, WorkloadStatus> = new Map<
  wire.WorkloadStatus,
  WorkloadStatus
>([
  [wire.WorkloadStatus.HEALTHY, 'Healthy'],
  [wire.WorkloadStatus.UNHEALTHY, 'Unhealthy'],
]);

export const SCOPES: ReadonlyMap<security.Scope, AuthorizationScope> = new Map<
  security.Scope,
  AuthorizationScope
>([
  [security.Scope.GLOBAL, 'GLOBAL'],
  [security.Scope.NAMESPACE, 'NAMESPACE'],
  [security.Scope.WORKLOAD_SELECTOR, 'WORKLOAD_SELECTOR'],
]);

export const ACTIONS: ReadonlyMap<security.Action, AuthorizationAction> = new Map<
  security.Action,
  AuthorizationAction
>([
  [security.Action.ALLOW, 'ALLOW'],
  [security.Action.DENY, 'DENY'],
]);

/** The wire number of a model name; every model name has one, so a miss is a bug. */
export function wireNumber<E extends number, T>(table: ReadonlyMap<E, T>, value: T): E {
  for (const [number, name] of table) if (name === value) return number;
  throw new Error(`no wire number for ${String(value)}`);
}
