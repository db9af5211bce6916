import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SeqpacketServer, SeqpacketSocket } from './seqpacket.js';
import { closeFd, currentNetnsInode, netnsInode } from './sockets.js';
import { createTestNetns, NEEDS_ROOT, type TestNetns } from './test-netns.js';

let dir = '';
let ns: TestNetns | undefined;
const cleanups: (() => void)[] = [];
let paths = 0;

beforeAll(() => {
  expect(process.getuid?.(), NEEDS_ROOT).toBe(0);
  dir = mkdtempSync(join(tmpdir(), 'seqpacket-'));
  ns = createTestNetns();
});

afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

afterAll(() => {
  ns?.remove();
  rmSync(dir, { recursive: true, force: true });
});

/** A connected pair: the server's side of the connection and the client. */
async function connectedPair(
  maxPacketBytes?: number,
): Promise<{ server: SeqpacketSocket; client: SeqpacketSocket }> {
  const path = join(dir, `s-${String(paths++)}.sock`);
  const accepted = new Promise<SeqpacketSocket>((resolve) => {
    const listener = SeqpacketServer.listen(
      path,
      resolve,
      maxPacketBytes === undefined ? {} : { maxPacketBytes },
    );
    cleanups.push(() => {
      listener.close();
    });
  });
  const client = SeqpacketSocket.connect(path);
  const server = await accepted;
  cleanups.push(() => {
    client.close();
    server.close();
  });
  return { server, client };
}

describe('SOCK_SEQPACKET sockets', () => {
  it('keep message boundaries, in order, both ways', async () => {
    const { server, client } = await connectedPair();
    await client.send(Buffer.from('one'));
    await client.send(Buffer.from('two'));
    await server.send(Buffer.from('three'));
    expect((await server.receive())?.data.toString()).toBe('one');
    expect((await server.receive())?.data.toString()).toBe('two');
    expect((await client.receive())?.data.toString()).toBe('three');
  });

  it('wake a waiting receive when a message arrives', async () => {
    const { server, client } = await connectedPair();
    const waiting = server.receive();
    await client.send(Buffer.from('later'));
    const packet = await waiting;
    expect(packet?.data.toString()).toBe('later');
    expect(packet?.fds).toEqual([]);
    expect(packet?.truncated).toBe(false);
  });

  it('pass a network namespace fd as SCM_RIGHTS', async () => {
    if (ns === undefined) throw new Error('no test namespace');
    const { server, client } = await connectedPair();
    await client.send(Buffer.from('add'), [ns.fd]);
    const packet = await server.receive();
    const received = packet?.fds ?? [];
    expect(received).toHaveLength(1);
    const [fd = -1] = received;
    try {
      expect(fd).not.toBe(ns.fd);
      expect(netnsInode(fd)).toEqual(netnsInode(ns.fd));
      expect(netnsInode(fd)).not.toEqual(currentNetnsInode());
    } finally {
      closeFd(fd);
    }
  });

  it('flag a message longer than the read buffer as truncated', async () => {
    const { server, client } = await connectedPair(1024);
    await client.send(Buffer.alloc(2000, 1));
    const packet = await server.receive();
    expect(packet?.truncated).toBe(true);
    expect(packet?.data.length).toBe(1024);
  });

  it('report the peer closing as null, for a waiting receive too', async () => {
    const { server, client } = await connectedPair();
    const waiting = server.receive();
    client.close();
    expect(await waiting).toBeNull();
    expect(await server.receive()).toBeNull();
  });

  it('fail to connect to a path nobody listens on, with the errno', () => {
    expect(() => SeqpacketSocket.connect(join(dir, 'nobody.sock'))).toThrow(
      expect.objectContaining({ code: 'ENOENT', syscall: 'connect' }) as Error,
    );
  });
});
