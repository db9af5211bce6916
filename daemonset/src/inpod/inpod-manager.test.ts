import { fstatSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeFd, netnsInode, type FileIdentity, type WorkloadInfo } from '@ambient/redirect';
import { InpodManager, type InpodPod } from './inpod-manager.js';
import type { PodProxyDump } from './pod-proxy.js';

// The manager's bookkeeping, with fake pods. Any file's fd stands in for a namespace fd: the
// manager only compares fstat identities and closes fds, which works the same for both.

const DRAIN_DEADLINE_MS = 1234;

let dir = '';
const openFds = new Set<number>();

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'inpod-manager-'));
  for (const name of ['a', 'b']) writeFileSync(join(dir, name), name);
});

afterEach(() => {
  for (const fd of openFds) if (isOpen(fd)) closeFd(fd);
  openFds.clear();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A new fd of stand-in namespace `name`: two fds of one name are the same namespace. */
function netnsFd(name: 'a' | 'b'): number {
  const fd = openSync(join(dir, name), 'r');
  openFds.add(fd);
  return fd;
}

function isOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

const info = (name: string): WorkloadInfo => ({ name, namespace: 'shop', serviceAccount: name });

class FakePod implements InpodPod {
  readonly identity: string;
  readonly hboneServer = { setCertificate: () => undefined };
  readonly netns: FileIdentity;
  events: string[] = [];

  constructor(
    readonly uid: string,
    info: WorkloadInfo,
    readonly netnsFd: number,
  ) {
    this.identity = `spiffe://cluster.local/ns/${info.namespace}/sa/${info.serviceAccount}`;
    this.netns = netnsInode(netnsFd);
  }

  isSameNamespace(netns: FileIdentity): boolean {
    return netns.dev === this.netns.dev && netns.ino === this.netns.ino;
  }

  stopAccepting(): void {
    this.events.push('stop accepting');
  }

  drain(deadlineMs: number): Promise<void> {
    this.events.push(`drain ${String(deadlineMs)}`);
    this.destroy();
    return Promise.resolve();
  }

  destroy(): void {
    this.events.push('destroy');
    if (isOpen(this.netnsFd)) closeFd(this.netnsFd);
  }

  dump(): PodProxyDump {
    return { uid: this.uid } as PodProxyDump;
  }
}

function newManager(options: { failing?: Set<string>; inSnapshot?: () => boolean } = {}): {
  manager: InpodManager;
  started: FakePod[];
} {
  const started: FakePod[] = [];
  const manager = new InpodManager({
    drainDeadlineMs: DRAIN_DEADLINE_MS,
    ...(options.inSnapshot === undefined ? {} : { inSnapshot: options.inSnapshot }),
    startPod: (uid, workload, fd) => {
      if (options.failing?.has(uid)) return Promise.reject(new Error('cannot listen'));
      const pod = new FakePod(uid, workload, fd);
      started.push(pod);
      return Promise.resolve(pod);
    },
  });
  return { manager, started };
}

const uids = (manager: InpodManager): string[] => manager.dump().pods.map((pod) => pod.uid);

describe('InpodManager', () => {
  it('starts a proxy per pod; the same namespace again changes nothing and its fd is closed', async () => {
    const { manager, started } = newManager();
    await manager.add('pod-1', info('web'), netnsFd('a'));
    const again = netnsFd('a');
    await manager.add('pod-1', info('web'), again);
    expect(started).toHaveLength(1);
    expect(isOpen(again)).toBe(false);
    expect(started[0]?.events).toEqual([]);
    expect(uids(manager)).toEqual(['pod-1']);
  });

  it('replaces a pod’s proxy when it comes back with another namespace: the old one drains', async () => {
    const { manager, started } = newManager();
    await manager.add('pod-1', info('web'), netnsFd('a'));
    await manager.add('pod-1', info('web'), netnsFd('b'));
    expect(started).toHaveLength(2);
    expect(started[0]?.events).toEqual([`drain ${String(DRAIN_DEADLINE_MS)}`, 'destroy']);
    expect(started[1]?.events).toEqual([]);
    expect(uids(manager)).toEqual(['pod-1']);
  });

  it('rejects a pod that cannot start, leaving its fd open for the ZDS client to close', async () => {
    const { manager } = newManager({ failing: new Set(['pod-bad']) });
    const fd = netnsFd('a');
    await expect(manager.add('pod-bad', info('bad'), fd)).rejects.toThrow('cannot listen');
    expect(isOpen(fd)).toBe(true);
    expect(uids(manager)).toEqual([]);
  });

  it('drains a deleted pod with the drain deadline; deleting an unknown pod is no error', async () => {
    const { manager, started } = newManager();
    await manager.add('pod-1', info('web'), netnsFd('a'));
    await manager.del('pod-1');
    await manager.del('pod-unknown');
    expect(started[0]?.events).toEqual([`drain ${String(DRAIN_DEADLINE_MS)}`, 'destroy']);
    expect(uids(manager)).toEqual([]);
  });

  it('drains at SnapshotSent every pod the snapshot neither added nor kept, and is synced from then on', async () => {
    let synced = false;
    const { manager, started } = newManager({ inSnapshot: () => !synced });
    let firstSnapshot = false;
    void manager.firstSnapshot.then(() => (firstSnapshot = true));

    await manager.add('kept', info('kept'), netnsFd('a'));
    await manager.add('gone', info('gone'), netnsFd('b'));
    await manager.snapshotSent();
    synced = true;
    await Promise.resolve();
    expect(firstSnapshot).toBe(true);
    expect(manager.dump().synced).toBe(true);
    expect(uids(manager)).toEqual(['kept', 'gone']);

    // Added after the snapshot: does not count for the next connection's snapshot.
    await manager.add('later', info('later'), netnsFd('a'));
    // The node agent reconnects; its snapshot keeps one pod, and one was deleted meanwhile.
    synced = false;
    manager.keep('kept');
    await manager.snapshotSent();
    synced = true;
    expect(uids(manager)).toEqual(['kept']);
    expect(started.map((pod) => `${pod.uid}: ${pod.events.join(', ')}`)).toEqual([
      'kept: ',
      `gone: drain ${String(DRAIN_DEADLINE_MS)}, destroy`,
      `later: drain ${String(DRAIN_DEADLINE_MS)}, destroy`,
    ]);
  });

  it('finds the HBONE servers of an identity, for certificate rotation', async () => {
    const { manager, started } = newManager();
    await manager.add('pod-1', info('web'), netnsFd('a'));
    await manager.add('pod-2', info('web'), netnsFd('b'));
    await manager.add('pod-3', info('db'), netnsFd('a'));
    expect(manager.serversFor('spiffe://cluster.local/ns/shop/sa/web')).toEqual([
      started[0]?.hboneServer,
      started[1]?.hboneServer,
    ]);
    expect(manager.serversFor('spiffe://cluster.local/ns/shop/sa/none')).toEqual([]);
  });

  it('on shutdown stops accepting everywhere, then closes every pod and takes no new ones', async () => {
    const { manager, started } = newManager();
    await manager.add('pod-1', info('web'), netnsFd('a'));
    manager.drain();
    expect(started[0]?.events).toEqual(['stop accepting']);
    const late = netnsFd('b');
    await expect(manager.add('pod-2', info('web'), late)).rejects.toThrow(/shutting down/);
    expect(isOpen(late)).toBe(true);
    manager.destroy();
    expect(started[0]?.events).toEqual(['stop accepting', 'destroy']);
    expect(uids(manager)).toEqual([]);
  });
});
