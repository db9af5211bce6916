import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One resource the stand-in serves: group (`''` is the core group), version, kind, plural and scope. */
export interface KubeResourceType {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

function core(kind: string, plural: string, namespaced: boolean): KubeResourceType {
  return { group: '', version: 'v1', kind, plural, namespaced };
}

function custom(group: string, version: string, kind: string, plural: string): KubeResourceType {
  return { group, version, kind, plural, namespaced: true };
}

/** The kinds a mesh control plane reads, as a cluster with Istio's and the Gateway API's CRDs serves them. */
export const DEFAULT_KUBE_RESOURCES: readonly KubeResourceType[] = [
  core('Namespace', 'namespaces', false),
  core('Pod', 'pods', true),
  core('Service', 'services', true),
  custom('networking.istio.io', 'v1', 'ServiceEntry', 'serviceentries'),
  custom('networking.istio.io', 'v1', 'WorkloadEntry', 'workloadentries'),
  custom('networking.istio.io', 'v1', 'VirtualService', 'virtualservices'),
  custom('networking.istio.io', 'v1', 'DestinationRule', 'destinationrules'),
  custom('security.istio.io', 'v1', 'AuthorizationPolicy', 'authorizationpolicies'),
  custom('security.istio.io', 'v1', 'PeerAuthentication', 'peerauthentications'),
  custom('security.istio.io', 'v1', 'RequestAuthentication', 'requestauthentications'),
  custom('gateway.networking.k8s.io', 'v1', 'Gateway', 'gateways'),
  custom('gateway.networking.k8s.io', 'v1', 'HTTPRoute', 'httproutes'),
];

/** What `apply` takes and what lists and watch events carry: any Kubernetes object as JSON. */
export interface KubeApiObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name?: string;
    readonly namespace?: string;
    readonly [field: string]: unknown;
  };
  readonly [field: string]: unknown;
}

/** One request the stand-in answered, for tests that check how a client talks to it. */
export interface KubeApiRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly watch: boolean;
  /** The HTTP status; a watch that was answered with a 410 `ERROR` event still has status 200. */
  status: number;
  /** True when a watch asked for a compacted resourceVersion and got the 410 `ERROR` event. */
  expired: boolean;
}

export interface KubeApiServerOptions {
  /** Loopback address to bind; default 127.0.0.1. */
  readonly host?: string;
  readonly port?: number;
  /** When set, every request must carry `Authorization: Bearer <token>` (else 401). */
  readonly token?: string;
  /** What is served; anything else is 404 (like a cluster without that CRD). Default DEFAULT_KUBE_RESOURCES. */
  readonly resources?: readonly KubeResourceType[];
  /** How many change events are kept for watches that resume; older ones are compacted. Default 1000. */
  readonly historyLimit?: number;
}

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface StoredObject {
  readonly resource: KubeResourceType;
  /** `''` for cluster-scoped objects. */
  readonly namespace: string;
  readonly name: string;
  readonly object: Record<string, unknown>;
}

interface ChangeEvent {
  readonly resourceVersion: number;
  readonly type: EventType;
  readonly stored: StoredObject;
}

interface OpenWatch {
  readonly resource: KubeResourceType;
  readonly namespace: string | undefined;
  readonly bookmarks: boolean;
  readonly response: http.ServerResponse;
  timer: NodeJS.Timeout | undefined;
}

interface Target {
  readonly resource: KubeResourceType;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
}

const DEFAULT_HISTORY_LIMIT = 1000;

/**
 * The smallest faithful stand-in for a Kubernetes API server: real HTTP on loopback, GET of lists
 * and objects, and `?watch=true` streams of newline-delimited JSON events, all under one global,
 * monotonically increasing resourceVersion. A watch resumes from the history of changes; one from
 * before the compacted revision gets the API server's answer: HTTP 200, an `ERROR` event carrying a
 * 410 `Expired` Status, then the end of the stream, which makes a client relist.
 *
 * Shapes follow the real server: lists are `<Kind>List` with `metadata.resourceVersion`; items of
 * built-in (core) kinds carry no apiVersion/kind, custom resources do; watch event objects always do.
 * Not implemented (no client here uses them): writes over HTTP, label/field selectors, paging,
 * discovery, `sendInitialEvents`.
 */
export class KubeApiServer {
  /** Every request so far, in order of arrival. */
  readonly requests: KubeApiRequest[] = [];
  private readonly resources = new Map<string, KubeResourceType>();
  private readonly objects = new Map<string, StoredObject>();
  private readonly watches = new Set<OpenWatch>();
  private history: ChangeEvent[] = [];
  private revision = 0;
  /** Watches may resume from this revision or later; earlier ones get 410. */
  private compactedRevision = 0;

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
    private readonly token: string | undefined,
    private readonly historyLimit: number,
    resources: readonly KubeResourceType[],
  ) {
    for (const resource of resources) this.serve(resource);
  }

  static async start(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
    const host = options.host ?? '127.0.0.1';
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${String(port)}`;
    const instance = new KubeApiServer(
      server,
      url,
      options.token,
      options.historyLimit ?? DEFAULT_HISTORY_LIMIT,
      options.resources ?? DEFAULT_KUBE_RESOURCES,
    );
    server.on('request', (request: http.IncomingMessage, response: http.ServerResponse) => {
      instance.handle(request, response);
    });
    return instance;
  }

  /** The latest resourceVersion handed out. */
  get resourceVersion(): number {
    return this.revision;
  }

  /** Watch streams currently open. */
  get openWatchCount(): number {
    return this.watches.size;
  }

  /** Starts serving a resource (like installing its CRD). */
  serve(resource: KubeResourceType): void {
    this.resources.set(resourceKey(resource.group, resource.version, resource.plural), resource);
  }

  /** Creates or replaces an object: a new resourceVersion, uid and creationTimestamp kept across updates. */
  apply(input: KubeApiObject): KubeApiObject {
    const resource = this.resourceFor(input.kind, input.apiVersion);
    const name = input.metadata.name;
    if (name === undefined || name === '') throw new Error(`${input.kind} without metadata.name`);
    const namespace = resource.namespaced ? (input.metadata.namespace ?? 'default') : '';
    const key = objectKey(resource, namespace, name);
    const existing = this.objects.get(key)?.object.metadata as Record<string, unknown> | undefined;
    this.revision += 1;
    const metadata: Record<string, unknown> = {
      ...(structuredClone(input.metadata) as Record<string, unknown>),
      name,
      uid: existing?.uid ?? randomUUID(),
      resourceVersion: String(this.revision),
      creationTimestamp: existing?.creationTimestamp ?? kubeTimestamp(new Date()),
    };
    if (resource.namespaced) metadata.namespace = namespace;
    else delete metadata.namespace;
    const object = { ...(structuredClone(input) as Record<string, unknown>), metadata };
    const stored: StoredObject = { resource, namespace, name, object };
    this.objects.set(key, stored);
    this.record(existing === undefined ? 'ADDED' : 'MODIFIED', stored);
    return structuredClone(object) as KubeApiObject;
  }

  /**
   * Deletes an object; false if there was none. `apiVersion` tells apart kinds served by more than
   * one group; `namespace` is ignored for cluster-scoped kinds.
   */
  remove(kind: string, namespace: string | undefined, name: string, apiVersion?: string): boolean {
    const resource = this.resourceFor(kind, apiVersion);
    const stored = this.objects.get(
      objectKey(resource, resource.namespaced ? (namespace ?? 'default') : '', name),
    );
    if (stored === undefined) return false;
    this.objects.delete(objectKey(resource, stored.namespace, stored.name));
    this.revision += 1;
    // The DELETED event carries the object's last state at the revision of the deletion.
    const metadata = {
      ...(stored.object.metadata as Record<string, unknown>),
      resourceVersion: String(this.revision),
    };
    this.record('DELETED', { ...stored, object: { ...stored.object, metadata } });
    return true;
  }

  /** Forgets the change history up to `upTo` (default: now): watches resuming from before it get 410. */
  compact(upTo = this.revision): void {
    this.compactedRevision = Math.max(this.compactedRevision, Math.min(upTo, this.revision));
    this.history = this.history.filter((event) => event.resourceVersion > this.compactedRevision);
  }

  /**
   * Ends every open watch stream: cleanly by default (as when the server's watch timeout expires),
   * or `abrupt`ly by destroying the connection (as when the network fails).
   */
  closeWatches(options: { readonly abrupt?: boolean } = {}): void {
    for (const watch of [...this.watches]) {
      this.forget(watch);
      if (options.abrupt === true) watch.response.destroy();
      else watch.response.end();
    }
  }

  /** Sends a BOOKMARK (the current resourceVersion) to every watch that allowed bookmarks. */
  bookmark(): void {
    for (const watch of this.watches) {
      if (!watch.bookmarks) continue;
      send(watch, 'BOOKMARK', {
        apiVersion: apiVersionOf(watch.resource),
        kind: watch.resource.kind,
        metadata: { resourceVersion: String(this.revision) },
      });
    }
  }

  async close(): Promise<void> {
    this.closeWatches();
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
      this.server.closeAllConnections();
    });
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://stand-in');
    const query = Object.fromEntries(url.searchParams);
    const watch = query.watch === 'true' || query.watch === '1';
    const record: KubeApiRequest = {
      method: request.method ?? '',
      path: url.pathname,
      query,
      watch,
      status: 0,
      expired: false,
    };
    this.requests.push(record);
    const reply = (status: number, body: unknown): void => {
      record.status = status;
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (this.token !== undefined && request.headers.authorization !== `Bearer ${this.token}`) {
      reply(401, statusObject(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    if (request.method !== 'GET') {
      reply(
        405,
        statusObject(
          405,
          'MethodNotAllowed',
          'the server does not allow this method on the requested resource',
        ),
      );
      return;
    }
    const target = this.route(url.pathname);
    if (target === undefined) {
      reply(404, statusObject(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    if (target.name !== undefined) {
      const stored = this.objects.get(objectKey(target.resource, target.namespace ?? '', target.name));
      if (stored === undefined) {
        reply(404, {
          ...statusObject(404, 'NotFound', `${target.resource.plural} "${target.name}" not found`),
          details: { name: target.name, group: target.resource.group, kind: target.resource.plural },
        });
      } else {
        reply(200, stored.object);
      }
      return;
    }
    if (!watch) {
      reply(200, this.list(target));
      return;
    }
    let from: number | undefined;
    const requested = query.resourceVersion;
    // Unset and "0" both mean: the current state as ADDED events, then changes.
    if (requested !== undefined && requested !== '' && requested !== '0') {
      from = Number(requested);
      if (!Number.isSafeInteger(from) || from < 0) {
        reply(400, statusObject(400, 'BadRequest', `invalid resource version: ${requested}`));
        return;
      }
    }
    this.startWatch(target, from, query, response, record);
  }

  private startWatch(
    target: Target,
    from: number | undefined,
    query: Readonly<Record<string, string>>,
    response: http.ServerResponse,
    record: KubeApiRequest,
  ): void {
    record.status = 200;
    response.writeHead(200, {
      'content-type': 'application/json',
      'cache-control': 'no-cache, private',
      'transfer-encoding': 'chunked',
    });
    response.flushHeaders();
    const watch: OpenWatch = {
      resource: target.resource,
      namespace: target.namespace,
      bookmarks: query.allowWatchBookmarks === 'true',
      response,
      timer: undefined,
    };
    if (from !== undefined && from < this.compactedRevision) {
      record.expired = true;
      const oldest = this.compactedRevision + 1;
      send(
        watch,
        'ERROR',
        statusObject(410, 'Expired', `too old resource version: ${String(from)} (${String(oldest)})`),
      );
      response.end();
      return;
    }
    if (from === undefined) {
      for (const stored of this.matching(target)) send(watch, 'ADDED', withTypeMeta(stored));
    } else {
      for (const event of this.history) {
        if (event.resourceVersion > from && watches(watch, event.stored)) {
          send(watch, event.type, withTypeMeta(event.stored));
        }
      }
    }
    this.watches.add(watch);
    response.on('close', () => {
      this.forget(watch);
    });
    const timeoutSeconds = Number(query.timeoutSeconds);
    if (Number.isFinite(timeoutSeconds) && timeoutSeconds > 0) {
      watch.timer = setTimeout(() => {
        this.forget(watch);
        response.end();
      }, timeoutSeconds * 1000);
    }
  }

  private forget(watch: OpenWatch): void {
    clearTimeout(watch.timer);
    this.watches.delete(watch);
  }

  private list(target: Target): Record<string, unknown> {
    const { resource } = target;
    return {
      apiVersion: apiVersionOf(resource),
      kind: `${resource.kind}List`,
      metadata: { resourceVersion: String(this.revision) },
      // The real server leaves TypeMeta off items of built-in kinds; custom resources keep theirs.
      items: this.matching(target).map((stored) =>
        resource.group === '' ? withoutTypeMeta(stored) : stored.object,
      ),
    };
  }

  /** In etcd's key order: namespace, then name. */
  private matching(target: Target): StoredObject[] {
    const found: StoredObject[] = [];
    for (const stored of this.objects.values()) {
      if (stored.resource !== target.resource) continue;
      if (target.namespace !== undefined && stored.namespace !== target.namespace) continue;
      found.push(stored);
    }
    return found.sort((a, b) => compare(a.namespace, b.namespace) || compare(a.name, b.name));
  }

  private record(type: EventType, stored: StoredObject): void {
    this.history.push({ resourceVersion: this.revision, type, stored });
    while (this.history.length > this.historyLimit) {
      const dropped = this.history.shift();
      if (dropped !== undefined) this.compactedRevision = dropped.resourceVersion;
    }
    for (const watch of this.watches) {
      if (watches(watch, stored)) send(watch, type, withTypeMeta(stored));
    }
  }

  private route(pathname: string): Target | undefined {
    const parts = pathname
      .split('/')
      .filter((part) => part !== '')
      .map((part) => decodeURIComponent(part));
    let group: string;
    let version: string | undefined;
    let rest: string[];
    if (parts[0] === 'api') {
      group = '';
      version = parts[1];
      rest = parts.slice(2);
    } else if (parts[0] === 'apis') {
      group = parts[1] ?? '';
      version = parts[2];
      rest = parts.slice(3);
    } else {
      return undefined;
    }
    let namespace: string | undefined;
    // `/namespaces/{ns}/{plural}…` is a namespaced path; `/namespaces/{name}` is a Namespace itself.
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, ...extra] = rest;
    if (version === undefined || plural === undefined || extra.length > 0) return undefined;
    const resource = this.resources.get(resourceKey(group, version, plural));
    if (resource === undefined) return undefined;
    if (namespace !== undefined && !resource.namespaced) return undefined;
    if (name !== undefined && resource.namespaced && namespace === undefined) return undefined;
    return { resource, namespace, name };
  }

  private resourceFor(kind: string, apiVersion: string | undefined): KubeResourceType {
    const candidates = [...this.resources.values()].filter(
      (resource) =>
        resource.kind === kind && (apiVersion === undefined || apiVersionOf(resource) === apiVersion),
    );
    const [resource, ...others] = candidates;
    if (resource === undefined) throw new Error(`the stand-in does not serve ${apiVersion ?? '*'} ${kind}`);
    if (others.length > 0) throw new Error(`${kind} is served by several groups: pass its apiVersion`);
    return resource;
  }
}

function watches(watch: OpenWatch, stored: StoredObject): boolean {
  return (
    stored.resource === watch.resource &&
    (watch.namespace === undefined || stored.namespace === watch.namespace)
  );
}

function send(watch: OpenWatch, type: string, object: unknown): void {
  watch.response.write(`${JSON.stringify({ type, object })}\n`);
}

function withTypeMeta(stored: StoredObject): Record<string, unknown> {
  return { apiVersion: apiVersionOf(stored.resource), kind: stored.resource.kind, ...stored.object };
}

function withoutTypeMeta(stored: StoredObject): Record<string, unknown> {
  const rest = { ...stored.object };
  delete rest.apiVersion;
  delete rest.kind;
  return rest;
}

function apiVersionOf(resource: KubeResourceType): string {
  return resource.group === '' ? resource.version : `${resource.group}/${resource.version}`;
}

function resourceKey(group: string, version: string, plural: string): string {
  return `${group}/${version}/${plural}`;
}

function objectKey(resource: KubeResourceType, namespace: string, name: string): string {
  return `${resourceKey(resource.group, resource.version, resource.plural)}/${namespace}/${name}`;
}

/** A `metav1.Status` as the API server sends it for errors (and inside a watch `ERROR` event). */
function statusObject(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

/** RFC 3339 in seconds, as Kubernetes writes `creationTimestamp`. */
function kubeTimestamp(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
