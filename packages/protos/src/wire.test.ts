// Byte-level checks that our .proto files put Istio's fields at Istio's numbers. Expected bytes are
// worked out by hand from the field numbers in shared/reference/ztunnel.md §4 and §7.1, not taken
// from the encoder, so a renumbered field fails here even though a round trip would still pass.
import { describe, expect, it } from 'vitest';
import { ads, discovery, security, workload, zds } from './index.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

interface Field {
  number: number;
  wireType: number;
  /** The varint value (wire type 0) or the payload (wire type 2). */
  value: number | Uint8Array;
}

/** Splits one message level into its fields, in wire order, without any schema. */
function fieldsOf(bytes: Uint8Array): Field[] {
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (;;) {
      const byte = bytes.at(pos++);
      if (byte === undefined) throw new Error('truncated varint');
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
  };
  const fields: Field[] = [];
  while (pos < bytes.length) {
    const key = varint();
    const number = Math.floor(key / 8);
    const wireType = key % 8;
    if (wireType === 0) {
      fields.push({ number, wireType, value: varint() });
    } else if (wireType === 2) {
      const length = varint();
      fields.push({ number, wireType, value: bytes.subarray(pos, pos + length) });
      pos += length;
    } else {
      throw new Error(`unexpected wire type ${wireType} for field ${number}`);
    }
  }
  return fields;
}

function only(fields: Field[], number: number): Field {
  const matching = fields.filter((f) => f.number === number);
  expect(matching, `field ${number}`).toHaveLength(1);
  const field = matching.at(0);
  if (field === undefined) throw new Error(`field ${number} missing`);
  return field;
}

function payload(fields: Field[], number: number): Uint8Array {
  const { value } = only(fields, number);
  if (typeof value === 'number') throw new Error(`field ${number} is a varint`);
  return value;
}

// env=node: ts-proto types bytes fields as Buffer, and decode returns Buffers.
const ip = (...octets: number[]): Buffer => Buffer.from(octets);

describe('istio.workload wire format', () => {
  it('puts Workload.uid at field 20 (two-byte tag a2 01)', () => {
    expect(hex(workload.Workload.encode(workload.Workload.fromPartial({ uid: 'ab' })).finish())).toBe(
      'a201026162',
    );
  });

  it('encodes a Workload at the reference field numbers and round-trips it', () => {
    const pod = workload.Workload.fromPartial({
      uid: 'Kubernetes//Pod/default/echo-0',
      name: 'echo-0',
      namespace: 'default',
      addresses: [ip(10, 0, 0, 7)],
      tunnelProtocol: workload.TunnelProtocol.HBONE,
      serviceAccount: 'echo',
      node: 'node-a',
      services: {
        'default/echo.default.svc.cluster.local': { ports: [{ servicePort: 80, targetPort: 8080 }] },
      },
      authorizationPolicies: ['default/allow-echo'],
      status: workload.WorkloadStatus.UNHEALTHY,
      clusterId: 'Kubernetes',
      locality: { region: 'r1', zone: 'z1', subzone: '' },
      networkMode: workload.NetworkMode.HOST_NETWORK,
      capacity: 3,
    });
    const bytes = workload.Workload.encode(pod).finish();
    const fields = fieldsOf(bytes);

    expect(new TextDecoder().decode(payload(fields, 20))).toBe('Kubernetes//Pod/default/echo-0');
    expect(hex(payload(fields, 3))).toBe('0a000007');
    expect(only(fields, 5).value).toBe(1); // HBONE
    expect(new TextDecoder().decode(payload(fields, 7))).toBe('echo');
    expect(new TextDecoder().decode(payload(fields, 9))).toBe('node-a');
    expect(new TextDecoder().decode(payload(fields, 16))).toBe('default/allow-echo');
    expect(only(fields, 17).value).toBe(1); // UNHEALTHY
    expect(new TextDecoder().decode(payload(fields, 18))).toBe('Kubernetes');
    expect(only(fields, 25).value).toBe(1); // HOST_NETWORK
    // capacity is a UInt32Value: a nested message whose field 1 holds the number.
    expect(hex(payload(fields, 27))).toBe('0803');
    // Locality: region = 1, zone = 2.
    expect(hex(payload(fields, 24))).toBe('0a027231' + '12027a31');
    // services is map<string, PortList> at 22: entry key = 1, value = 2; Port 80 -> 8080 is 08 50 10 90 3f.
    const entry = fieldsOf(payload(fields, 22));
    expect(new TextDecoder().decode(payload(entry, 1))).toBe('default/echo.default.svc.cluster.local');
    expect(hex(payload(entry, 2))).toBe('0a05' + '0850' + '10903f');
    // Field 15 is reserved upstream; nothing may land there.
    expect(fields.some((f) => f.number === 15)).toBe(false);

    expect(workload.Workload.decode(bytes)).toEqual(pod);
  });

  it('wraps a Workload as Address field 1 and a Service as Address field 2', () => {
    const wrapped = workload.Address.fromPartial({ type: { $case: 'workload', value: { uid: 'a' } } });
    expect(hex(workload.Address.encode(wrapped).finish())).toBe('0a04' + 'a2010161');

    const service = workload.Address.fromPartial({
      type: {
        $case: 'service',
        value: {
          name: 'echo',
          namespace: 'default',
          hostname: 'echo.default.svc.cluster.local',
          addresses: [{ network: '', address: ip(10, 96, 0, 1) }],
          ports: [{ servicePort: 80, targetPort: 8080, appProtocol: workload.AppProtocol.HTTP11 }],
          waypoint: {
            destination: { $case: 'hostname', value: { namespace: 'default', hostname: 'waypoint' } },
            hboneMtlsPort: 15008,
          },
          loadBalancing: {
            routingPreference: [workload.LoadBalancing_Scope.NETWORK, workload.LoadBalancing_Scope.NODE],
            mode: workload.LoadBalancing_Mode.FAILOVER,
            healthPolicy: workload.LoadBalancing_HealthPolicy.ALLOW_ALL,
          },
          visibility: workload.Service_Visibility.NAMESPACE,
        },
      },
    });
    const bytes = workload.Address.encode(service).finish();
    const inner = fieldsOf(payload(fieldsOf(bytes), 2));

    expect(new TextDecoder().decode(payload(inner, 3))).toBe('echo.default.svc.cluster.local');
    // NetworkAddress: address = 2; `length` is optional and absent, so not encoded at all.
    expect(hex(payload(inner, 4))).toBe('12040a600001');
    // Port: service_port = 1, target_port = 2, app_protocol = 3 (HTTP11 = 1).
    expect(hex(payload(inner, 5))).toBe('0850' + '10903f' + '1801');
    // GatewayAddress: hostname = 1 (a NamespacedHostname), hbone_mtls_port = 3 (15008 = a0 75).
    const gateway = fieldsOf(payload(inner, 7));
    expect(hex(payload(gateway, 1))).toBe('0a0764656661756c74' + '1208776179706f696e74');
    expect(only(gateway, 3).value).toBe(15008);
    // LoadBalancing: packed scopes at 1 (NETWORK = 6, NODE = 4), mode = 2, health_policy = 3.
    expect(hex(payload(inner, 8))).toBe('0a020604' + '1002' + '1801');
    expect(only(inner, 14).value).toBe(1); // Visibility.NAMESPACE

    expect(workload.Address.decode(bytes)).toEqual(service);
  });

  it('encodes NetworkAddress.length when set to 0, because the field tracks presence', () => {
    const cidr = workload.NetworkAddress.fromPartial({ address: ip(0, 0, 0, 0), length: 0 });
    expect(hex(workload.NetworkAddress.encode(cidr).finish())).toBe('120400000000' + '1800');
    expect(workload.NetworkAddress.decode(workload.NetworkAddress.encode(cidr).finish()).length).toBe(0);
  });
});

describe('istio.security wire format', () => {
  it('encodes an Authorization at the reference field numbers and round-trips it', () => {
    const policy = security.Authorization.fromPartial({
      name: 'deny-ports',
      namespace: 'default',
      scope: security.Scope.WORKLOAD_SELECTOR,
      action: security.Action.DENY,
      groups: [
        {
          rules: [
            {
              matches: [
                {
                  principals: [{ matchType: { $case: 'exact', value: 'cluster.local/ns/a/sa/b' } }],
                  notNamespaces: [{ matchType: { $case: 'presence', value: {} } }],
                  serviceAccounts: [{ namespace: 'a', serviceAccount: 'b' }],
                  notSourceIps: [{ address: ip(10, 0, 0, 0), length: 8 }],
                  destinationPorts: [80, 443],
                },
              ],
            },
          ],
        },
      ],
      dryRun: true,
    });
    const bytes = security.Authorization.encode(policy).finish();
    const fields = fieldsOf(bytes);

    expect(only(fields, 3).value).toBe(2); // WORKLOAD_SELECTOR
    expect(only(fields, 4).value).toBe(1); // DENY
    expect(only(fields, 6).value).toBe(1); // dry_run
    // Authorization.groups = 5 -> Group.rules = 1 -> Rules.matches = 2 (not 1).
    const group = fieldsOf(payload(fields, 5));
    const rules = fieldsOf(payload(group, 1));
    expect(rules.map((f) => f.number)).toEqual([2]);
    const match = fieldsOf(payload(rules, 2));
    expect(hex(payload(match, 2))).toBe('2200'); // StringMatch.presence = 4, an empty message
    expect(hex(payload(match, 3))).toBe('0a17' + Buffer.from('cluster.local/ns/a/sa/b').toString('hex'));
    expect(hex(payload(match, 6))).toBe('0a040a000000' + '1008'); // Address: address = 1, length = 2
    expect(hex(payload(match, 9))).toBe('50bb03'); // packed uint32 ports
    expect(hex(payload(match, 11))).toBe('0a0161' + '120162'); // ServiceAccountMatch

    expect(security.Authorization.decode(bytes)).toEqual(policy);
  });
});

describe('envoy.service.discovery.v3 wire format', () => {
  it('encodes an ACK as type_url = 2 and response_nonce = 6', () => {
    const ack = discovery.DeltaDiscoveryRequest.fromPartial({ typeUrl: 't', responseNonce: 'n' });
    expect(hex(discovery.DeltaDiscoveryRequest.encode(ack).finish())).toBe('120174' + '32016e');
  });

  it('encodes an initial DeltaDiscoveryRequest and a NACK at the reference field numbers', () => {
    const request = discovery.DeltaDiscoveryRequest.fromPartial({
      node: {
        id: 'ztunnel~10.0.0.1~zt.istio-system~istio-system.svc.cluster.local',
        cluster: 'Kubernetes',
        metadata: { NAME: 'zt', NAMESPACE: 'istio-system' },
      },
      typeUrl: 'type.googleapis.com/istio.workload.Address',
      resourceNamesSubscribe: ['*'],
      resourceNamesUnsubscribe: ['x'],
      initialResourceVersions: { a: '1' },
      responseNonce: 'nonce-1',
      errorDetail: { code: 3, message: 'bad', details: [] },
    });
    const bytes = discovery.DeltaDiscoveryRequest.encode(request).finish();
    const fields = fieldsOf(bytes);

    const node = fieldsOf(payload(fields, 1));
    expect(new TextDecoder().decode(payload(node, 1))).toBe(
      'ztunnel~10.0.0.1~zt.istio-system~istio-system.svc.cluster.local',
    );
    expect(new TextDecoder().decode(payload(node, 2))).toBe('Kubernetes');
    expect(payload(node, 3).length).toBeGreaterThan(0); // metadata Struct
    expect(new TextDecoder().decode(payload(fields, 2))).toBe('type.googleapis.com/istio.workload.Address');
    expect(hex(payload(fields, 3))).toBe('2a');
    expect(hex(payload(fields, 4))).toBe('78');
    expect(hex(payload(fields, 5))).toBe('0a0161' + '120131'); // map entry: key = 1, value = 2
    expect(new TextDecoder().decode(payload(fields, 6))).toBe('nonce-1');
    expect(hex(payload(fields, 7))).toBe('0803' + '1203626164'); // google.rpc.Status: code = 1, message = 2

    expect(discovery.DeltaDiscoveryRequest.decode(bytes)).toEqual(request);
  });

  it('carries an Address inside a Resource of a DeltaDiscoveryResponse', () => {
    const address = workload.Address.fromPartial({ type: { $case: 'workload', value: { uid: 'w1' } } });
    const response = discovery.DeltaDiscoveryResponse.fromPartial({
      systemVersionInfo: 'v1',
      typeUrl: 'type.googleapis.com/istio.workload.Address',
      nonce: 'n1',
      removedResources: ['gone'],
      resources: [
        {
          name: 'w1',
          version: '7',
          aliases: ['net/10.0.0.7'],
          resource: {
            typeUrl: 'type.googleapis.com/istio.workload.Address',
            value: Buffer.from(workload.Address.encode(address).finish()),
          },
        },
      ],
    });
    const bytes = discovery.DeltaDiscoveryResponse.encode(response).finish();
    const fields = fieldsOf(bytes);

    expect(new TextDecoder().decode(payload(fields, 4))).toBe('type.googleapis.com/istio.workload.Address');
    expect(new TextDecoder().decode(payload(fields, 5))).toBe('n1');
    expect(new TextDecoder().decode(payload(fields, 6))).toBe('gone');
    const resource = fieldsOf(payload(fields, 2));
    expect(new TextDecoder().decode(payload(resource, 1))).toBe('7'); // version
    expect(new TextDecoder().decode(payload(resource, 3))).toBe('w1'); // name
    expect(new TextDecoder().decode(payload(resource, 4))).toBe('net/10.0.0.7'); // aliases

    const decoded = discovery.DeltaDiscoveryResponse.decode(bytes);
    expect(decoded).toEqual(response);
    const any = decoded.resources[0]?.resource;
    expect(any?.typeUrl).toBe('type.googleapis.com/istio.workload.Address');
    expect(workload.Address.decode(any?.value ?? Buffer.alloc(0))).toEqual(address);
  });

  it('serves ADS at the path istiod and ztunnel use', () => {
    expect(ads.AggregatedDiscoveryServiceService.deltaAggregatedResources.path).toBe(
      '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources',
    );
    expect(ads.AggregatedDiscoveryServiceService.deltaAggregatedResources.requestStream).toBe(true);
    expect(ads.AggregatedDiscoveryServiceService.deltaAggregatedResources.responseStream).toBe(true);
  });
});

describe('istio.workload.zds wire format', () => {
  it('puts DelWorkload.uid at field 2', () => {
    expect(hex(zds.DelWorkload.encode({ uid: 'x' }).finish())).toBe('120178');
  });

  it('numbers the WorkloadRequest payloads add = 1, del = 2, snapshot_sent = 3, keep = 5', () => {
    const encode = (request: zds.WorkloadRequest): string =>
      hex(zds.WorkloadRequest.encode(request).finish());
    const add = zds.WorkloadRequest.fromPartial({
      payload: {
        $case: 'add',
        value: { uid: 'p', workloadInfo: { name: 'n', namespace: 's', serviceAccount: 'a' } },
      },
    });
    expect(encode(add)).toBe('0a0e' + '0a0170' + '1209' + '0a016e' + '120173' + '1a0161');
    expect(encode({ payload: { $case: 'del', value: { uid: 'p' } } })).toBe('1203' + '120170');
    expect(encode({ payload: { $case: 'snapshotSent', value: {} } })).toBe('1a00');
    expect(encode({ payload: { $case: 'keep', value: { uid: 'p' } } })).toBe('2a03' + '0a0170');
    expect(zds.WorkloadRequest.decode(zds.WorkloadRequest.encode(add).finish())).toEqual(add);
  });

  it('encodes the hello and an error ack', () => {
    expect(hex(zds.ZdsHello.encode({ version: zds.Version.V1 }).finish())).toBe('0801');
    const nack = zds.WorkloadResponse.fromPartial({ payload: { $case: 'ack', value: { error: 'e' } } });
    expect(hex(zds.WorkloadResponse.encode(nack).finish())).toBe('0a03' + '0a0165');
    expect(zds.WorkloadResponse.decode(zds.WorkloadResponse.encode(nack).finish())).toEqual(nack);
  });
});
