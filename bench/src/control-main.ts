import { credentials, Server, ServerCredentials } from '@grpc/grpc-js';
import { createLogger } from '@ambient/core';
import { evaluate, type ConnectionAttributes } from '@ambient/policy';
import {
  addressFromResource,
  createAuthorization,
  createService,
  createWorkload,
  EMPTY_MATCH,
  encodeService,
  encodeWorkload,
  ProxyState,
  XdsStateStore,
  type Authorization,
  type Service,
  type Workload,
} from '@ambient/state';
import {
  ADDRESS_TYPE_URL,
  DeltaXdsClient,
  DeltaXdsServer,
  ztunnelNode,
  type ResourceHandler,
} from '@ambient/xds';

/*
 * The control and policy figures, measured in a process of their own (started with --expose-gc, so
 * heap figures are taken after a full collection) and printed as one JSON line:
 *   - authorization decisions per second with 10,000 policies in the ztunnel's state, through the
 *     same lookup and evaluation an inbound connection pays (authorizationsFor + evaluate);
 *   - the time from the control plane publishing 10,000 workloads to the ztunnel having applied them
 *     (real Delta xDS over gRPC on loopback, decode + convert + one state swap);
 *   - the ztunnel's heap per 1,000 workloads held.
 */

const POLICIES = 10_000;
const WORKLOADS = 10_000;
// Ten policies per namespace: the store holds 10,000, a connection is checked against its own ten.
const NAMESPACES = 1000;
const PODS_PER_NODE = 110;
const XDS_HOST = '127.30.6.1';

interface ControlResult {
  decisionsPerSecond: number;
  pushApplyMs: number;
  heapMiBPer1000Workloads: number;
}

const quick = process.argv.includes('--quick');
const gc = (globalThis as { gc?: () => void }).gc;

function namespaceOf(i: number): string {
  return `ns-${String(i % NAMESPACES)}`;
}

function workloadNumber(i: number): Workload {
  const namespace = namespaceOf(i);
  return createWorkload({
    uid: `Kubernetes//Pod/${namespace}/pod-${String(i)}`,
    name: `pod-${String(i)}`,
    namespace,
    serviceAccount: `sa-${String(i % 50)}`,
    workloadIps: [`10.${String((i >> 16) & 255)}.${String((i >> 8) & 255)}.${String(i & 255)}`],
    tunnelProtocol: 'HBONE',
    node: `node-${String(i % 20)}`,
    services: new Map([
      [`${namespace}/svc-${String(i % 500)}.${namespace}.svc.cluster.local`, new Map([[80, 8080]])],
    ]),
    // Every tenth workload also lists a selector-scoped policy, as a labelled deployment would.
    authorizationPolicies: i % 10 === 0 ? [`${namespace}/selected-${String(i % 1000)}`] : [],
  });
}

/** 10,000 policies: mostly namespace-wide ALLOWs by principal, a DENY by IP block, some selector-scoped. */
function policyNumber(i: number): Authorization {
  const namespace = namespaceOf(i);
  const selected = i % 10 === 0;
  return createAuthorization({
    name: selected ? `selected-${String(i % 1000)}` : `policy-${String(i)}`,
    namespace,
    scope: selected ? 'WORKLOAD_SELECTOR' : 'NAMESPACE',
    action: i % 7 === 0 ? 'DENY' : 'ALLOW',
    groups: [
      {
        rules: [
          {
            matches: [
              i % 7 === 0
                ? { ...EMPTY_MATCH, sourceIps: [{ ip: `192.168.${String(i & 255)}.0`, prefixLength: 24 }] }
                : {
                    ...EMPTY_MATCH,
                    principals: [
                      { kind: 'exact', value: `cluster.local/ns/${namespace}/sa/sa-${String(i % 50)}` },
                    ],
                  },
            ],
          },
          { matches: [{ ...EMPTY_MATCH, destinationPorts: [8080, 9090] }] },
        ],
      },
    ],
  });
}

function decisionsPerSecond(): number {
  // A ztunnel authorizes connections to the pods of its own node (Kubernetes' default limit is 110),
  // while its state holds every policy of the cluster: 110 destinations in 110 namespaces, 10,000 policies.
  const workloads = Array.from({ length: PODS_PER_NODE }, (_, i) => workloadNumber(i));
  const authorizations = new Map<string, Authorization>();
  for (let i = 0; i < POLICIES; i++) {
    const policy = policyNumber(i);
    authorizations.set(policy.key, policy);
  }
  const state = new ProxyState({ workloads, services: [], authorizations: [...authorizations.values()] });
  const connections: { workload: Workload; attributes: ConnectionAttributes }[] = workloads.map(
    (workload, i) => ({
      workload,
      attributes: {
        sourceIp: `10.1.${String(i & 255)}.7`,
        sourcePort: 40000 + i,
        destinationIp: workload.workloadIps[0] ?? '',
        destinationPort: 8080,
        // Every third caller is a service account no ALLOW names: a mix of allowed and denied.
        sourceIdentity: `spiffe://cluster.local/ns/${namespaceOf(i)}/sa/sa-${String(i % 3 === 0 ? 99 : i % 50)}`,
      },
    }),
  );
  let decisions = 0;
  let allowed = 0;
  const deadline = performance.now() + (quick ? 300 : 1500);
  const started = performance.now();
  while (performance.now() < deadline) {
    // A batch between clock reads, so the clock is not what we measure.
    for (let i = 0; i < 1000; i++) {
      const connection = connections[(decisions + i) % connections.length];
      if (connection === undefined) continue;
      const { policies } = state.authorizationsFor(connection.workload);
      if (evaluate(policies, connection.attributes).allowed) allowed++;
    }
    decisions += 1000;
  }
  const seconds = (performance.now() - started) / 1000;
  // Keeps the results alive (and proves the mix is not all one answer).
  if (allowed === 0 || allowed === decisions) throw new Error('bench bug: every decision was the same');
  return decisions / seconds;
}

async function pushApply(): Promise<{ pushApplyMs: number; heapMiBPer1000Workloads: number }> {
  const logger = createLogger({ level: 'silent' });
  const server = new Server();
  const xds = new DeltaXdsServer({ logger });
  xds.addTo(server, { authenticate: false });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${XDS_HOST}:0`, ServerCredentials.createInsecure(), (err, bound) => {
      if (err) reject(err);
      else resolve(bound);
    });
  });
  // Start from a small mesh so the client is connected and ready before the big push.
  const services: Service[] = Array.from({ length: 500 }, (_, i) =>
    createService({
      name: `svc-${String(i)}`,
      namespace: namespaceOf(i),
      hostname: `svc-${String(i % 500)}.${namespaceOf(i)}.svc.cluster.local`,
      vips: [{ network: '', ip: `10.96.${String(i >> 8)}.${String(i & 255)}` }],
      ports: [{ servicePort: 80, targetPort: 8080 }],
    }),
  );
  const small = new Map<string, Uint8Array>();
  for (const service of services) small.set(service.key, encodeService(service));
  xds.setResources(ADDRESS_TYPE_URL, small);

  const state = new ProxyState();
  const store = new XdsStateStore();
  let onApplied: ((count: number) => void) | undefined;
  const addresses: ResourceHandler<Workload | Service> = {
    typeUrl: ADDRESS_TYPE_URL,
    decode: addressFromResource,
    apply: (update) => {
      store.applyAddresses(update);
      state.replace(store.snapshot());
      onApplied?.(state.workloads().length);
    },
  };
  const client = new DeltaXdsClient({
    address: `${XDS_HOST}:${String(port)}`,
    credentials: credentials.createInsecure(),
    node: ztunnelNode({ instanceIp: XDS_HOST, nodeName: 'bench' }),
    logger,
    handlers: [addresses],
  });
  client.start();
  await client.ready;
  gc?.();
  const heapBefore = process.memoryUsage().heapUsed;

  const big = new Map(small);
  for (let i = 0; i < WORKLOADS; i++) {
    const workload = workloadNumber(i);
    big.set(workload.uid, encodeWorkload(workload));
  }
  const applied = new Promise<void>((resolve) => {
    onApplied = (count) => {
      if (count === WORKLOADS) resolve();
    };
  });
  const started = performance.now();
  xds.setResources(ADDRESS_TYPE_URL, big);
  await applied;
  const pushApplyMs = performance.now() - started;
  gc?.();
  const heapAfter = process.memoryUsage().heapUsed;
  await client.close();
  xds.close();
  server.forceShutdown();
  return {
    pushApplyMs,
    // The encoded resources the server holds live in this process too: count only what the ztunnel
    // side adds, by subtracting their byte size.
    heapMiBPer1000Workloads:
      (heapAfter - heapBefore - [...big.values()].reduce((sum, bytes) => sum + bytes.byteLength, 0)) /
      (1024 * 1024) /
      (WORKLOADS / 1000),
  };
}

async function main(): Promise<void> {
  const result: ControlResult = { decisionsPerSecond: decisionsPerSecond(), ...(await pushApply()) };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
