import { SocketAddress } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createAuthorization,
  EMPTY_MATCH,
  type AuthorizationMatch,
  type CidrMatch,
  type StringMatch,
} from '../authorization.js';
import { createService, createWorkload, type Service, type Workload } from '../model.js';
import { convertAddress } from './convert-address.js';
import { convertAuthorization } from './convert-authorization.js';
import { encodeAuthorization, encodeService, encodeWorkload } from './encode.js';
import { expectInvalid } from './test-wire.js';

function workloadRoundTrip(workload: Workload): unknown {
  return convertAddress(workload.uid, encodeWorkload(workload));
}

function serviceRoundTrip(service: Service): unknown {
  return convertAddress(service.key, encodeService(service));
}

/** Node's text for an IPv6 address: the canonical form the converter writes. */
function canonicalIpv6(text: string): string {
  return new SocketAddress({ address: text, family: 'ipv6' }).address;
}

const FULL_WORKLOAD = createWorkload({
  uid: 'Kubernetes//Pod/shop/cart-1',
  name: 'cart-1',
  namespace: 'shop',
  workloadIps: ['127.0.1.1', 'fd00::1'],
  network: 'west',
  tunnelProtocol: 'HBONE',
  trustDomain: 'example.org',
  serviceAccount: 'cart',
  node: 'node-a',
  canonicalName: 'cart',
  canonicalRevision: 'v2',
  workloadName: 'cart',
  workloadType: 'job',
  clusterId: 'east',
  status: 'Unhealthy',
  locality: { region: 'eu', zone: 'eu-1a', subzone: '' },
  services: new Map([
    [
      'shop/cart.shop.svc.cluster.local',
      new Map([
        [80, 8080],
        [81, 0],
      ]),
    ],
    ['shop/empty.shop.svc.cluster.local', new Map()],
  ]),
  authorizationPolicies: ['shop/allow-cart'],
  waypoint: { kind: 'address', network: 'west', ip: 'fd00::99', hboneMtlsPort: 15008 },
});

const FULL_SERVICE = createService({
  name: 'cart',
  namespace: 'shop',
  hostname: 'cart.shop.svc.cluster.local',
  vips: [
    { network: '', ip: '127.10.0.1' },
    { network: 'west', ip: 'fd00::10' },
  ],
  ports: [
    { servicePort: 80, targetPort: 8080 },
    { servicePort: 443, targetPort: 0 },
  ],
  subjectAltNames: ['spiffe://example.org/ns/shop/sa/cart'],
  waypoint: {
    kind: 'hostname',
    namespace: 'shop',
    hostname: 'waypoint.shop.svc.cluster.local',
    hboneMtlsPort: 15009,
  },
});

describe('encodeWorkload / encodeService → convertAddress', () => {
  it.each([
    ['every field', FULL_WORKLOAD],
    ['only the required fields', createWorkload({ uid: 'u', name: '', namespace: '', workloadIps: [] })],
    [
      'a hostname waypoint',
      createWorkload({
        uid: 'u',
        name: 'n',
        namespace: 'ns',
        workloadIps: ['10.0.0.1'],
        waypoint: { kind: 'hostname', namespace: 'ns', hostname: 'wp.ns', hboneMtlsPort: 15008 },
      }),
    ],
  ])('a workload with %s comes back equal', (_, workload) => {
    expect(workloadRoundTrip(workload)).toEqual({ kind: 'workload', workload });
  });

  it.each([
    ['every field', FULL_SERVICE],
    ['only the required fields', createService({ name: '', namespace: 'ns', hostname: 'h' })],
    [
      'an address waypoint',
      createService({
        name: 's',
        namespace: 'ns',
        hostname: 'h',
        waypoint: { kind: 'address', network: '', ip: '10.0.0.9', hboneMtlsPort: 15008 },
      }),
    ],
  ])('a service with %s comes back equal', (_, service) => {
    expect(serviceRoundTrip(service)).toEqual({ kind: 'service', service });
  });

  it('workload and service addresses of any form come back in canonical text', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.ipV4(), fc.ipV6()), { maxLength: 4 }), (ips) => {
        const workload = createWorkload({ uid: 'u', name: 'n', namespace: 'ns', workloadIps: ips });
        const service = createService({
          name: 's',
          namespace: 'ns',
          hostname: 'h',
          vips: ips.map((ip) => ({ network: 'net', ip })),
        });
        // Mapped IPv6 addresses are IPv4 in the model; any other IPv6 is written as Node writes it.
        const expected = workload.workloadIps.map((ip) => (ip.includes(':') ? canonicalIpv6(ip) : ip));
        expect(workloadRoundTrip(workload)).toMatchObject({ workload: { workloadIps: expected } });
        expect(serviceRoundTrip(service)).toMatchObject({
          service: { vips: expected.map((ip) => ({ network: 'net', ip })) },
        });
      }),
    );
  });

  it.each([
    [
      'a workload IP that is not one',
      () =>
        encodeWorkload(
          createWorkload({ uid: 'u', name: 'n', namespace: 'ns', workloadIps: ['10.0.0.1', 'nope'] }),
        ),
      'workload "u": workloadIps[1]: "nope" is not an IP address',
    ],
    [
      'a service VIP that is not one',
      () =>
        encodeService(
          createService({ name: 's', namespace: 'ns', hostname: 'h', vips: [{ network: '', ip: '1.2.3' }] }),
        ),
      'service "ns/h": vips[0]: "1.2.3" is not an IP address',
    ],
    [
      'a waypoint IP that is not one',
      () =>
        encodeService(
          createService({
            name: 's',
            namespace: 'ns',
            hostname: 'h',
            waypoint: { kind: 'address', network: '', ip: 'waypoint', hboneMtlsPort: 15008 },
          }),
        ),
      'service "ns/h": waypoint.ip: "waypoint" is not an IP address',
    ],
  ])('refuses to encode %s', (_, encode, message) => {
    expectInvalid(encode, message);
  });
});

const stringMatch: fc.Arbitrary<StringMatch> = fc.oneof(
  fc.record({ kind: fc.constantFrom('exact', 'prefix', 'suffix'), value: fc.string({ unit: 'binary' }) }),
  fc.constant({ kind: 'presence' as const }),
);

/** A CIDR in the text form the converter writes, so that the round trip is exact. */
const cidr: fc.Arbitrary<CidrMatch> = fc.oneof(
  fc.record({ ip: fc.ipV4(), prefixLength: fc.integer({ min: 0, max: 32 }) }),
  fc.record({ ip: fc.ipV6().map(canonicalIpv6), prefixLength: fc.integer({ min: 0, max: 128 }) }),
);

const port = fc.integer({ min: 1, max: 65535 });
const serviceAccount = fc.record({ namespace: fc.string(), serviceAccount: fc.string() });

const match: fc.Arbitrary<AuthorizationMatch> = fc.record({
  namespaces: fc.array(stringMatch, { maxLength: 3 }),
  notNamespaces: fc.array(stringMatch, { maxLength: 3 }),
  serviceAccounts: fc.array(serviceAccount, { maxLength: 2 }),
  notServiceAccounts: fc.array(serviceAccount, { maxLength: 2 }),
  principals: fc.array(stringMatch, { maxLength: 3 }),
  notPrincipals: fc.array(stringMatch, { maxLength: 3 }),
  sourceIps: fc.array(cidr, { maxLength: 3 }),
  notSourceIps: fc.array(cidr, { maxLength: 3 }),
  destinationIps: fc.array(cidr, { maxLength: 3 }),
  notDestinationIps: fc.array(cidr, { maxLength: 3 }),
  destinationPorts: fc.array(port, { maxLength: 3 }),
  notDestinationPorts: fc.array(port, { maxLength: 3 }),
});

const name = fc.stringMatching(/^[a-z0-9-]{1,20}$/);

const authorization = fc
  .record({
    name,
    namespace: name,
    scope: fc.constantFrom('GLOBAL', 'NAMESPACE', 'WORKLOAD_SELECTOR'),
    action: fc.constantFrom('ALLOW', 'DENY'),
    dryRun: fc.boolean(),
    groups: fc.array(
      fc.record({
        rules: fc.array(fc.record({ matches: fc.array(match, { maxLength: 2 }) }), { maxLength: 2 }),
      }),
      { maxLength: 2 },
    ),
  })
  .map(createAuthorization);

describe('encodeAuthorization → convertAuthorization', () => {
  it('a policy using every field comes back equal', () => {
    const policy = createAuthorization({
      name: 'deny-some',
      namespace: 'shop',
      scope: 'NAMESPACE',
      action: 'DENY',
      dryRun: true,
      groups: [
        {
          rules: [
            {
              matches: [
                {
                  namespaces: [{ kind: 'exact', value: 'shop' }],
                  notNamespaces: [{ kind: 'prefix', value: 'dev-' }],
                  serviceAccounts: [{ namespace: 'shop', serviceAccount: 'cart' }],
                  notServiceAccounts: [{ namespace: 'shop', serviceAccount: 'bot' }],
                  principals: [{ kind: 'suffix', value: '/sa/cart' }],
                  notPrincipals: [{ kind: 'presence' }],
                  sourceIps: [{ ip: '10.0.0.0', prefixLength: 8 }],
                  notSourceIps: [{ ip: '::ffff:10.1.0.0', prefixLength: 112 }],
                  destinationIps: [{ ip: 'fd00::', prefixLength: 8 }],
                  notDestinationIps: [{ ip: '0.0.0.0', prefixLength: 0 }],
                  destinationPorts: [80],
                  notDestinationPorts: [9090, 9091],
                },
                { ...EMPTY_MATCH, notPrincipals: [{ kind: 'presence' }] },
              ],
            },
          ],
        },
        { rules: [] },
      ],
    });
    expect(convertAuthorization(policy.key, encodeAuthorization(policy))).toEqual(policy);
  });

  it('any policy comes back equal', () => {
    fc.assert(
      fc.property(authorization, (policy) => {
        expect(convertAuthorization(policy.key, encodeAuthorization(policy))).toEqual(policy);
      }),
      { numRuns: 200 },
    );
  });

  it('any CIDR comes back equal', () => {
    fc.assert(
      fc.property(cidr, (sourceIp) => {
        const policy = createAuthorization({
          name: 'p',
          namespace: 'ns',
          scope: 'GLOBAL',
          action: 'ALLOW',
          groups: [{ rules: [{ matches: [{ ...EMPTY_MATCH, sourceIps: [sourceIp] }] }] }],
        });
        const back = convertAuthorization('ns/p', encodeAuthorization(policy));
        expect(back.groups[0]?.rules[0]?.matches[0]?.sourceIps).toEqual([sourceIp]);
      }),
    );
  });

  it('any string match comes back equal', () => {
    fc.assert(
      fc.property(stringMatch, (principal) => {
        const policy = createAuthorization({
          name: 'p',
          namespace: 'ns',
          scope: 'GLOBAL',
          action: 'DENY',
          groups: [{ rules: [{ matches: [{ ...EMPTY_MATCH, principals: [principal] }] }] }],
        });
        const back = convertAuthorization('ns/p', encodeAuthorization(policy));
        expect(back.groups[0]?.rules[0]?.matches[0]?.principals).toEqual([principal]);
      }),
    );
  });

  it.each([
    [
      { ip: '10.0.0.0', prefixLength: 33 },
      'groups[0].rules[0].matches[0].sourceIps[0].prefixLength: 33 is not 0-32',
    ],
    [
      { ip: 'fd00::', prefixLength: 129 },
      'groups[0].rules[0].matches[0].sourceIps[0].prefixLength: 129 is not 0-128',
    ],
    [
      { ip: '10.0.0.0', prefixLength: -1 },
      'groups[0].rules[0].matches[0].sourceIps[0].prefixLength: -1 is not 0-32',
    ],
    [
      { ip: '10.0.0.0/8', prefixLength: 8 },
      'groups[0].rules[0].matches[0].sourceIps[0].ip: "10.0.0.0/8" is not an IP address',
    ],
  ])('refuses to encode the CIDR %j', (sourceIp, problem) => {
    const policy = createAuthorization({
      name: 'p',
      namespace: 'ns',
      scope: 'GLOBAL',
      action: 'ALLOW',
      groups: [{ rules: [{ matches: [{ ...EMPTY_MATCH, sourceIps: [sourceIp] }] }] }],
    });
    expectInvalid(() => encodeAuthorization(policy), `authorization "ns/p": ${problem}`);
  });
});
