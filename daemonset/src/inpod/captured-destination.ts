import type { Socket } from 'node:net';
import { normalizeIp } from '@ambient/core';
import { originalDestination, socketFd } from '@ambient/redirect';
import { localAddressAsDestination, type OriginalDestination } from '../proxy/inbound-passthrough.js';

/**
 * Where a connection the pod's REDIRECT rules captured was going (SO_ORIGINAL_DST). A connection
 * no rule rewrote (one made straight to the listener) has no original destination but its own:
 * then the listener's address is the answer, as in ztunnel.
 */
export const capturedDestination: OriginalDestination = (socket: Socket) => {
  try {
    const original = originalDestination(socketFd(socket));
    return { ip: normalizeIp(original.address), port: original.port };
  } catch {
    return localAddressAsDestination(socket);
  }
};
