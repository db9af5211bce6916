import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { zds } from '@ambient/protos';
import type { SeqpacketPacket } from '../addon.js';
import { SeqpacketServer, seqpacketConnect, seqpacketSend, type SeqpacketSocket } from '../seqpacket.js';
import { closeFd } from '../sockets.js';
import {
  decodeAck,
  decodeHello,
  decodeRequest,
  encodeAck,
  encodeHello,
  encodeRequest,
  type ZdsRequest,
} from './codec.js';

const dir = mkdtempSync(join(tmpdir(), 'zds-codec-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/**
 * An fd whose closing can be observed without races: one end of a SEQPACKET connection, whose
 * other end reads end-of-stream once it is closed, or the probe message while it is open.
 */
interface FdProbe {
  fd: number;
  /** 'closed' or 'open', by what the other end sees. */
  state(): Promise<'closed' | 'open'>;
}

let probes = 0;
async function fdProbe(): Promise<FdProbe> {
  const path = join(dir, `p${String(probes++)}.sock`);
  let listener: SeqpacketServer | undefined;
  const accepted = new Promise<SeqpacketSocket>((resolve) => {
    listener = SeqpacketServer.listen(path, resolve);
  });
  const fd = seqpacketConnect(path);
  const peer = await accepted;
  listener?.close();
  return {
    fd,
    async state() {
      let sent = false;
      try {
        sent = seqpacketSend(fd, Buffer.from('probe'));
      } catch {
        // EBADF (or a reused number that is no socket): the fd is gone.
      }
      const packet = await peer.receive();
      peer.close();
      if (sent && packet !== null) {
        closeFd(fd);
        return 'open';
      }
      return 'closed';
    },
  };
}

const info = { name: 'web-1', namespace: 'shop', serviceAccount: 'web' };
const packetOf = (bytes: Uint8Array, fds: number[] = [], truncated = false): SeqpacketPacket => ({
  data: Buffer.from(bytes),
  fds,
  truncated,
});

describe('ZDS request decoding (ztunnel side)', () => {
  const add = encodeRequest({ type: 'add', uid: 'pod-1', info });
  const rejected: {
    name: string;
    bytes: Uint8Array;
    fds: number;
    truncated?: boolean;
    reason: string | RegExp;
  }[] = [
    { name: 'Add without its fd', bytes: add, fds: 0, reason: 'No control message' },
    { name: 'Add with two fds', bytes: add, fds: 2, reason: 'Expected 1 FD, got 2' },
    { name: 'a truncated Add', bytes: add, fds: 1, truncated: true, reason: 'received truncated message' },
    {
      name: 'Del with an fd',
      bytes: encodeRequest({ type: 'del', uid: 'pod-1' }),
      fds: 1,
      reason: 'Unexpected control message',
    },
    {
      name: 'Keep with an fd',
      bytes: encodeRequest({ type: 'keep', uid: 'pod-1' }),
      fds: 1,
      reason: 'Unexpected control message',
    },
    { name: 'an empty request', bytes: new Uint8Array(), fds: 1, reason: 'no payload' },
    {
      name: 'bytes that are no protobuf',
      bytes: Uint8Array.of(0xff, 0xff, 0xff),
      fds: 1,
      reason: /^invalid request/,
    },
    {
      name: 'Add without workload_info',
      bytes: zds.WorkloadRequest.encode({ payload: { $case: 'add', value: { uid: 'pod-1' } } }).finish(),
      fds: 1,
      reason: 'workload_info is required but not present',
    },
  ];

  for (const testCase of rejected) {
    it(`rejects ${testCase.name} and closes every fd that came with it`, async () => {
      const probes = await Promise.all(Array.from({ length: testCase.fds }, fdProbe));
      const decoded = decodeRequest(
        packetOf(
          testCase.bytes,
          probes.map((probe) => probe.fd),
          testCase.truncated,
        ),
      );
      expect(decoded.ok).toBe(false);
      if (!decoded.ok) expect(decoded.reason).toMatch(testCase.reason);
      for (const probe of probes) expect(await probe.state()).toBe('closed');
    });
  }

  const accepted: {
    name: string;
    bytes: Uint8Array;
    withFd: boolean;
    expected: (fd: number) => ZdsRequest;
  }[] = [
    {
      name: 'Add with one fd',
      bytes: add,
      withFd: true,
      expected: (fd) => ({ type: 'add', uid: 'pod-1', info, netnsFd: fd }),
    },
    {
      name: 'Keep',
      bytes: encodeRequest({ type: 'keep', uid: 'pod-2' }),
      withFd: false,
      expected: () => ({ type: 'keep', uid: 'pod-2' }),
    },
    {
      name: 'Del',
      bytes: encodeRequest({ type: 'del', uid: 'pod-3' }),
      withFd: false,
      expected: () => ({ type: 'del', uid: 'pod-3' }),
    },
    {
      name: 'SnapshotSent',
      bytes: encodeRequest({ type: 'snapshotSent' }),
      withFd: false,
      expected: () => ({ type: 'snapshotSent' }),
    },
  ];

  for (const testCase of accepted) {
    it(`accepts ${testCase.name}${testCase.withFd ? ', leaving the fd open for the caller' : ''}`, async () => {
      const probe = testCase.withFd ? await fdProbe() : undefined;
      const decoded = decodeRequest(packetOf(testCase.bytes, probe === undefined ? [] : [probe.fd]));
      expect(decoded).toEqual({ ok: true, value: testCase.expected(probe?.fd ?? -1) });
      if (probe !== undefined) expect(await probe.state()).toBe('open');
    });
  }
});

describe('ZDS wire format', () => {
  it('numbers DelWorkload.uid 2, as upstream does', () => {
    // WorkloadRequest.del (field 2) { DelWorkload.uid (field 2) = "u" }
    expect([...encodeRequest({ type: 'del', uid: 'u' })]).toEqual([0x12, 0x03, 0x12, 0x01, 0x75]);
  });

  it('numbers KeepWorkload 5 in the request oneof', () => {
    expect([...encodeRequest({ type: 'keep', uid: 'u' })]).toEqual([0x2a, 0x03, 0x0a, 0x01, 0x75]);
  });

  it('sends hello V1 and reads it back', () => {
    expect([...encodeHello()]).toEqual([0x08, 0x01]);
    expect(decodeHello(packetOf(encodeHello()))).toEqual({ ok: true, value: zds.Version.V1 });
  });

  it('round-trips acks, and rejects an ack carrying an fd', async () => {
    expect(decodeAck(packetOf(encodeAck()))).toEqual({ ok: true, value: '' });
    expect(decodeAck(packetOf(encodeAck('failure to start proxy : boom')))).toEqual({
      ok: true,
      value: 'failure to start proxy : boom',
    });
    const probe = await fdProbe();
    expect(decodeAck(packetOf(encodeAck(), [probe.fd]))).toEqual({
      ok: false,
      reason: 'Unexpected control message',
    });
    expect(await probe.state()).toBe('closed');
  });
});
