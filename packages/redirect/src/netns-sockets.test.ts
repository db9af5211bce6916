import { openSync, closeSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, ErrorCode, isMeshError, listenOn } from '@ambient/core';
import { dialInNetns, listenInNetns } from './netns-sockets.js';
import {
  closeFd,
  currentNetnsInode,
  getMark,
  getReusePort,
  getTransparent,
  localAddress,
  originalDestination,
  setMark,
  setTransparent,
  socketFd,
  socketInNetns,
} from './sockets.js';
import { isSystemError } from './system-error.js';
import { addEmptyNetwork, createTestNetns, NEEDS_ROOT, readAll, type TestNetns } from './test-netns.js';

let ns: TestNetns | undefined;
const servers: Server[] = [];

function netns(): TestNetns {
  if (ns === undefined) throw new Error('no test namespace');
  return ns;
}

/** A server that answers each connection with `reply(socket)` and closes. */
function answering(reply: (socket: Socket) => string): Server {
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.end(reply(socket));
  });
  servers.push(server);
  return server;
}

beforeAll(() => {
  expect(process.getuid?.(), NEEDS_ROOT).toBe(0);
  ns = createTestNetns();
  // A network the namespace routes to but that has no hosts: only a REDIRECT can answer for it.
  addEmptyNetwork(netns());
  const redirects = [
    ['iptables-nft', '-p', 'tcp', '--dport', '8080', '-j', 'REDIRECT', '--to-ports', '15002'],
    ['iptables-nft', '-d', '10.200.0.0/24', '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', '15001'],
    ['ip6tables-nft', '-d', 'fd00:200::/64', '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', '15001'],
  ];
  for (const [command = '', ...rule] of redirects)
    netns().run(command, ['-t', 'nat', '-A', 'OUTPUT', ...rule]);
});

afterAll(async () => {
  for (const server of servers) await closeServer(server);
  ns?.remove();
});

describe('sockets made inside a network namespace', () => {
  it('listen where only that namespace can reach them', async () => {
    const inside = answering(() => 'inside');
    await listenInNetns(inside, netns().fd, { family: 4, address: '127.0.0.1', port: 0 });
    const port = (inside.address() as AddressInfo).port;
    // The same port is free on this host's loopback: a different network.
    const outside = answering(() => 'outside');
    await listenOn(outside, '127.0.0.1', port, 'host');

    const fromHost = await dialInNetns(null, { family: 4, address: '127.0.0.1', port });
    expect(await readAll(fromHost)).toBe('outside');
    const fromNamespace = await dialInNetns(netns().fd, { family: 4, address: '127.0.0.1', port });
    expect(await readAll(fromNamespace)).toBe('inside');
  });

  it('always return the thread to its own namespace, also when a step fails', () => {
    const home = currentNetnsInode();
    const fd = socketInNetns(netns().fd, { family: 4, bind: { address: '127.0.0.1', port: 0 }, listen: 8 });
    expect(currentNetnsInode()).toEqual(home);
    closeFd(fd);

    // Bind fails inside the namespace: no such address there.
    expect(() => socketInNetns(netns().fd, { family: 4, bind: { address: '10.99.99.99', port: 0 } })).toThrow(
      expect.objectContaining({ code: 'EADDRNOTAVAIL', syscall: 'bind' }) as Error,
    );
    expect(currentNetnsInode()).toEqual(home);

    // setns itself fails: /dev/null is no namespace.
    const notANamespace = openSync('/dev/null', 'r');
    try {
      expect(() => socketInNetns(notANamespace, { family: 4 })).toThrow(
        expect.objectContaining({ code: 'EINVAL', syscall: 'setns' }) as Error,
      );
    } finally {
      closeSync(notANamespace);
    }
    expect(currentNetnsInode()).toEqual(home);
  });

  it('carry SO_MARK, SO_REUSEPORT and IP_TRANSPARENT as asked', () => {
    const fd = socketInNetns(netns().fd, {
      family: 6,
      bind: { address: '::', port: 0 },
      listen: 8,
      mark: 1337,
      reusePort: true,
      transparent: true,
    });
    try {
      expect(getMark(fd)).toBe(1337);
      expect(getReusePort(fd)).toBe(true);
      expect(getTransparent(fd, 6)).toBe(true);
      expect(localAddress(fd)).toMatchObject({ address: '::', family: 6 });
      setMark(fd, 0x111);
      expect(getMark(fd)).toBe(0x111);
      setTransparent(fd, false, 6);
      expect(getTransparent(fd, 6)).toBe(false);
    } finally {
      closeFd(fd);
    }
  });

  it('dial with a mark, and report a refused connect as MESH_ERR_CONNECT_FAILED', async () => {
    const server = createServer();
    servers.push(server);
    const marks: number[] = [];
    server.on('connection', (socket) => {
      socket.destroy();
    });
    await listenInNetns(server, netns().fd, { family: 4, address: '127.0.0.1', port: 0 });
    const port = (server.address() as AddressInfo).port;
    const client = await dialInNetns(netns().fd, { family: 4, address: '127.0.0.1', port, mark: 0x539 });
    marks.push(getMark(socketFd(client)));
    client.destroy();
    expect(marks).toEqual([0x539]);

    await closeServer(server);
    const refused = await dialInNetns(netns().fd, { family: 4, address: '127.0.0.1', port }).catch(
      (err: unknown) => err,
    );
    expect(isMeshError(refused, ErrorCode.ConnectFailed)).toBe(true);
    expect(isSystemError((refused as Error).cause, 'ECONNREFUSED')).toBe(true);
  });
});

describe('originalDestination', () => {
  const destinationOf = (socket: Socket): string => JSON.stringify(originalDestination(socketFd(socket)));

  it('recovers where REDIRECTed IPv4 and IPv6 connections were going, on a dual-stack listener', async () => {
    const listener = answering(destinationOf);
    await listenInNetns(listener, netns().fd, { family: 6, address: '::', port: 15001, reusePort: true });

    const v4 = await dialInNetns(netns().fd, { family: 4, address: '10.200.0.99', port: 80 });
    expect(JSON.parse(await readAll(v4))).toEqual({ address: '10.200.0.99', port: 80, family: 4 });
    const v6 = await dialInNetns(netns().fd, { family: 6, address: 'fd00:200::99', port: 443 });
    expect(JSON.parse(await readAll(v6))).toEqual({ address: 'fd00:200::99', port: 443, family: 6 });
  });

  it('works on an IPv4 listener too', async () => {
    const listener = answering(destinationOf);
    await listenInNetns(listener, netns().fd, { family: 4, address: '127.0.0.1', port: 15002 });
    const client = await dialInNetns(netns().fd, { family: 4, address: '10.200.0.7', port: 8080 });
    expect(JSON.parse(await readAll(client))).toEqual({ address: '10.200.0.7', port: 8080, family: 4 });
  });

  it('reports the destination itself for a tracked connection no NAT rule rewrote', async () => {
    const listener = answering(destinationOf);
    await listenInNetns(listener, netns().fd, { family: 4, address: '127.0.0.1', port: 0 });
    const port = (listener.address() as AddressInfo).port;
    const client = await dialInNetns(netns().fd, { family: 4, address: '127.0.0.1', port });
    expect(JSON.parse(await readAll(client))).toEqual({ address: '127.0.0.1', port, family: 4 });
  });

  it('throws ENOENT where conntrack keeps no entry (a namespace without NAT rules)', async () => {
    const bare = createTestNetns();
    try {
      const listener = answering((socket) => {
        try {
          return destinationOf(socket);
        } catch (err) {
          return isSystemError(err) ? err.code : 'not a system error';
        }
      });
      await listenInNetns(listener, bare.fd, { family: 4, address: '127.0.0.1', port: 0 });
      const port = (listener.address() as AddressInfo).port;
      const client = await dialInNetns(bare.fd, { family: 4, address: '127.0.0.1', port });
      expect(await readAll(client)).toBe('ENOENT');
      await closeServer(listener);
    } finally {
      bare.remove();
    }
  });
});
