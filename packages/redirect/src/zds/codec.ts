import { errorMessage } from '@ambient/core';
import { zds } from '@ambient/protos';
import type { SeqpacketPacket } from '../addon.js';
import { closeFd } from '../sockets.js';

/** ztunnel reads every ZDS packet into a buffer this size; a longer packet is rejected, not cut. */
export const ZDS_MAX_PACKET_BYTES = 1024;

export type WorkloadInfo = zds.WorkloadInfo;

/** A ZDS request as the node agent sends it. */
export type ZdsMessage =
  | { type: 'add'; uid: string; info: WorkloadInfo }
  | { type: 'keep'; uid: string }
  | { type: 'del'; uid: string }
  | { type: 'snapshotSent' };

/** A ZDS request as ztunnel receives it: an Add comes with the pod's netns fd, now owned by the receiver. */
export type ZdsRequest =
  | { type: 'add'; uid: string; info: WorkloadInfo; netnsFd: number }
  | { type: 'keep'; uid: string }
  | { type: 'del'; uid: string }
  | { type: 'snapshotSent' };

export type ZdsDecoded<T> = { ok: true; value: T } | { ok: false; reason: string };

export function encodeHello(): Uint8Array {
  return zds.ZdsHello.encode({ version: zds.Version.V1 }).finish();
}

/** The version a connecting ztunnel announced. Any fd with it is closed and rejected. */
export function decodeHello(packet: SeqpacketPacket): ZdsDecoded<zds.Version> {
  const unusable = rejectUnusable(packet, false);
  if (unusable !== undefined) return unusable;
  try {
    return { ok: true, value: zds.ZdsHello.decode(packet.data).version };
  } catch (err) {
    return { ok: false, reason: `invalid hello: ${errorMessage(err)}` };
  }
}

export function encodeRequest(message: ZdsMessage): Uint8Array {
  return zds.WorkloadRequest.encode({ payload: payloadOf(message) }).finish();
}

/**
 * One request packet, checked as ztunnel checks it: not truncated, at most one fd, an fd with
 * Add and only with Add, and Add carrying workload_info. On failure every fd of the packet is
 * closed; on success the Add's fd belongs to the caller.
 */
export function decodeRequest(packet: SeqpacketPacket): ZdsDecoded<ZdsRequest> {
  const unusable = rejectUnusable(packet, true);
  if (unusable !== undefined) return unusable;
  const netnsFd = packet.fds[0];
  const fail = (reason: string): ZdsDecoded<ZdsRequest> => {
    if (netnsFd !== undefined) closeFd(netnsFd);
    return { ok: false, reason };
  };

  let request: zds.WorkloadRequest;
  try {
    request = zds.WorkloadRequest.decode(packet.data);
  } catch (err) {
    return fail(`invalid request: ${errorMessage(err)}`);
  }
  const payload = request.payload;
  if (payload === undefined) return fail('no payload');
  if (payload.$case === 'add') {
    if (netnsFd === undefined) return fail('No control message');
    if (payload.value.workloadInfo === undefined) return fail('workload_info is required but not present');
    return {
      ok: true,
      value: { type: 'add', uid: payload.value.uid, info: payload.value.workloadInfo, netnsFd },
    };
  }
  if (netnsFd !== undefined) return fail('Unexpected control message');
  switch (payload.$case) {
    case 'keep':
      return { ok: true, value: { type: 'keep', uid: payload.value.uid } };
    case 'del':
      return { ok: true, value: { type: 'del', uid: payload.value.uid } };
    case 'snapshotSent':
      return { ok: true, value: { type: 'snapshotSent' } };
  }
}

/** An Ack; an empty error means success. */
export function encodeAck(error = ''): Uint8Array {
  return zds.WorkloadResponse.encode({ payload: { $case: 'ack', value: { error } } }).finish();
}

/** The error text of an Ack ('' = success). Any fd with it is closed and rejected. */
export function decodeAck(packet: SeqpacketPacket): ZdsDecoded<string> {
  const unusable = rejectUnusable(packet, false);
  if (unusable !== undefined) return unusable;
  try {
    const response = zds.WorkloadResponse.decode(packet.data);
    if (response.payload?.$case !== 'ack') return { ok: false, reason: 'no ack in response' };
    return { ok: true, value: response.payload.value.error };
  } catch (err) {
    return { ok: false, reason: `invalid response: ${errorMessage(err)}` };
  }
}

function payloadOf(message: ZdsMessage): zds.WorkloadRequest['payload'] {
  switch (message.type) {
    case 'add':
      return { $case: 'add', value: { uid: message.uid, workloadInfo: message.info } };
    case 'keep':
      return { $case: 'keep', value: { uid: message.uid } };
    case 'del':
      return { $case: 'del', value: { uid: message.uid } };
    case 'snapshotSent':
      return { $case: 'snapshotSent', value: {} };
  }
}

// Truncated packets and surplus fds are refused before decoding; every fd is closed when refused.
function rejectUnusable(
  packet: SeqpacketPacket,
  oneFdAllowed: boolean,
): { ok: false; reason: string } | undefined {
  let reason: string | undefined;
  if (packet.truncated) reason = 'received truncated message';
  else if (packet.fds.length > (oneFdAllowed ? 1 : 0)) {
    reason = oneFdAllowed ? `Expected 1 FD, got ${packet.fds.length}` : 'Unexpected control message';
  }
  if (reason === undefined) return undefined;
  for (const fd of packet.fds) closeFd(fd);
  return { ok: false, reason };
}
