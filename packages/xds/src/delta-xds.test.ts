import { Server, ServerCredentials, credentials, Metadata, status, type StatusObject } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '@ambient/core';
import type { discovery } from '@ambient/protos';
import { DeltaXdsClient, type DeltaXdsClientOptions } from './client.js';
import { ztunnelNode } from './node.js';
import { DeltaXdsServer, type DeltaXdsServerOptions } from './server.js';
import {
  createDeltaAdsClient,
  DELTA_ADS_SERVICE,
  type ClientDeltaStream,
  type ServerDeltaStream,
} from './service-definition.js';
import { JsonHandler, jsonResources } from './test-handler.js';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from './type-urls.js';
import { resourceVersion } from './versions.js';

const HOST = '127.0.40.1';
const logger = createLogger({ level: 'silent' });
/** Generous: only a broken implementation waits this long. */
const WAIT = { timeout: 20_000, interval: 5 };
const NODE = ztunnelNode({ instanceIp: '10.0.0.7', podName: 'ztunnel-a', podNamespace: 'istio-system' });

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface RunningServer {
  readonly xds: DeltaXdsServer;
  readonly port: number;
  readonly registry: Registry;
  /** Ends every stream (xds.close) and shuts the gRPC server down. */
  stop(): Promise<void>;
}

function bindInsecure(server: Server, port = 0): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.bindAsync(`${HOST}:${String(port)}`, ServerCredentials.createInsecure(), (err, bound) => {
      if (err === null) resolve(bound);
      else reject(err);
    });
  });
}

interface ServerSetup {
  readonly port?: number;
  readonly options?: Partial<DeltaXdsServerOptions>;
  /** Sets given before the server listens; both test types default to empty. */
  readonly seed?: Readonly<Record<string, ReadonlyMap<string, Uint8Array> | undefined>>;
}

async function startServer(setup: ServerSetup = {}): Promise<RunningServer> {
  const registry = new Registry();
  const xds = new DeltaXdsServer({ logger, registry, ...setup.options });
  const seed: Record<string, ReadonlyMap<string, Uint8Array> | undefined> = {
    [ADDRESS_TYPE_URL]: new Map(),
    [AUTHORIZATION_TYPE_URL]: new Map(),
    ...setup.seed,
  };
  for (const [typeUrl, resources] of Object.entries(seed)) {
    if (resources !== undefined) xds.setResources(typeUrl, resources);
  }
  const grpcServer = new Server();
  xds.addTo(grpcServer);
  const bound = await bindInsecure(grpcServer, setup.port ?? 0);
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= new Promise<void>((resolve) => {
      xds.close();
      grpcServer.tryShutdown(() => {
        resolve();
      });
    });
    return stopped;
  };
  cleanups.push(stop);
  return { xds, port: bound, registry, stop };
}

interface RunningClient {
  readonly client: DeltaXdsClient;
  readonly registry: Registry;
  readonly addresses: JsonHandler;
  readonly authorizations: JsonHandler;
}

function startClient(port: number, options: Partial<DeltaXdsClientOptions> = {}): RunningClient {
  const registry = new Registry();
  const addresses = new JsonHandler(ADDRESS_TYPE_URL);
  const authorizations = new JsonHandler(AUTHORIZATION_TYPE_URL);
  const client = new DeltaXdsClient({
    address: `${HOST}:${String(port)}`,
    credentials: credentials.createInsecure(),
    node: NODE,
    handlers: [addresses, authorizations],
    logger,
    registry,
    ...options,
  });
  client.start();
  cleanups.push(() => client.close());
  return { client, registry, addresses, authorizations };
}

async function counterValue(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  const match = values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return match?.value ?? 0;
}

/** A bare DeltaAggregatedResources stream, for what the client class never sends. */
class RawStream {
  private readonly received: discovery.DeltaDiscoveryResponse[] = [];
  private readonly waiting: ((response: discovery.DeltaDiscoveryResponse) => void)[] = [];
  readonly call: ClientDeltaStream;
  readonly ended: Promise<StatusObject>;

  constructor(port: number, metadata = new Metadata()) {
    const client = createDeltaAdsClient(`${HOST}:${String(port)}`, credentials.createInsecure(), {});
    this.call = client.deltaAggregatedResources(metadata);
    this.call.on('data', (response: discovery.DeltaDiscoveryResponse) => {
      const waiter = this.waiting.shift();
      if (waiter === undefined) this.received.push(response);
      else waiter(response);
    });
    this.call.on('error', () => undefined);
    this.ended = new Promise((resolve) => this.call.on('status', resolve));
    cleanups.push(async () => {
      this.call.cancel();
      await this.ended;
      client.close();
    });
  }

  send(request: Partial<discovery.DeltaDiscoveryRequest> & { typeUrl: string }): void {
    this.call.write({
      resourceNamesSubscribe: [],
      resourceNamesUnsubscribe: [],
      initialResourceVersions: {},
      responseNonce: '',
      ...request,
    });
  }

  next(): Promise<discovery.DeltaDiscoveryResponse> {
    const ready = this.received.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Receives a response and ACKs it, as a well-behaved client would. */
  async nextAcked(): Promise<discovery.DeltaDiscoveryResponse> {
    const response = await this.next();
    this.send({ typeUrl: response.typeUrl, responseNonce: response.nonce });
    return response;
  }
}

const names = (response: discovery.DeltaDiscoveryResponse): string[] =>
  response.resources.map((r) => r.name).sort();

function manyAddresses(count: number, generation = 1): Record<string, unknown> {
  return Object.fromEntries(
    Array.from({ length: count }, (_, i) => [`uid-${String(i)}`, { ip: `10.1.0.${String(i)}`, generation }]),
  );
}

describe('Delta ADS over loopback gRPC', () => {
  it('syncs every resource of both types, ACKs them, and reports ready', async () => {
    const server = await startServer({
      seed: {
        [ADDRESS_TYPE_URL]: jsonResources(manyAddresses(50)),
        [AUTHORIZATION_TYPE_URL]: jsonResources({ 'ns/deny-all': { action: 'DENY' } }),
      },
    });
    const { client, addresses, authorizations, registry } = startClient(server.port);

    await client.ready;
    expect(addresses.state.size).toBe(50);
    expect(addresses.state.get('uid-7')).toEqual({ ip: '10.1.0.7', generation: 1 });
    expect(addresses.updates).toHaveLength(1);
    expect(addresses.updates[0]?.initial).toBe(true);
    expect(authorizations.state.get('ns/deny-all')).toEqual({ action: 'DENY' });

    await vi.waitFor(() => {
      const [connection] = server.xds.connections();
      expect(connection?.nodeId).toBe(
        'ztunnel~10.0.0.7~ztunnel-a.istio-system~istio-system.svc.cluster.local',
      );
      for (const type of connection?.types ?? []) {
        expect(type.wildcard).toBe(true);
        expect(type.lastAckedNonce).toBe(type.lastSentNonce);
      }
      expect(connection?.types.map((t) => [t.typeUrl, t.resourcesHeld])).toEqual([
        [ADDRESS_TYPE_URL, 50],
        [AUTHORIZATION_TYPE_URL, 1],
      ]);
    }, WAIT);
    const status = client.status();
    expect(status.connected).toBe(true);
    expect(status.types).toEqual([
      expect.objectContaining({
        typeUrl: ADDRESS_TYPE_URL,
        resourceCount: 50,
        synced: true,
        lastNack: undefined,
      }),
      expect.objectContaining({ typeUrl: AUTHORIZATION_TYPE_URL, resourceCount: 1, synced: true }),
    ]);
    expect(await counterValue(server.registry, 'pilot_xds_pushes', { type: 'wds' })).toBe(1);
    expect(await counterValue(server.registry, 'pilot_xds_pushes', { type: 'wads' })).toBe(1);
    expect(await counterValue(server.registry, 'pilot_xds', {})).toBe(1);
    expect(await counterValue(registry, 'istio_xds_message_total', { url: ADDRESS_TYPE_URL })).toBe(1);
  });

  it('answers an empty type with an empty response, so that the client becomes ready', async () => {
    const server = await startServer();
    const { client, addresses, authorizations } = startClient(server.port);
    await client.ready;
    expect(addresses.updates).toEqual([{ upserts: new Map(), removals: [], initial: true }]);
    expect(authorizations.updates).toHaveLength(1);
  });

  it('does not answer a type before it has been given a set, and is ready only once both types are ACKed', async () => {
    const server = await startServer({
      seed: { [ADDRESS_TYPE_URL]: jsonResources({ a: 1 }), [AUTHORIZATION_TYPE_URL]: undefined },
    });
    const { client, addresses, authorizations } = startClient(server.port);
    let ready = false;
    void client.ready.then(() => {
      ready = true;
    });
    await vi.waitFor(() => {
      const types = server.xds.connections()[0]?.types ?? [];
      expect(types.map((t) => t.typeUrl)).toEqual([ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL]);
      expect(types[0]?.lastAckedNonce).toBe(types[0]?.lastSentNonce);
      expect(types[1]?.lastSentNonce).toBeUndefined();
    }, WAIT);
    expect(addresses.state.get('a')).toBe(1);
    expect(authorizations.updates).toEqual([]);
    expect(ready).toBe(false);

    server.xds.setResources(AUTHORIZATION_TYPE_URL, new Map());
    await client.ready;
    expect(authorizations.updates).toEqual([{ upserts: new Map(), removals: [], initial: true }]);
  });

  it('pushes only what changed: additions, changes and removals, one push per change', async () => {
    const server = await startServer({ seed: { [ADDRESS_TYPE_URL]: jsonResources({ a: 1, b: 1, c: 1 }) } });
    const { client, addresses } = startClient(server.port);
    await client.ready;

    server.xds.setResources(ADDRESS_TYPE_URL, jsonResources({ a: 1, b: 2, d: 1 }));
    await vi.waitFor(() => {
      expect(addresses.updates).toHaveLength(2);
    }, WAIT);
    const update = addresses.updates[1];
    expect(update?.initial).toBe(false);
    expect(Object.fromEntries(update?.upserts ?? [])).toEqual({ b: 2, d: 1 });
    expect(update?.removals).toEqual(['c']);
    expect(Object.fromEntries(addresses.state)).toEqual({ a: 1, b: 2, d: 1 });

    // The same set again changes nothing, so nothing is sent; the next real change is the next push.
    server.xds.setResources(ADDRESS_TYPE_URL, jsonResources({ a: 1, b: 2, d: 1 }));
    server.xds.setResources(ADDRESS_TYPE_URL, jsonResources({ a: 1, b: 2, d: 1, e: 1 }));
    await vi.waitFor(() => {
      expect(addresses.updates).toHaveLength(3);
    }, WAIT);
    expect([...(addresses.updates[2]?.upserts.keys() ?? [])]).toEqual(['e']);
    expect(await counterValue(server.registry, 'pilot_xds_pushes', { type: 'wds' })).toBe(3);
  });

  it('NACKs a bad resource by name, applies the rest, and the server sees the NACK', async () => {
    const good = jsonResources({ a: 1, b: 1 });
    good.set('broken', Buffer.from('{not json'));
    const server = await startServer({ seed: { [ADDRESS_TYPE_URL]: good } });
    const { client, addresses } = startClient(server.port);

    await vi.waitFor(() => {
      const nack = server.xds.connections()[0]?.types.find((t) => t.typeUrl === ADDRESS_TYPE_URL)?.lastNack;
      expect(nack?.code).toBe(3);
      expect(nack?.message).toMatch(/^broken: /);
    }, WAIT);
    expect(Object.fromEntries(addresses.state)).toEqual({ a: 1, b: 1 });
    const type = client.status().types.find((t) => t.typeUrl === ADDRESS_TYPE_URL);
    expect(type?.resourceCount).toBe(2);
    expect(type?.synced).toBe(false);
    expect(type?.lastNack?.message).toMatch(/^broken: /);

    // Fixing the resource is the next push; the client ACKs it and becomes ready.
    server.xds.setResources(ADDRESS_TYPE_URL, jsonResources({ a: 1, b: 1, broken: 'fixed' }));
    await client.ready;
    expect(addresses.state.get('broken')).toBe('fixed');
  });

  it('is ready only once both types have ACKed; a handler that throws NACKs its response', async () => {
    const server = await startServer({
      seed: {
        [ADDRESS_TYPE_URL]: jsonResources({ a: 1 }),
        [AUTHORIZATION_TYPE_URL]: jsonResources({ 'ns/p': 1 }),
      },
    });
    const authorizations = new JsonHandler(AUTHORIZATION_TYPE_URL);
    authorizations.failApply = 'policy store unavailable';
    const addresses = new JsonHandler(ADDRESS_TYPE_URL);
    const { client } = startClient(server.port, { handlers: [addresses, authorizations] });
    let ready = false;
    void client.ready.then(() => {
      ready = true;
    });

    await vi.waitFor(() => {
      const nack = server.xds
        .connections()[0]
        ?.types.find((t) => t.typeUrl === AUTHORIZATION_TYPE_URL)?.lastNack;
      expect(nack?.message).toContain('policy store unavailable');
      expect(addresses.state.get('a')).toBe(1);
    }, WAIT);
    // Addresses are ACKed and applied, but a rejected Authorization response holds readiness back.
    await vi.waitFor(() => {
      const type = server.xds.connections()[0]?.types.find((t) => t.typeUrl === ADDRESS_TYPE_URL);
      expect(type?.lastAckedNonce).toBe(type?.lastSentNonce);
    }, WAIT);
    await new Promise((resolve) => setImmediate(resolve));
    expect(ready).toBe(false);
    expect(client.status().types.find((t) => t.typeUrl === AUTHORIZATION_TYPE_URL)?.resourceCount).toBe(0);

    server.xds.setResources(AUTHORIZATION_TYPE_URL, jsonResources({ 'ns/p': 2 }));
    await client.ready;
    expect(authorizations.state.get('ns/p')).toBe(2);
  });

  it('survives a control-plane restart: keeps its state meanwhile, resumes from what it holds, converges', async () => {
    const first = await startServer({
      seed: {
        [ADDRESS_TYPE_URL]: jsonResources({ same: 1, changes: 1, goes: 1 }),
        [AUTHORIZATION_TYPE_URL]: jsonResources({ 'ns/p': 1 }),
      },
    });
    const { client, addresses, authorizations, registry } = startClient(first.port);
    await client.ready;

    await first.stop();
    await vi.waitFor(() => {
      expect(client.status().connected).toBe(false);
    }, WAIT);
    // The proxy keeps serving on the last good state while the control plane is away.
    expect(Object.fromEntries(addresses.state)).toEqual({ same: 1, changes: 1, goes: 1 });
    expect(
      await counterValue(registry, 'istio_xds_connection_terminations_total', { reason: 'Complete' }),
    ).toBe(1);

    const second = await startServer({
      port: first.port,
      seed: {
        [ADDRESS_TYPE_URL]: jsonResources({ same: 1, changes: 2, arrives: 1 }),
        [AUTHORIZATION_TYPE_URL]: jsonResources({ 'ns/p': 1 }),
      },
    });
    await vi.waitFor(() => {
      expect(Object.fromEntries(addresses.state)).toEqual({ same: 1, changes: 2, arrives: 1 });
      expect(second.xds.connections()[0]?.types.every((t) => t.lastAckedNonce === t.lastSentNonce)).toBe(
        true,
      );
    }, WAIT);
    // The resumed stream carried only the difference: unchanged resources were not sent again.
    const resumed = addresses.updates.at(-1);
    expect(resumed?.initial).toBe(false);
    expect([...(resumed?.upserts.keys() ?? [])].sort()).toEqual(['arrives', 'changes']);
    expect(resumed?.removals).toEqual(['goes']);
    const resumedPolicies = authorizations.updates.at(-1);
    expect(resumedPolicies?.upserts.size).toBe(0);
    expect(resumedPolicies?.removals).toEqual([]);
    expect(client.status().connected).toBe(true);
  });

  it('retries with backoff while the server refuses its token, then connects', async () => {
    let attempts = 0;
    const server = await startServer({
      seed: { [ADDRESS_TYPE_URL]: jsonResources({ a: 1 }) },
      options: {
        authenticate: (metadata) => {
          attempts++;
          const [authorization] = metadata.get('authorization');
          return Promise.resolve(
            authorization === 'Bearer good' ? { ok: true } : { ok: false, message: 'the token is not valid' },
          );
        },
      },
    });
    const raw = new RawStream(server.port);
    raw.send({ typeUrl: ADDRESS_TYPE_URL });
    const refused = await raw.ended;
    expect(refused.code).toBe(status.UNAUTHENTICATED);
    expect(refused.details).toBe('the token is not valid');

    let token = 'bad';
    const { client, registry, addresses } = startClient(server.port, {
      metadata: () => ({ authorization: `Bearer ${token}`, clusterid: 'Kubernetes' }),
    });
    await vi.waitFor(async () => {
      expect(attempts).toBeGreaterThanOrEqual(4);
      expect(
        await counterValue(registry, 'istio_xds_connection_terminations_total', { reason: 'Error' }),
      ).toBeGreaterThanOrEqual(3);
    }, WAIT);
    expect(server.xds.connections()).toEqual([]);
    expect(client.status().connected).toBe(false);

    token = 'good';
    await client.ready;
    expect(addresses.state.get('a')).toBe(1);
  });

  it('authenticates per listener: one added with authenticate: false skips the hook', async () => {
    let checked = 0;
    const server = await startServer({
      seed: { [ADDRESS_TYPE_URL]: jsonResources({ a: 1 }) },
      options: {
        authenticate: (metadata) => {
          checked++;
          const [authorization] = metadata.get('authorization');
          return Promise.resolve(
            authorization === 'Bearer good' ? { ok: true, nodeId: 'node-1' } : { ok: false, message: 'no' },
          );
        },
      },
    });
    const plaintext = new Server();
    server.xds.addTo(plaintext, { authenticate: false });
    const plaintextPort = await bindInsecure(plaintext);
    cleanups.push(() => {
      plaintext.forceShutdown();
    });

    const local = startClient(plaintextPort);
    const headers = new Metadata();
    headers.set('authorization', 'Bearer good');
    const remote = startClient(server.port, { metadata: headers });
    await Promise.all([local.client.ready, remote.client.ready]);
    expect(checked).toBe(1);
    expect(
      server.xds
        .connections()
        .map((c) => c.authenticatedNodeId)
        .sort(),
    ).toEqual(['node-1', undefined]);
  });

  it('keeps retrying while nothing listens, and connects once a server does', async () => {
    const placeholder = await startServer();
    const port = placeholder.port;
    await placeholder.stop();
    const { client, registry } = startClient(port);
    await vi.waitFor(async () => {
      expect(
        await counterValue(registry, 'istio_xds_connection_terminations_total', {
          reason: 'ConnectionError',
        }),
      ).toBeGreaterThanOrEqual(2);
    }, WAIT);
    await startServer({ port });
    await client.ready;
  });

  it('survives a server that answers bytes that are no DeltaDiscoveryResponse, and keeps retrying', async () => {
    const garbage = new Server();
    let streams = 0;
    garbage.addService(
      {
        deltaAggregatedResources: {
          ...DELTA_ADS_SERVICE.deltaAggregatedResources,
          responseSerialize: () => Buffer.from([0xff, 0xff, 0xff, 0xff]),
        },
      },
      {
        deltaAggregatedResources: (call: ServerDeltaStream) => {
          streams++;
          call.on('error', () => undefined);
          call.once('data', () => {
            call.write({
              systemVersionInfo: '',
              typeUrl: '',
              resources: [],
              removedResources: [],
              nonce: '',
            });
          });
        },
      },
    );
    const port = await bindInsecure(garbage);
    cleanups.push(() => {
      garbage.forceShutdown();
    });
    const { client, registry, addresses } = startClient(port);
    await vi.waitFor(async () => {
      expect(streams).toBeGreaterThanOrEqual(3);
      expect(
        await counterValue(registry, 'istio_xds_connection_terminations_total', { reason: 'Error' }),
      ).toBeGreaterThanOrEqual(2);
    }, WAIT);
    expect(addresses.updates).toEqual([]);
    expect(client.status().types.every((t) => !t.synced)).toBe(true);
  });

  it('serves explicitly named subscriptions: only those names, removals for missing ones', async () => {
    const server = await startServer({ seed: { [ADDRESS_TYPE_URL]: jsonResources({ a: 1, b: 1, c: 1 }) } });
    const raw = new RawStream(server.port);
    raw.send({ typeUrl: ADDRESS_TYPE_URL, node: NODE, resourceNamesSubscribe: ['a', 'missing'] });
    const first = await raw.nextAcked();
    expect(names(first)).toEqual(['a']);
    expect(first.removedResources).toEqual(['missing']);
    expect(first.resources[0]?.version).toBe(resourceVersion(Buffer.from('1')));

    // A change to an unwatched name is not pushed: the next message is the answer to `b`.
    server.xds.setResources(ADDRESS_TYPE_URL, jsonResources({ a: 1, b: 1, c: 2 }));
    raw.send({ typeUrl: ADDRESS_TYPE_URL, resourceNamesSubscribe: ['b'] });
    const second = await raw.nextAcked();
    expect(names(second)).toEqual(['b']);
    expect(second.removedResources).toEqual([]);

    raw.send({ typeUrl: ADDRESS_TYPE_URL, resourceNamesUnsubscribe: ['a'] });
    // The request crosses the wire; the change below must come after the server has read it.
    await vi.waitFor(() => {
      // `missing` stays watched: it is pushed if it ever appears.
      expect(server.xds.connections()[0]?.types[0]?.subscribedNames).toEqual(['b', 'missing']);
    }, WAIT);
    server.xds.setResources(ADDRESS_TYPE_URL, jsonResources({ a: 2, b: 2, c: 2 }));
    const third = await raw.nextAcked();
    expect(names(third)).toEqual(['b']);
    expect(third.removedResources).toEqual([]);

    await vi.waitFor(() => {
      const type = server.xds.connections()[0]?.types[0];
      expect(type).toMatchObject({ wildcard: false, subscribedNames: ['b', 'missing'], resourcesHeld: 1 });
      expect(type?.lastAckedNonce).toBe(third.nonce);
    }, WAIT);
  });

  it('subscribes to nothing on * plus un-* (on-demand), then to what is named later', async () => {
    const server = await startServer({ seed: { [ADDRESS_TYPE_URL]: jsonResources({ a: 1, b: 1 }) } });
    const raw = new RawStream(server.port);
    raw.send({ typeUrl: ADDRESS_TYPE_URL, resourceNamesSubscribe: ['*'], resourceNamesUnsubscribe: ['*'] });
    const first = await raw.nextAcked();
    expect(first.resources).toEqual([]);
    expect(first.removedResources).toEqual([]);
    raw.send({ typeUrl: ADDRESS_TYPE_URL, resourceNamesSubscribe: ['b'] });
    expect(names(await raw.nextAcked())).toEqual(['b']);
  });

  it('resumes a wildcard stream from initial_resource_versions: sends only what differs', async () => {
    const resources = jsonResources({ same: 1, changed: 2, fresh: 1 });
    const server = await startServer({ seed: { [ADDRESS_TYPE_URL]: resources } });
    const raw = new RawStream(server.port);
    raw.send({
      typeUrl: ADDRESS_TYPE_URL,
      initialResourceVersions: {
        same: resourceVersion(resources.get('same') ?? Buffer.alloc(0)),
        changed: resourceVersion(Buffer.from('1')),
        deleted: 'v0',
      },
    });
    const first = await raw.nextAcked();
    expect(names(first)).toEqual(['changed', 'fresh']);
    expect(first.removedResources).toEqual(['deleted']);
  });

  it('answers the state-of-the-world method UNIMPLEMENTED', async () => {
    const server = await startServer();
    const client = createDeltaAdsClient(`${HOST}:${String(server.port)}`, credentials.createInsecure(), {});
    cleanups.push(() => {
      client.close();
    });
    const call = client.streamAggregatedResources();
    call.on('error', () => undefined);
    const end = await new Promise<StatusObject>((resolve) => call.on('status', resolve));
    expect(end.code).toBe(status.UNIMPLEMENTED);
  });

  it('close() on either side ends the stream; the server forgets it and refuses new ones after close', async () => {
    const server = await startServer();
    const { client } = startClient(server.port);
    await client.ready;
    expect(server.xds.connections()).toHaveLength(1);
    await client.close();
    await client.close();
    await vi.waitFor(async () => {
      expect(server.xds.connections()).toEqual([]);
      expect(await counterValue(server.registry, 'pilot_xds', {})).toBe(0);
    }, WAIT);

    server.xds.close();
    server.xds.close();
    const raw = new RawStream(server.port);
    raw.send({ typeUrl: ADDRESS_TYPE_URL });
    expect((await raw.ended).code).toBe(status.UNAVAILABLE);
  });
});
