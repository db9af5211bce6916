import { security } from '@ambient/protos';
import { describe, expect, it } from 'vitest';
import { createAuthorization, EMPTY_MATCH } from '../authorization.js';
import { convertAuthorization } from './convert-authorization.js';
import {
  authorizationBytes,
  expectInvalid,
  unknownEnumValue,
  ip,
  oneMatchPolicy,
  wireMatch,
} from './test-wire.js';

const exact = (value: string): security.StringMatch => ({ matchType: { $case: 'exact', value } });
const presence: security.StringMatch = { matchType: { $case: 'presence', value: {} } };
const MATCH_PATH = 'groups[0].rules[0].matches[0]';

describe('convertAuthorization', () => {
  it('reads every field of every match', () => {
    const bytes = authorizationBytes({
      name: 'allow-echo',
      namespace: 'default',
      scope: security.Scope.WORKLOAD_SELECTOR,
      action: security.Action.DENY,
      dryRun: true,
      groups: [
        {
          rules: [
            {
              matches: [
                wireMatch({
                  namespaces: [exact('shop'), { matchType: { $case: 'prefix', value: 'team-' } }],
                  notNamespaces: [{ matchType: { $case: 'suffix', value: '-test' } }],
                  serviceAccounts: [{ namespace: 'shop', serviceAccount: 'cart' }],
                  notServiceAccounts: [{ namespace: 'shop', serviceAccount: 'admin' }],
                  principals: [exact('cluster.local/ns/shop/sa/cart')],
                  notPrincipals: [presence],
                  sourceIps: [{ address: ip('10.0.0.0'), length: 8 }],
                  notSourceIps: [{ address: ip('10.1.2.3'), length: 32 }],
                  destinationIps: [{ address: ip('fd00::'), length: 64 }],
                  notDestinationIps: [{ address: ip('::'), length: 0 }],
                  destinationPorts: [80, 443],
                  notDestinationPorts: [65535],
                }),
                wireMatch({ destinationPorts: [1] }),
              ],
            },
            { matches: [] },
          ],
        },
        { rules: [] },
      ],
    });
    expect(convertAuthorization('default/allow-echo', bytes)).toEqual(
      createAuthorization({
        name: 'allow-echo',
        namespace: 'default',
        scope: 'WORKLOAD_SELECTOR',
        action: 'DENY',
        dryRun: true,
        groups: [
          {
            rules: [
              {
                matches: [
                  {
                    namespaces: [
                      { kind: 'exact', value: 'shop' },
                      { kind: 'prefix', value: 'team-' },
                    ],
                    notNamespaces: [{ kind: 'suffix', value: '-test' }],
                    serviceAccounts: [{ namespace: 'shop', serviceAccount: 'cart' }],
                    notServiceAccounts: [{ namespace: 'shop', serviceAccount: 'admin' }],
                    principals: [{ kind: 'exact', value: 'cluster.local/ns/shop/sa/cart' }],
                    notPrincipals: [{ kind: 'presence' }],
                    sourceIps: [{ ip: '10.0.0.0', prefixLength: 8 }],
                    notSourceIps: [{ ip: '10.1.2.3', prefixLength: 32 }],
                    destinationIps: [{ ip: 'fd00::', prefixLength: 64 }],
                    notDestinationIps: [{ ip: '::', prefixLength: 0 }],
                    destinationPorts: [80, 443],
                    notDestinationPorts: [65535],
                  },
                  { ...EMPTY_MATCH, destinationPorts: [1] },
                ],
              },
              { matches: [] },
            ],
          },
          { rules: [] },
        ],
      }),
    );
  });

  it('reads a policy with defaults only: GLOBAL, ALLOW, no groups, not a dry run', () => {
    expect(
      convertAuthorization('istio-system/p', authorizationBytes({ name: 'p', namespace: 'istio-system' })),
    ).toEqual(
      createAuthorization({
        name: 'p',
        namespace: 'istio-system',
        scope: 'GLOBAL',
        action: 'ALLOW',
        groups: [],
      }),
    );
  });

  it.each([
    [security.Scope.GLOBAL, 'GLOBAL'],
    [security.Scope.NAMESPACE, 'NAMESPACE'],
    [security.Scope.WORKLOAD_SELECTOR, 'WORKLOAD_SELECTOR'],
  ])('scope %i → %s', (scope, expected) => {
    expect(
      convertAuthorization('ns/p', authorizationBytes({ name: 'p', namespace: 'ns', scope })).scope,
    ).toBe(expected);
  });

  it.each([
    [security.Action.ALLOW, 'ALLOW'],
    [security.Action.DENY, 'DENY'],
  ])('action %i → %s', (action, expected) => {
    expect(
      convertAuthorization('ns/p', authorizationBytes({ name: 'p', namespace: 'ns', action })).action,
    ).toBe(expected);
  });

  it('keeps an IPv4-mapped CIDR in IPv6 form, its prefix counting IPv6 bits', () => {
    const policy = convertAuthorization(
      'ns/p',
      oneMatchPolicy({ sourceIps: [{ address: ip('::ffff:a00:0'), length: 104 }] }),
    );
    expect(policy.groups[0]?.rules[0]?.matches[0]?.sourceIps).toEqual([
      { ip: '::ffff:10.0.0.0', prefixLength: 104 },
    ]);
  });

  it('accepts the longest prefixes: /32 and /128', () => {
    const policy = convertAuthorization(
      'ns/p',
      oneMatchPolicy({
        sourceIps: [
          { address: ip('10.0.0.1'), length: 32 },
          { address: ip('fd00::1'), length: 128 },
        ],
      }),
    );
    expect(policy.groups[0]?.rules[0]?.matches[0]?.sourceIps).toEqual([
      { ip: '10.0.0.1', prefixLength: 32 },
      { ip: 'fd00::1', prefixLength: 128 },
    ]);
  });

  it.each<[string, string, Uint8Array, string]>([
    [
      'a name other than the resource name',
      'ns/other',
      authorizationBytes({ name: 'p', namespace: 'ns' }),
      'authorization "ns/other": namespace/name: "ns/p" does not match the resource name',
    ],
    ['no namespace', '/p', authorizationBytes({ name: 'p' }), 'authorization "/p": namespace: required'],
    ['no name', 'ns/', authorizationBytes({ namespace: 'ns' }), 'authorization "ns/": name: required'],
    [
      'an unknown scope',
      'ns/p',
      authorizationBytes({ name: 'p', namespace: 'ns', scope: unknownEnumValue(security.Scope, 3) }),
      'authorization "ns/p": scope: unknown value 3',
    ],
    [
      'an unknown action (AUDIT, CUSTOM are never sent)',
      'ns/p',
      authorizationBytes({ name: 'p', namespace: 'ns', action: unknownEnumValue(security.Action, 2) }),
      'authorization "ns/p": action: unknown value 2',
    ],
    [
      'a string match without a match type',
      'ns/p',
      oneMatchPolicy({ principals: [exact('a'), {}] }),
      `authorization "ns/p": ${MATCH_PATH}.principals[1]: no match type (exact, prefix, suffix or presence)`,
    ],
    [
      'a negative string match without a match type',
      'ns/p',
      oneMatchPolicy({ notNamespaces: [{}] }),
      `authorization "ns/p": ${MATCH_PATH}.not_namespaces[0]: no match type (exact, prefix, suffix or presence)`,
    ],
    [
      'a 5-byte source address',
      'ns/p',
      oneMatchPolicy({ sourceIps: [{ address: Buffer.alloc(5), length: 8 }] }),
      `authorization "ns/p": ${MATCH_PATH}.source_ips[0].address: expected 4 or 16 bytes, got 5`,
    ],
    [
      'an IPv4 prefix of 33',
      'ns/p',
      oneMatchPolicy({ notSourceIps: [{ address: ip('10.0.0.0'), length: 33 }] }),
      `authorization "ns/p": ${MATCH_PATH}.not_source_ips[0].length: prefix length 33 is longer than 32`,
    ],
    [
      'an IPv6 prefix of 129',
      'ns/p',
      oneMatchPolicy({ destinationIps: [{ address: ip('fd00::'), length: 129 }] }),
      `authorization "ns/p": ${MATCH_PATH}.destination_ips[0].length: prefix length 129 is longer than 128`,
    ],
    [
      'an empty negative destination address',
      'ns/p',
      oneMatchPolicy({ notDestinationIps: [{ address: Buffer.alloc(0), length: 0 }] }),
      `authorization "ns/p": ${MATCH_PATH}.not_destination_ips[0].address: expected 4 or 16 bytes, got 0`,
    ],
    [
      'a destination port of 0',
      'ns/p',
      oneMatchPolicy({ destinationPorts: [80, 0] }),
      `authorization "ns/p": ${MATCH_PATH}.destination_ports[1]: 0 is not a port (1-65535)`,
    ],
    [
      'a negative destination port over 65535',
      'ns/p',
      oneMatchPolicy({ notDestinationPorts: [65536] }),
      `authorization "ns/p": ${MATCH_PATH}.not_destination_ports[0]: 65536 is not a port (1-65535)`,
    ],
    [
      'problems in later groups, rules and matches, all at once',
      'ns/p',
      authorizationBytes({
        name: 'p',
        namespace: 'ns',
        action: unknownEnumValue(security.Action, 5),
        groups: [
          { rules: [] },
          {
            rules: [
              { matches: [wireMatch({})] },
              { matches: [wireMatch({}), wireMatch({ destinationPorts: [0] })] },
            ],
          },
        ],
      }),
      'authorization "ns/p": action: unknown value 5; groups[1].rules[1].matches[1].destination_ports[0]: 0 is not a port (1-65535)',
    ],
  ])('rejects %s', (_, name, bytes, message) => {
    expectInvalid(() => convertAuthorization(name, bytes), message);
  });

  it('rejects bytes that are not a protobuf message', () => {
    expect(() => convertAuthorization('ns/p', Uint8Array.from([0x2a, 0x09]))).toThrow(
      /^authorization "ns\/p": cannot decode istio\.security\.Authorization: /,
    );
  });
});
