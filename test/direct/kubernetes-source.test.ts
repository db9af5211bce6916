import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, ErrorCode, isMeshError } from '@ambient/core';
import { KubernetesSource, kubeConfigForServer, kubeConfigFromEnvironment } from '@ambient/control-plane';
import {
  DEFAULT_KUBE_RESOURCES,
  KubeApiServer,
  type KubeApiObject,
  type KubeApiServerOptions,
} from '@ambient/testing';
import { eventually, LogCapture } from './harness.js';

// Addresses of this file: stand-in API servers on 127.0.41.x.
const TOKEN = 'control-plane-token';

type OnChange = Parameters<KubernetesSource['start']>[0];
type SourceObject = Parameters<OnChange>[0][number];

/** Every set the source delivered, in order. */
class Deliveries {
  readonly sets: (readonly SourceObject[])[] = [];
  readonly onChange: OnChange = (objects, problems) => {
    expect(problems).toEqual([]);
    this.sets.push(objects);
  };

  /** `Kind namespace/name` of each object in the latest set. */
  latest(): string[] {
    return (this.sets.at(-1) ?? []).map(({ object }) => describeObject(object));
  }

  latestObject(kind: string, name: string): SourceObject['object'] | undefined {
    return this.sets.at(-1)?.find(({ object }) => object.kind === kind && object.metadata.name === name)
      ?.object;
  }
}

function describeObject(object: { kind: string; metadata: { namespace?: string; name?: string } }): string {
  const namespace = object.metadata.namespace === undefined ? '' : `${object.metadata.namespace}/`;
  return `${object.kind} ${namespace}${object.metadata.name ?? ''}`;
}

function pod(name: string, labels: Record<string, string> = {}): KubeApiObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'apps', labels: { app: name, ...labels } },
    spec: { nodeName: 'node-a', serviceAccountName: name },
    status: { phase: 'Running', podIP: '10.0.0.1' },
  };
}

/** One object of every watched kind. */
const EVERY_KIND: readonly KubeApiObject[] = [
  {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'apps', labels: { 'istio.io/dataplane-mode': 'ambient' } },
  },
  pod('a'),
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'echo', namespace: 'apps' },
    spec: { ports: [{ port: 80 }] },
  },
  {
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name: 'external', namespace: 'apps' },
    spec: { hosts: ['example.com'] },
  },
  {
    apiVersion: 'networking.istio.io/v1',
    kind: 'WorkloadEntry',
    metadata: { name: 'vm', namespace: 'apps' },
    spec: { address: '10.0.0.9' },
  },
  {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'allow-nothing', namespace: 'apps' },
    spec: {},
  },
  {
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name: 'strict', namespace: 'apps' },
    spec: { mtls: { mode: 'STRICT' } },
  },
  {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'waypoint', namespace: 'apps' },
    spec: { gatewayClassName: 'istio-waypoint', listeners: [] },
  },
];

/** A port that was just free: nothing listens there. */
async function unusedPort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const GATEWAYS = DEFAULT_KUBE_RESOURCES.find((resource) => resource.plural === 'gateways');

describe('KubernetesSource against the stand-in API server', () => {
  const cleanups: (() => Promise<void>)[] = [];

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function apiServer(host: string, options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
    const server = await KubeApiServer.start({ host, token: TOKEN, ...options });
    cleanups.push(() => server.close());
    return server;
  }

  function source(
    server: KubeApiServer,
    logs: LogCapture,
    options: { token?: string; debounceMs?: number } = {},
  ): KubernetesSource {
    const created = new KubernetesSource({
      kubeConfig: kubeConfigForServer(server.url, { token: options.token ?? TOKEN }),
      logger: createLogger({ level: 'debug', destination: logs }),
      debounceMs: options.debounceMs ?? 20,
      retryInitialMs: 50,
      retryMaxMs: 200,
      missingKindRetryMs: 100,
    });
    cleanups.push(() => created.close());
    return created;
  }

  function lists(server: KubeApiServer, path: string): number {
    return server.requests.filter((request) => !request.watch && request.path === path).length;
  }

  it('lists every kind with the bearer token, then delivers the complete set once', async () => {
    const server = await apiServer('127.0.41.1');
    for (const object of EVERY_KIND) server.apply(object);
    const deliveries = new Deliveries();

    await source(server, new LogCapture()).start(deliveries.onChange);

    expect(deliveries.sets).toHaveLength(1);
    expect(deliveries.latest()).toEqual(EVERY_KIND.map(describeObject));
    for (const { origin, object } of deliveries.sets[0] ?? []) {
      expect(origin).toBe('kubernetes');
      // The API server leaves TypeMeta off list items of built-in kinds; the source puts it back.
      expect(typeof object.apiVersion).toBe('string');
    }
    expect(deliveries.latestObject('Pod', 'a')?.apiVersion).toBe('v1');
    expect(server.requests.every((request) => request.status === 200)).toBe(true);
    const watches = server.requests.filter((request) => request.watch);
    expect(watches.length).toBeGreaterThanOrEqual(EVERY_KIND.length);
    expect(watches.every((request) => request.query.allowWatchBookmarks === 'true')).toBe(true);
  });

  it('delivers every add, modification and delete as the complete set', async () => {
    const server = await apiServer('127.0.41.2');
    for (const object of EVERY_KIND) server.apply(object);
    const deliveries = new Deliveries();
    await source(server, new LogCapture()).start(deliveries.onChange);

    server.apply(pod('b'));
    await eventually(() => {
      expect(deliveries.latest()).toContain('Pod apps/b');
    });

    server.apply(pod('a', { version: 'v2' }));
    await eventually(() => {
      expect(deliveries.latestObject('Pod', 'a')?.metadata.labels).toEqual({ app: 'a', version: 'v2' });
    });

    server.remove('AuthorizationPolicy', 'apps', 'allow-nothing');
    await eventually(() => {
      expect(deliveries.latest()).not.toContain('AuthorizationPolicy apps/allow-nothing');
    });
    expect(deliveries.latest()).toContain('Pod apps/b');
    expect(deliveries.latest()).toHaveLength(EVERY_KIND.length);
  });

  it('coalesces a burst of changes within the debounce window', async () => {
    const server = await apiServer('127.0.41.3');
    const deliveries = new Deliveries();
    await source(server, new LogCapture(), { debounceMs: 300 }).start(deliveries.onChange);
    const burst = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8'];
    for (const name of burst) server.apply(pod(name));
    await eventually(() => {
      expect(deliveries.latest()).toHaveLength(burst.length);
    });
    // The initial set plus far fewer deliveries than changes.
    expect(deliveries.sets.length - 1).toBeLessThan(burst.length / 2);
  });

  it('resumes dropped watches from the last resourceVersion, keeping what it knows', async () => {
    const server = await apiServer('127.0.41.4');
    for (const object of EVERY_KIND) server.apply(object);
    const deliveries = new Deliveries();
    const logs = new LogCapture();
    await source(server, logs).start(deliveries.onChange);
    await eventually(() => {
      expect(server.openWatchCount).toBe(EVERY_KIND.length);
    });
    const podLists = lists(server, '/api/v1/pods');
    const lastSeen = String(server.resourceVersion);

    // Dropped the way the API server ends a watch; the change happens before anyone can reconnect.
    server.closeWatches();
    server.apply(pod('c'));
    await eventually(() => {
      expect(deliveries.latest()).toContain('Pod apps/c');
    });
    const resumed = server.requests
      .filter((request) => request.path === '/api/v1/pods' && request.watch)
      .at(-1);
    expect(resumed?.query.resourceVersion).toBe(lastSeen);
    expect(resumed?.expired).toBe(false);

    // Dropped the way a network failure does: client-node gives up, the source restarts it.
    await eventually(() => {
      expect(server.openWatchCount).toBe(EVERY_KIND.length);
    });
    server.closeWatches({ abrupt: true });
    server.apply(pod('d'));
    await eventually(() => {
      expect(deliveries.latest()).toContain('Pod apps/d');
    });
    const failures = logs.withMessage('kubernetes list/watch failed; last known objects kept, retrying');
    expect(failures).toContainEqual(
      expect.objectContaining({ level: 'warn', kind: 'Pod', reason: expect.any(String) as unknown }),
    );

    expect(lists(server, '/api/v1/pods')).toBe(podLists);
    expect(deliveries.latest()).toEqual(expect.arrayContaining(EVERY_KIND.map(describeObject)));
    await eventually(() => {
      expect(server.openWatchCount).toBe(EVERY_KIND.length);
    });
  });

  it('relists after 410 Gone: what was deleted while disconnected disappears, the rest stays', async () => {
    const server = await apiServer('127.0.41.5');
    for (const object of EVERY_KIND) server.apply(object);
    server.apply(pod('b'));
    const deliveries = new Deliveries();
    await source(server, new LogCapture()).start(deliveries.onChange);
    await eventually(() => {
      expect(server.openWatchCount).toBe(EVERY_KIND.length);
    });
    const podLists = lists(server, '/api/v1/pods');

    // All at once, so nothing reconnects in between: the history the watches would resume from is gone.
    server.closeWatches();
    server.remove('Pod', 'apps', 'b');
    server.apply(pod('e'));
    server.compact();

    await eventually(() => {
      expect(deliveries.latest()).toContain('Pod apps/e');
      expect(deliveries.latest()).not.toContain('Pod apps/b');
    });
    expect(server.requests.some((request) => request.path === '/api/v1/pods' && request.expired)).toBe(true);
    expect(lists(server, '/api/v1/pods')).toBe(podLists + 1);
    expect(deliveries.latest()).toEqual(expect.arrayContaining(EVERY_KIND.map(describeObject)));
    // Watching again from the relist's resourceVersion.
    await eventually(() => {
      expect(server.openWatchCount).toBe(EVERY_KIND.length);
    });
    server.apply(pod('f'));
    await eventually(() => {
      expect(deliveries.latest()).toContain('Pod apps/f');
    });
  });

  it('treats a kind whose CRD is missing (404) as empty, says so once, and picks it up once installed', async () => {
    if (GATEWAYS === undefined) throw new Error('the stand-in lost its Gateway resource');
    const server = await apiServer('127.0.41.6', {
      resources: DEFAULT_KUBE_RESOURCES.filter((resource) => resource !== GATEWAYS),
    });
    const withoutGateway = EVERY_KIND.filter((object) => object.kind !== 'Gateway');
    for (const object of withoutGateway) server.apply(object);
    const deliveries = new Deliveries();
    const logs = new LogCapture();
    await source(server, logs).start(deliveries.onChange);

    expect(deliveries.latest()).toEqual(withoutGateway.map(describeObject));
    const gatewayPath = '/apis/gateway.networking.k8s.io/v1/gateways';
    await eventually(() => {
      const missing = server.requests.filter(
        (request) => request.path === gatewayPath && request.status === 404,
      );
      expect(missing.length).toBeGreaterThanOrEqual(3);
    });
    const notServed = logs.withMessage(
      'kubernetes API for this kind not served (CRD not installed?); treated as empty',
    );
    expect(notServed).toHaveLength(1);
    expect(notServed[0]).toMatchObject({ kind: 'Gateway.gateway.networking.k8s.io/v1', level: 'warn' });

    server.apply(pod('b'));
    await eventually(() => {
      expect(deliveries.latest()).toContain('Pod apps/b');
    });

    server.serve(GATEWAYS);
    const gateway = EVERY_KIND.find((object) => object.kind === 'Gateway');
    if (gateway !== undefined) server.apply(gateway);
    await eventually(() => {
      expect(deliveries.latest()).toContain('Gateway apps/waypoint');
    });
  });

  it('fails to start, with MESH_ERR_KUBE_API_FAILED and nothing left running, when it cannot list', async () => {
    const server = await apiServer('127.0.41.7');
    const deliveries = new Deliveries();
    const refused = source(server, new LogCapture(), { token: 'wrong' });
    const error: unknown = await refused.start(deliveries.onChange).catch((err: unknown) => err);
    expect(isMeshError(error, ErrorCode.KubeApiFailed)).toBe(true);
    expect(String(error)).toContain('HTTP 401');
    expect(deliveries.sets).toHaveLength(0);
    expect(server.openWatchCount).toBe(0);

    const closedPort = await unusedPort('127.0.41.7');
    const unreachable = new KubernetesSource({
      kubeConfig: kubeConfigForServer(`http://127.0.41.7:${String(closedPort)}`),
      logger: createLogger({ level: 'silent' }),
    });
    const unreachableError: unknown = await unreachable
      .start(deliveries.onChange)
      .catch((err: unknown) => err);
    expect(isMeshError(unreachableError, ErrorCode.KubeApiFailed)).toBe(true);
    expect((unreachableError as Error).message).toContain('ECONNREFUSED');
  });

  it('stops everything on close(): no more deliveries, requests or open watches', async () => {
    const server = await apiServer('127.0.41.8');
    for (const object of EVERY_KIND) server.apply(object);
    const deliveries = new Deliveries();
    const closing = source(server, new LogCapture());
    await closing.start(deliveries.onChange);
    await eventually(() => {
      expect(server.openWatchCount).toBe(EVERY_KIND.length);
    });

    server.apply(pod('b')); // possibly in flight while closing: must not be delivered after close
    await closing.close();
    const delivered = deliveries.sets.length;
    const requests = server.requests.length;
    await eventually(() => {
      expect(server.openWatchCount).toBe(0);
    });

    server.apply(pod('c'));
    server.closeWatches();
    // Longer than the debounce window and the retry delays: anything still running would show.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(deliveries.sets).toHaveLength(delivered);
    expect(server.requests).toHaveLength(requests);
    expect(server.openWatchCount).toBe(0);
  });

  it('closes cleanly while client-node waits to reconnect a watch', async () => {
    const server = await apiServer('127.0.41.10');
    const logs = new LogCapture();
    const waiting = source(server, logs);
    await waiting.start(new Deliveries().onChange);
    await eventually(() => {
      expect(server.openWatchCount).toBe(EVERY_KIND.length);
    });
    // The first reconnect is immediate; a second one without events in between waits (1 s).
    server.closeWatches();
    await eventually(() => {
      expect(server.openWatchCount).toBe(EVERY_KIND.length);
    });
    const connecting = (): number => logs.withMessage('kubernetes watch connecting').length;
    const before = connecting();
    server.closeWatches();
    // Every kind noticed the drop and is waiting to reconnect.
    await eventually(() => {
      expect(connecting()).toBe(before + EVERY_KIND.length);
    });
    await waiting.close();
    const requests = server.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(server.requests).toHaveLength(requests);
    expect(server.openWatchCount).toBe(0);
  });

  it('closes cleanly while a watch is failing and being retried', async () => {
    const server = await apiServer('127.0.41.9');
    const deliveries = new Deliveries();
    const logs = new LogCapture();
    const failing = source(server, logs);
    await failing.start(deliveries.onChange);
    await eventually(() => {
      expect(server.openWatchCount).toBe(EVERY_KIND.length);
    });
    server.closeWatches({ abrupt: true });
    await failing.close();
    const requests = server.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(server.requests).toHaveLength(requests);
    expect(server.openWatchCount).toBe(0);
  });
});

describe('kubeConfigFromEnvironment', () => {
  const saved = { ...process.env };
  let dir: string | undefined;

  afterEach(async () => {
    for (const name of ['KUBECONFIG', 'KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT']) {
      if (saved[name] === undefined) Reflect.deleteProperty(process.env, name);
      else process.env[name] = saved[name];
    }
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('reads KUBECONFIG outside a cluster', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubeconfig-'));
    const path = join(dir, 'config');
    await writeFile(
      path,
      `apiVersion: v1
kind: Config
clusters: [{ name: test, cluster: { server: 'https://127.0.41.20:6443' } }]
users: [{ name: test, user: { token: abc } }]
contexts: [{ name: test, context: { cluster: test, user: test } }]
current-context: test
`,
    );
    Reflect.deleteProperty(process.env, 'KUBERNETES_SERVICE_HOST');
    process.env.KUBECONFIG = path;
    expect(kubeConfigFromEnvironment().getCurrentCluster()?.server).toBe('https://127.0.41.20:6443');
  });

  it('uses the in-cluster service account when KUBERNETES_SERVICE_HOST is set', () => {
    process.env.KUBERNETES_SERVICE_HOST = '127.0.41.21';
    process.env.KUBERNETES_SERVICE_PORT = '6443';
    process.env.KUBECONFIG = '/nonexistent/kubeconfig';
    const kubeConfig = kubeConfigFromEnvironment();
    expect(kubeConfig.getCurrentCluster()?.server).toBe('https://127.0.41.21:6443');
    expect(kubeConfig.getCurrentUser()?.authProvider).toMatchObject({ name: 'tokenFile' });
  });
});
