import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Backoff, ErrorCode, isMeshError } from '@ambient/core';
import { SeqpacketServer, seqpacketConnect, type SeqpacketSocket } from '../seqpacket.js';
import { closeFd, netnsInode } from '../sockets.js';
import { createTestNetns, NEEDS_ROOT, type TestNetns } from '../test-netns.js';
import { ZdsClient, type ZdsWorkloadHandler } from './client.js';
import { decodeAck, decodeHello, encodeRequest, ZDS_MAX_PACKET_BYTES, type WorkloadInfo } from './codec.js';
import { ZdsServer } from './server.js';

let dir = '';
let podA: TestNetns | undefined;
let podB: TestNetns | undefined;
let paths = 0;
const stops: (() => Promise<void> | void)[] = [];

beforeAll(() => {
  expect(process.getuid?.(), NEEDS_ROOT).toBe(0);
  dir = mkdtempSync(join(tmpdir(), 'zds-'));
  podA = createTestNetns('zds-a');
  podB = createTestNetns('zds-b');
});

afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

afterAll(() => {
  podA?.remove();
  podB?.remove();
  rmSync(dir, { recursive: true, force: true });
});

const info = (name: string): WorkloadInfo => ({ name, namespace: 'shop', serviceAccount: 'web' });
const socketPath = (): string => join(dir, `ztunnel-${String(paths++)}.sock`);

function pod(which: 'a' | 'b'): TestNetns {
  const ns = which === 'a' ? podA : podB;
  if (ns === undefined) throw new Error('no test namespace');
  return ns;
}

/** A handler that records every call, keeps nothing (closes each fd) and fails adds for `failing`. */
function recordingHandler(failing = new Set<string>()): { calls: string[]; handler: ZdsWorkloadHandler } {
  const calls: string[] = [];
  const nameOf = (fd: number): string => {
    const inode = netnsInode(fd);
    const match = (['a', 'b'] as const).find((which) => {
      const other = netnsInode(pod(which).fd);
      return other.ino === inode.ino && other.dev === inode.dev;
    });
    return match === undefined ? 'unknown netns' : `netns ${match}`;
  };
  const handler: ZdsWorkloadHandler = {
    add(uid, workload, netnsFd) {
      calls.push(`add ${uid} ${workload.name} ${nameOf(netnsFd)}`);
      if (failing.has(uid)) return Promise.reject(new Error('boom'));
      closeFd(netnsFd);
      return Promise.resolve();
    },
    keep(uid) {
      calls.push(`keep ${uid}`);
    },
    del(uid) {
      calls.push(`del ${uid}`);
      return Promise.resolve();
    },
    snapshotSent() {
      calls.push('snapshot sent');
      return Promise.resolve();
    },
  };
  return { calls, handler };
}

function startClient(path: string, handler: ZdsWorkloadHandler): ZdsClient {
  const client = new ZdsClient({ path, handler, backoff: new Backoff(10, 100, 0) });
  client.start();
  stops.push(() => client.stop());
  return client;
}

describe('ZDS between ztunnel (ZdsClient) and the node agent (ZdsServer)', () => {
  it('sends the snapshot, then adds and deletes, each acked', async () => {
    const path = socketPath();
    const server = ZdsServer.listen({
      path,
      snapshot: () => [
        { uid: 'pod-a', info: info('a'), netnsFd: pod('a').fd },
        { uid: 'pod-kept', keep: true },
      ],
    });
    stops.push(() => {
      server.close();
    });
    const { calls, handler } = recordingHandler();
    const client = startClient(path, handler);

    await server.ready();
    expect(calls).toEqual(['add pod-a a netns a', 'keep pod-kept', 'snapshot sent']);
    expect(client.synced).toBe(true);

    await server.add('pod-b', info('b'), pod('b').fd);
    await server.del('pod-a');
    expect(calls.slice(3)).toEqual(['add pod-b b netns b', 'del pod-a']);
  });

  it('nacks an add the handler fails, with the error text, and stays connected', async () => {
    const path = socketPath();
    const server = ZdsServer.listen({ path, snapshot: () => [] });
    stops.push(() => {
      server.close();
    });
    const { calls, handler } = recordingHandler(new Set(['pod-bad']));
    startClient(path, handler);
    await server.ready();

    const failure = await server.add('pod-bad', info('bad'), pod('a').fd).catch((err: unknown) => err);
    expect(isMeshError(failure, ErrorCode.ZdsRejected)).toBe(true);
    expect((failure as Error).message).toContain('failure to start proxy : boom');

    await server.add('pod-good', info('good'), pod('b').fd);
    expect(calls).toEqual(['snapshot sent', 'add pod-bad bad netns a', 'add pod-good good netns b']);
    expect(server.connectionCount).toBe(1);
  });

  it('rejects adds while no ztunnel is connected', async () => {
    const server = ZdsServer.listen({ path: socketPath(), snapshot: () => [] });
    stops.push(() => {
      server.close();
    });
    const failure = await server.add('pod-a', info('a'), pod('a').fd).catch((err: unknown) => err);
    expect(isMeshError(failure, ErrorCode.ZdsUnavailable)).toBe(true);
  });
});

/**
 * A hand-driven node agent, to send what ZdsServer never would. Each accepted connection is
 * queued; `next()` takes the next one.
 */
function fakeNodeAgent(path: string): { next: () => Promise<SeqpacketSocket> } {
  const waiting: SeqpacketSocket[] = [];
  const takers: ((socket: SeqpacketSocket) => void)[] = [];
  const listener = SeqpacketServer.listen(
    path,
    (socket) => {
      stops.push(() => {
        socket.close();
      });
      const taker = takers.shift();
      if (taker === undefined) waiting.push(socket);
      else taker(socket);
    },
    { maxPacketBytes: ZDS_MAX_PACKET_BYTES },
  );
  stops.push(() => {
    listener.close();
  });
  return {
    next: () => {
      const socket = waiting.shift();
      return socket === undefined ? new Promise((resolve) => takers.push(resolve)) : Promise.resolve(socket);
    },
  };
}

async function expectHello(socket: SeqpacketSocket): Promise<void> {
  const hello = await socket.receive();
  expect(hello === null ? 'closed' : decodeHello(hello)).toEqual({ ok: true, value: 1 });
}

async function ackText(socket: SeqpacketSocket): Promise<string> {
  const packet = await socket.receive();
  if (packet === null) return 'connection closed';
  const ack = decodeAck(packet);
  return ack.ok ? ack.value : `bad ack: ${ack.reason}`;
}

describe('ZdsClient protocol errors', () => {
  it('nacks a second SnapshotSent, drops the connection and connects again', async () => {
    const path = socketPath();
    const agent = fakeNodeAgent(path);
    const { calls, handler } = recordingHandler();
    startClient(path, handler);

    const first = await agent.next();
    await expectHello(first);
    await first.send(encodeRequest({ type: 'snapshotSent' }));
    expect(await ackText(first)).toBe('');
    await first.send(encodeRequest({ type: 'snapshotSent' }));
    expect(await ackText(first)).toBe('failure to process message : pod snapshot received already');
    expect(await first.receive()).toBeNull();

    const second = await agent.next();
    await expectHello(second);
    await second.send(encodeRequest({ type: 'snapshotSent' }));
    expect(await ackText(second)).toBe('');
    expect(calls).toEqual(['snapshot sent', 'snapshot sent']);
  });

  it('nacks Keep after the snapshot and a truncated packet, reconnecting after each', async () => {
    const path = socketPath();
    const agent = fakeNodeAgent(path);
    const { calls, handler } = recordingHandler();
    startClient(path, handler);

    const first = await agent.next();
    await expectHello(first);
    await first.send(encodeRequest({ type: 'snapshotSent' }));
    expect(await ackText(first)).toBe('');
    await first.send(encodeRequest({ type: 'keep', uid: 'pod-a' }));
    expect(await ackText(first)).toBe('failure to process message : pod keep received after snapshot');
    expect(await first.receive()).toBeNull();

    const second = await agent.next();
    await expectHello(second);
    await second.send(Buffer.alloc(ZDS_MAX_PACKET_BYTES + 1, 0x0a));
    expect(await ackText(second)).toBe('failure to read message : received truncated message');
    expect(await second.receive()).toBeNull();

    const third = await agent.next();
    await expectHello(third);
    expect(calls).toEqual(['snapshot sent']);
  });

  it('retries connecting until the node agent listens', async () => {
    const path = socketPath();
    const { handler } = recordingHandler();
    startClient(path, handler);
    // The client is already failing to connect; the agent comes up afterwards.
    await new Promise((resolve) => setTimeout(resolve, 30));
    const agent = fakeNodeAgent(path);
    await expectHello(await agent.next());
  });

  it('closes the netns fd of an add it nacks', async () => {
    const path = socketPath();
    const agent = fakeNodeAgent(path);
    const { handler } = recordingHandler(new Set(['pod-bad']));
    startClient(path, handler);
    const socket = await agent.next();
    await expectHello(socket);

    // Send a probe fd: one end of a pipe-like SEQPACKET pair whose other end sees EOF once every copy is closed.
    const probePath = socketPath();
    let probeListener: SeqpacketServer | undefined;
    const probePeer = new Promise<SeqpacketSocket>((resolve) => {
      probeListener = SeqpacketServer.listen(probePath, resolve);
    });
    // Raw, not wrapped in a SeqpacketSocket: this test owns the fd and closes its own copy.
    const probeFd = seqpacketConnect(probePath);
    const peer = await probePeer;
    probeListener?.close();
    await socket.send(encodeRequest({ type: 'add', uid: 'pod-bad', info: info('bad') }), [probeFd]);
    closeFd(probeFd);
    expect(await ackText(socket)).toBe('failure to start proxy : boom');
    expect(await peer.receive()).toBeNull();
    peer.close();
  });
});
