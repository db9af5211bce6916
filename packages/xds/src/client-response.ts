import { errorMessage } from '@ambient/core';
import type { discovery } from '@ambient/protos';
import type { ResourceHandler } from './handler.js';

/** What handling one response came to: empty `problems` means ACK, otherwise they make the NACK message. */
export interface ResponseResult {
  /** Resources that decoded and were applied. */
  readonly accepted: number;
  /** `<name>: <reason>` per rejected resource, and the handler's own failure if `apply` threw. */
  readonly problems: readonly string[];
}

/**
 * Decodes every resource of a response, applies the good ones and the removals in one call, and
 * updates `known` (name → version of what the handler holds) the way ztunnel does: removals are
 * forgotten, accepted resources recorded, rejected ones left as they were — so on reconnect the
 * server sees a version that does not match and sends them again. If `apply` throws, nothing of
 * this response is recorded: on reconnect the server repeats all of it.
 */
export function applyResponse(
  handler: ResourceHandler<unknown>,
  response: discovery.DeltaDiscoveryResponse,
  known: Map<string, string>,
  initial: boolean,
): ResponseResult {
  const upserts = new Map<string, unknown>();
  const versions = new Map<string, string>();
  const problems: string[] = [];
  for (const resource of response.resources) {
    const rejection = decodeInto(handler, response.typeUrl, resource, upserts);
    if (rejection === undefined) versions.set(resource.name, resource.version);
    else problems.push(`${resource.name}: ${rejection}`);
  }
  try {
    handler.apply({ upserts, removals: response.removedResources, initial });
  } catch (err) {
    problems.push(`the ${response.typeUrl} handler failed to apply the response: ${errorMessage(err)}`);
    return { accepted: 0, problems };
  }
  for (const name of response.removedResources) known.delete(name);
  for (const [name, version] of versions) known.set(name, version);
  return { accepted: upserts.size, problems };
}

/** Decodes one resource into `upserts`; returns why it was rejected, or undefined. */
function decodeInto(
  handler: ResourceHandler<unknown>,
  typeUrl: string,
  resource: discovery.Resource,
  upserts: Map<string, unknown>,
): string | undefined {
  if (resource.name === '') return 'the resource has no name';
  const body = resource.resource;
  // A resource without a body is a TTL heartbeat, which ztunnel does not support either.
  if (body === undefined) return 'the resource has no body';
  if (body.typeUrl !== typeUrl) return `the resource is a ${body.typeUrl}, not a ${typeUrl}`;
  try {
    upserts.set(resource.name, handler.decode(resource.name, body.value));
    return undefined;
  } catch (err) {
    return errorMessage(err);
  }
}
