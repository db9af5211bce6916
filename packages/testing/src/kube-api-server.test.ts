import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeApiServer, type KubeApiObject } from './kube-api-server.js';

interface WatchEvent {
  readonly type: string;
  readonly object: {
    readonly kind?: string;
    readonly apiVersion?: string;
    readonly code?: number;
    readonly reason?: string;
    readonly metadata?: { readonly name?: string; readonly resourceVersion?: string };
  };
}

/** Reads a watch stream event by event; `ended` resolves when the server ends the stream. */
class WatchReader {
  private buffered = '';
  private readonly decoder = new TextDecoder();

  private constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly abort: AbortController,
  ) {}

  static async open(url: string, headers: Record<string, string> = {}): Promise<WatchReader> {
    const abort = new AbortController();
    const response = await fetch(url, { signal: abort.signal, headers });
    expect(response.status).toBe(200);
    expect(response.headers.get('transfer-encoding')).toBe('chunked');
    if (response.body === null) throw new Error('no body');
    return new WatchReader(response.body.getReader(), abort);
  }

  /** The next event, or undefined when the stream ended. */
  async next(): Promise<WatchEvent | undefined> {
    for (;;) {
      const newline = this.buffered.indexOf('\n');
      if (newline >= 0) {
        const line = this.buffered.slice(0, newline);
        this.buffered = this.buffered.slice(newline + 1);
        return JSON.parse(line) as WatchEvent;
      }
      const chunk = await this.reader.read();
      if (chunk.done) return undefined;
      this.buffered += this.decoder.decode(chunk.value, { stream: true });
    }
  }

  close(): void {
    this.abort.abort();
  }
}

function pod(name: string, namespace = 'default', labels: Record<string, string> = {}): KubeApiObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: { nodeName: 'node-a' },
  };
}

const policy: KubeApiObject = {
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'allow-nothing', namespace: 'default' },
  spec: {},
};

interface List {
  readonly kind: string;
  readonly apiVersion: string;
  readonly metadata: { readonly resourceVersion: string };
  readonly items: readonly Record<string, unknown>[];
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function getList(url: string): Promise<{ status: number; body: List }> {
  const { status, body } = await getJson(url);
  return { status, body: body as unknown as List };
}

describe('KubeApiServer, the stand-in Kubernetes API', () => {
  let server: KubeApiServer;
  const readers: WatchReader[] = [];

  beforeEach(async () => {
    server = await KubeApiServer.start({ host: '127.0.40.1' });
  });

  afterEach(async () => {
    for (const reader of readers.splice(0)) reader.close();
    await server.close();
  });

  async function watch(path: string): Promise<WatchReader> {
    const reader = await WatchReader.open(`${server.url}${path}`);
    readers.push(reader);
    return reader;
  }

  it('lists like the API server: a <Kind>List with the resourceVersion, core items without TypeMeta', async () => {
    const first = server.apply(pod('b', 'default'));
    server.apply(pod('a', 'other'));
    server.apply(pod('a', 'default'));
    server.apply(policy);

    const all = await getList(`${server.url}/api/v1/pods`);
    expect(all.status).toBe(200);
    expect(all.body.kind).toBe('PodList');
    expect(all.body.apiVersion).toBe('v1');
    expect(all.body.metadata.resourceVersion).toBe(String(server.resourceVersion));
    expect(all.body.items.map((item) => item.metadata)).toMatchObject([
      { namespace: 'default', name: 'a' },
      { namespace: 'default', name: 'b', uid: first.metadata.uid },
      { namespace: 'other', name: 'a' },
    ]);
    expect(all.body.items[0]).not.toHaveProperty('kind');
    expect(all.body.items[0]).not.toHaveProperty('apiVersion');

    const namespaced = await getList(`${server.url}/api/v1/namespaces/other/pods`);
    expect(namespaced.body.items.map((item) => item.metadata)).toMatchObject([
      { namespace: 'other', name: 'a' },
    ]);

    const custom = await getList(`${server.url}/apis/security.istio.io/v1/authorizationpolicies`);
    expect(custom.body.kind).toBe('AuthorizationPolicyList');
    expect(custom.body.apiVersion).toBe('security.istio.io/v1');
    expect(custom.body.items).toMatchObject([
      { kind: 'AuthorizationPolicy', apiVersion: 'security.istio.io/v1' },
    ]);

    const one = await getJson(`${server.url}/api/v1/namespaces/default/pods/b`);
    expect(one.body.metadata).toMatchObject({ name: 'b', uid: first.metadata.uid });
  });

  it('keeps uid and creationTimestamp across updates and bumps the resourceVersion on every change', () => {
    const created = server.apply(pod('a'));
    const updated = server.apply(pod('a', 'default', { version: 'v2' }));
    expect(updated.metadata).toMatchObject({
      uid: created.metadata.uid,
      creationTimestamp: created.metadata.creationTimestamp,
      labels: { version: 'v2' },
    });
    expect(Number(updated.metadata.resourceVersion)).toBeGreaterThan(
      Number(created.metadata.resourceVersion),
    );
    expect(String(created.metadata.creationTimestamp)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(server.remove('Pod', 'default', 'a')).toBe(true);
    expect(server.remove('Pod', 'default', 'a')).toBe(false);
  });

  it('streams ADDED, MODIFIED and DELETED events in order, with TypeMeta and their resourceVersions', async () => {
    server.apply(pod('before'));
    const list = await getList(`${server.url}/api/v1/pods`);
    const stream = await watch(
      `/api/v1/pods?watch=true&resourceVersion=${list.body.metadata.resourceVersion}`,
    );

    const added = server.apply(pod('a'));
    server.apply(policy); // another kind: not on this stream
    const modified = server.apply(pod('a', 'default', { v: '2' }));
    server.remove('Pod', 'default', 'a');

    const events = [await stream.next(), await stream.next(), await stream.next()];
    expect(events.map((event) => [event?.type, event?.object.kind, event?.object.apiVersion])).toEqual([
      ['ADDED', 'Pod', 'v1'],
      ['MODIFIED', 'Pod', 'v1'],
      ['DELETED', 'Pod', 'v1'],
    ]);
    expect(events.map((event) => event?.object.metadata?.resourceVersion)).toEqual([
      added.metadata.resourceVersion,
      modified.metadata.resourceVersion,
      String(server.resourceVersion),
    ]);
  });

  it('replays the changes after a resourceVersion, and the current state as ADDED without one', async () => {
    const a = server.apply(pod('a'));
    server.apply(pod('b'));
    server.apply(pod('a', 'default', { v: '2' }));

    const resumed = await watch(
      `/api/v1/pods?watch=true&resourceVersion=${String(a.metadata.resourceVersion)}`,
    );
    expect((await resumed.next())?.type).toBe('ADDED');
    expect((await resumed.next())?.type).toBe('MODIFIED');

    const fresh = await watch('/api/v1/namespaces/default/pods?watch=1');
    const names = [await fresh.next(), await fresh.next()].map((e) => [e?.type, e?.object.metadata?.name]);
    expect(names).toEqual([
      ['ADDED', 'a'],
      ['ADDED', 'b'],
    ]);
  });

  it('answers a watch from before the compacted revision with a 410 Expired ERROR event, then ends it', async () => {
    const old = server.apply(pod('a'));
    server.apply(pod('b'));
    server.compact();

    const stream = await watch(
      `/api/v1/pods?watch=true&resourceVersion=${String(old.metadata.resourceVersion)}`,
    );
    const event = await stream.next();
    expect(event?.type).toBe('ERROR');
    expect(event?.object).toMatchObject({ kind: 'Status', apiVersion: 'v1', code: 410, reason: 'Expired' });
    expect(await stream.next()).toBeUndefined();
    expect(server.requests.at(-1)).toMatchObject({ watch: true, status: 200, expired: true });

    // From the compacted revision itself nothing is missing: the watch stays open.
    const current = await watch(`/api/v1/pods?watch=true&resourceVersion=${String(server.resourceVersion)}`);
    server.apply(pod('c'));
    expect((await current.next())?.object.metadata?.name).toBe('c');
  });

  it('compacts by itself past its history limit', async () => {
    const small = await KubeApiServer.start({ host: '127.0.40.2', historyLimit: 2 });
    try {
      const a = small.apply(pod('a'));
      const b = small.apply(pod('b'));
      small.apply(pod('c'));
      small.apply(pod('d')); // keeps c and d: changes after a are gone, after b complete
      const expired = await WatchReader.open(
        `${small.url}/api/v1/pods?watch=true&resourceVersion=${String(a.metadata.resourceVersion)}`,
      );
      readers.push(expired);
      expect((await expired.next())?.object.code).toBe(410);
      const resumed = await WatchReader.open(
        `${small.url}/api/v1/pods?watch=true&resourceVersion=${String(b.metadata.resourceVersion)}`,
      );
      readers.push(resumed);
      expect((await resumed.next())?.object.metadata?.name).toBe('c');
    } finally {
      await small.close();
    }
  });

  it('answers unknown resources and missing objects with a 404 Status', async () => {
    const unknown = await getJson(`${server.url}/apis/example.com/v1/widgets`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 });
    const missing = await getJson(`${server.url}/api/v1/namespaces/default/pods/nope`);
    expect(missing.status).toBe(404);
    expect((await fetch(`${server.url}/api/v1/namespaces/default/namespaces`)).status).toBe(404);
    expect(() =>
      server.apply({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }),
    ).toThrow();
  });

  it('serves a resource once it is installed', async () => {
    const widget = {
      group: 'example.com',
      version: 'v1',
      kind: 'Widget',
      plural: 'widgets',
      namespaced: true,
    };
    server.serve(widget);
    server.apply({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', namespace: 'x' } });
    const list = await getList(`${server.url}/apis/example.com/v1/widgets`);
    expect(list.body.items).toHaveLength(1);
  });

  it('drops open watches cleanly or abruptly', async () => {
    const first = await watch('/api/v1/pods?watch=true');
    const second = await watch('/api/v1/namespaces/default/pods?watch=true');
    expect(server.openWatchCount).toBe(2);
    server.closeWatches();
    expect(server.openWatchCount).toBe(0);
    expect(await first.next()).toBeUndefined();
    expect(await second.next()).toBeUndefined();

    const third = await watch('/api/v1/pods?watch=true');
    server.closeWatches({ abrupt: true });
    await expect(third.next()).rejects.toThrow();
  });

  it('sends BOOKMARK events only to watches that allowed them', async () => {
    const withBookmarks = await watch('/api/v1/pods?watch=true&resourceVersion=0&allowWatchBookmarks=true');
    const without = await watch('/api/v1/pods?watch=true&resourceVersion=0');
    server.apply(policy);
    server.bookmark();
    server.apply(pod('a'));
    const bookmark = await withBookmarks.next();
    expect(bookmark).toMatchObject({
      type: 'BOOKMARK',
      object: {
        kind: 'Pod',
        apiVersion: 'v1',
        metadata: { resourceVersion: String(server.resourceVersion - 1) },
      },
    });
    expect((await without.next())?.type).toBe('ADDED');
  });

  it('ends a watch after timeoutSeconds', async () => {
    const stream = await watch('/api/v1/pods?watch=true&timeoutSeconds=1');
    expect(await stream.next()).toBeUndefined();
  });

  it('requires the bearer token when it has one', async () => {
    const guarded = await KubeApiServer.start({ host: '127.0.40.3', token: 's3cret' });
    try {
      const denied = await fetch(`${guarded.url}/api/v1/pods`);
      expect(denied.status).toBe(401);
      expect(await denied.json()).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
      const allowed = await fetch(`${guarded.url}/api/v1/pods`, {
        headers: { authorization: 'Bearer s3cret' },
      });
      expect(allowed.status).toBe(200);
      await allowed.body?.cancel();
    } finally {
      await guarded.close();
    }
  });

  it('refuses writes over HTTP and bad resourceVersions', async () => {
    expect((await fetch(`${server.url}/api/v1/pods`, { method: 'POST', body: '{}' })).status).toBe(405);
    expect((await fetch(`${server.url}/api/v1/pods?watch=true&resourceVersion=abc`)).status).toBe(400);
  });
});
