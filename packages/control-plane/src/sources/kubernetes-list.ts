import {
  HttpMethod,
  IsomorphicFetchHttpLibrary,
  RequestContext,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  V1ListMeta,
} from '@kubernetes/client-node';
import { errorMessage } from '@ambient/core';
import type { WatchedKind } from './kubernetes-kinds.js';

/** An error status from the API server, with the message of its `Status` body. */
export class KubeApiStatusError extends Error {
  constructor(
    /** Named as client-node names the status of a failed watch, so one check reads both. */
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'KubeApiStatusError';
  }
}

const httpLibrary = new IsomorphicFetchHttpLibrary();

/**
 * Lists one kind cluster-wide, as plain JSON. Raw on purpose: client-node's typed list calls turn
 * objects into model classes (timestamps as `Date`, unknown fields dropped) while watch events
 * arrive as parsed JSON, and one cache must hold one shape. Authentication, TLS and proxying come
 * from the kubeconfig exactly as for client-node's own watches. Items get the kind's apiVersion and
 * kind, which the API server leaves off the items of built-in kinds.
 */
export async function listKind(
  kubeConfig: KubeConfig,
  kind: WatchedKind,
  signal: AbortSignal,
): Promise<KubernetesListObject<KubernetesObject>> {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error('the kubeconfig has no current cluster');
  const context = new RequestContext(`${cluster.server}${kind.path}`, HttpMethod.GET);
  context.setHeaderParam('Accept', 'application/json');
  context.setSignal(signal);
  await kubeConfig.applySecurityAuthentication(context);
  const response = await httpLibrary.send(context).toPromise();
  const text = await response.body.text();
  if (response.httpStatusCode !== 200) {
    const status = String(response.httpStatusCode);
    throw new KubeApiStatusError(
      response.httpStatusCode,
      `HTTP ${status}: ${statusMessage(text) ?? 'no Status'}`,
    );
  }
  const body: unknown = JSON.parse(text);
  if (!isRecord(body) || !Array.isArray(body.items))
    throw new Error(`${kind.path} did not answer with a list`);
  const items: KubernetesObject[] = [];
  for (const item of body.items as unknown[]) {
    // An item without metadata could not be cached by name; the API server never sends one.
    if (!isRecord(item) || !isRecord(item.metadata)) continue;
    item.apiVersion ??= kind.apiVersion;
    item.kind ??= kind.kind;
    items.push(item);
  }
  const metadata = new V1ListMeta();
  const resourceVersion = isRecord(body.metadata) ? body.metadata.resourceVersion : undefined;
  if (typeof resourceVersion === 'string') metadata.resourceVersion = resourceVersion;
  return { apiVersion: kind.apiVersion, kind: `${kind.kind}List`, metadata, items };
}

/** The HTTP status a failed list or watch carries, if it got that far. */
export function kubeStatusOf(err: unknown): number | undefined {
  if (!isRecord(err)) return undefined;
  if (typeof err.statusCode === 'number') return err.statusCode;
  if (typeof err.code === 'number') return err.code;
  return undefined;
}

/** One line for a log: the error and, for network failures, what lies beneath (`ECONNREFUSED`). */
export function kubeReason(err: unknown): string {
  const message = errorMessage(err);
  const cause = err instanceof Error ? err.cause : undefined;
  return cause === undefined ? message : `${message}: ${errorMessage(cause)}`;
}

function statusMessage(text: string): string | undefined {
  try {
    const status: unknown = JSON.parse(text);
    return isRecord(status) && typeof status.message === 'string' ? status.message : undefined;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
