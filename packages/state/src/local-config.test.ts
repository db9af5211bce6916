import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, isMeshError } from '@ambient/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closestName } from './field-reader.js';
import { loadLocalConfig, parseLocalConfig } from './local-config.js';
import { pickEndpoint } from './select.js';
import { ProxyState } from './store.js';

const FILE = 'local.yaml';
const ECHO_KEY = 'default/echo.default.svc.cluster.local';

const FULL_EXAMPLE = `
workloads:
  - name: echo-a
    namespace: default
    uid: cluster1//v1/Pod/default/echo-a
    serviceAccount: echo
    workloadIps: ["127.0.1.1", "::ffff:127.0.1.2"]
    protocol: HBONE
    node: node-a
    trustDomain: example.org
    clusterId: cluster1
    network: net1
    canonicalName: echo
    canonicalRevision: v1
    workloadName: echo-deploy
    workloadType: pod
    status: Unhealthy
    locality: { region: eu, zone: eu-1, subzone: rack-3 }
    authorizationPolicies: [default/allow-echo]
    services:
      ${ECHO_KEY}: { 80: 8080 }
  - name: echo-b
    namespace: default
    workloadIps: ["127.0.1.3"]
    services:
      ${ECHO_KEY}:
services:
  - name: echo
    namespace: default
    hostname: echo.default.svc.cluster.local
    vips: ["/127.10.0.1", "net1/127.10.0.2", "127.10.0.3"]
    ports: { 80: 8080, 90: 0 }
    subjectAltNames: [spiffe://example.org/ns/default/sa/echo]
`;

function problemsOf(text: string): string[] {
  try {
    parseLocalConfig(text, FILE);
  } catch (error) {
    if (!isMeshError(error, ErrorCode.LocalConfigInvalid)) throw error;
    return error.message
      .split('\n')
      .slice(1)
      .map((line) => line.trim());
  }
  throw new Error('expected the config to be rejected');
}

/** A one-workload file (plus one service) with the given extra YAML lines in the workload. */
function withWorkload(lines: string): string {
  return `
workloads:
  - name: echo-a
    namespace: default
${lines
  .split('\n')
  .map((line) => `    ${line}`)
  .join('\n')}
services:
  - name: echo
    namespace: default
    hostname: echo.default.svc.cluster.local
    ports: { 80: 8080 }
`;
}

function withService(lines: string): string {
  return `
services:
  - name: echo
    namespace: default
    hostname: echo.default.svc.cluster.local
${lines
  .split('\n')
  .map((line) => `    ${line}`)
  .join('\n')}
`;
}

describe('parseLocalConfig: a full example', () => {
  const snapshot = parseLocalConfig(FULL_EXAMPLE, FILE);

  it('reads every workload field', () => {
    const [a] = snapshot.workloads;
    expect(a).toEqual({
      uid: 'cluster1//v1/Pod/default/echo-a',
      name: 'echo-a',
      namespace: 'default',
      workloadIps: ['127.0.1.1', '127.0.1.2'],
      network: 'net1',
      tunnelProtocol: 'HBONE',
      trustDomain: 'example.org',
      serviceAccount: 'echo',
      node: 'node-a',
      canonicalName: 'echo',
      canonicalRevision: 'v1',
      workloadName: 'echo-deploy',
      workloadType: 'pod',
      clusterId: 'cluster1',
      status: 'Unhealthy',
      locality: { region: 'eu', zone: 'eu-1', subzone: 'rack-3' },
      services: new Map([[ECHO_KEY, new Map([[80, 8080]])]]),
      authorizationPolicies: ['default/allow-echo'],
      identity: 'spiffe://example.org/ns/default/sa/echo',
    });
  });

  it('reads every service field', () => {
    expect(snapshot.services).toEqual([
      {
        name: 'echo',
        namespace: 'default',
        hostname: 'echo.default.svc.cluster.local',
        vips: [
          { network: '', ip: '127.10.0.1' },
          { network: 'net1', ip: '127.10.0.2' },
          { network: '', ip: '127.10.0.3' },
        ],
        ports: [
          { servicePort: 80, targetPort: 8080 },
          { servicePort: 90, targetPort: 0 },
        ],
        subjectAltNames: ['spiffe://example.org/ns/default/sa/echo'],
        key: ECHO_KEY,
      },
    ]);
  });

  it('feeds a ProxyState: an empty port map leaves the service target port in charge', () => {
    const state = new ProxyState(snapshot);
    const echo = state.serviceByVip('127.10.0.1');
    expect(echo?.key).toBe(ECHO_KEY);
    expect(state.workloadByIp('127.0.1.2', 'net1')?.name).toBe('echo-a');
    // echo-a is unhealthy, so echo-b is the only endpoint.
    const picked = echo && pickEndpoint(state, echo, 80, () => 0);
    expect(picked && { name: picked.workload.name, targetPort: picked.targetPort }).toEqual({
      name: 'echo-b',
      targetPort: 8080,
    });
  });
});

describe('parseLocalConfig: defaults', () => {
  const minimal = `
workloads:
  - name: echo-a
    namespace: default
    workloadIps: ["127.0.1.1"]
`;
  const [workload] = parseLocalConfig(minimal, FILE).workloads;

  it.each([
    ['uid', 'Kubernetes//v1/Pod/default/echo-a'],
    ['serviceAccount', 'default'],
    ['tunnelProtocol', 'NONE'],
    ['trustDomain', 'cluster.local'],
    ['clusterId', 'Kubernetes'],
    ['network', ''],
    ['node', ''],
    ['canonicalName', 'echo-a'],
    ['canonicalRevision', 'latest'],
    ['workloadName', 'echo-a'],
    ['workloadType', 'deployment'],
    ['status', 'Healthy'],
    ['identity', 'spiffe://cluster.local/ns/default/sa/default'],
  ] as const)('%s defaults to %j', (field, expected) => {
    expect(workload?.[field]).toBe(expected);
  });

  it('leaves locality unset and lists empty', () => {
    expect(workload && 'locality' in workload).toBe(false);
    expect(workload?.authorizationPolicies).toEqual([]);
    expect(workload?.services.size).toBe(0);
  });

  it('derives the uid from the cluster id, and the canonical name from the workload name', () => {
    const text = withWorkload('workloadIps: ["127.0.1.1"]\nclusterId: east\nworkloadName: echo');
    const [derived] = parseLocalConfig(text, FILE).workloads;
    expect(derived?.uid).toBe('east//v1/Pod/default/echo-a');
    expect(derived?.canonicalName).toBe('echo');
  });

  it('maps protocol TCP to tunnel protocol NONE', () => {
    const [tcp] = parseLocalConfig(withWorkload('workloadIps: ["127.0.1.1"]\nprotocol: TCP'), FILE).workloads;
    expect(tcp?.tunnelProtocol).toBe('NONE');
  });

  it('gives a service no VIPs, ports or SANs by default', () => {
    const [service] = parseLocalConfig(withService(''), FILE).services;
    expect(service && { vips: service.vips, ports: service.ports, sans: service.subjectAltNames }).toEqual({
      vips: [],
      ports: [],
      sans: [],
    });
  });

  it.each([
    ['an empty file', ''],
    ['a comment only', '# nothing yet\n'],
    ['empty lists', 'workloads: []\nservices: []\n'],
    ['empty keys', 'workloads:\nservices:\n'],
  ])('reads %s as an empty mesh', (_name, text) => {
    expect(parseLocalConfig(text, FILE)).toEqual({ workloads: [], services: [] });
  });
});

describe('parseLocalConfig: every invalid field is reported with file, object and field', () => {
  const W = `${FILE}: workloads[0] (default/echo-a)`;
  const S = `${FILE}: services[0] (default/echo.default.svc.cluster.local)`;
  const IP = 'workloadIps: ["127.0.1.1"]';

  it.each([
    [
      'unknown top-level field',
      'policies: []\n',
      `${FILE}: policies: unknown field (known: workloads, services)`,
    ],
    ['workloads not a list', 'workloads: {}\n', `${FILE}: workloads: expected a list, got {}`],
    ['workload not a mapping', 'workloads: [7]\n', `${FILE}: workloads[0]: expected a mapping, got 7`],
    [
      'name missing',
      'workloads:\n  - namespace: default\n    workloadIps: ["127.0.1.1"]\n',
      `${FILE}: workloads[0]: name: required`,
    ],
    [
      'namespace missing',
      'workloads:\n  - name: a\n    workloadIps: ["127.0.1.1"]\n',
      `${FILE}: workloads[0]: namespace: required`,
    ],
    [
      'name not a DNS name',
      'workloads:\n  - name: Echo_A\n    namespace: default\n    workloadIps: ["127.0.1.1"]\n',
      `${FILE}: workloads[0] (default/Echo_A): name: "Echo_A" is not a DNS subdomain (lower-case letters, digits, "-" and ".")`,
    ],
    [
      'namespace not a DNS label',
      'workloads:\n  - name: a\n    namespace: my.ns\n    workloadIps: ["127.0.1.1"]\n',
      `${FILE}: workloads[0] (my.ns/a): namespace: "my.ns" is not a DNS label (lower-case letters, digits and "-", at most 63)`,
    ],
    [
      'name not a string',
      'workloads:\n  - name: 12\n    namespace: default\n    workloadIps: ["127.0.1.1"]\n',
      `${FILE}: workloads[0]: name: expected a string, got 12`,
    ],
    ['workloadIps missing', withWorkload(''), `${W}: workloadIps: required (at least one IP address)`],
    [
      'workloadIps empty',
      withWorkload('workloadIps: []'),
      `${W}: workloadIps: at least one IP address is required`,
    ],
    [
      'workloadIps not a list',
      withWorkload('workloadIps: 127.0.1.1'),
      `${W}: workloadIps: expected a list, got "127.0.1.1"`,
    ],
    [
      'workload IP invalid',
      withWorkload('workloadIps: ["127.0.1.1", "x"]'),
      `${W}: workloadIps[1]: "x" is not an IP address`,
    ],
    [
      'misspelt field',
      withWorkload(`${IP}\nservicAccount: echo`),
      `${W}: servicAccount: unknown field (did you mean serviceAccount?)`,
    ],
    [
      'unknown field',
      withWorkload(`${IP}\nhostNetwork: true`),
      `${W}: hostNetwork: unknown field (known: name, namespace, uid, serviceAccount, workloadIps, protocol, node, trustDomain, clusterId, network, canonicalName, canonicalRevision, workloadName, workloadType, status, locality, authorizationPolicies, services)`,
    ],
    ['protocol', withWorkload(`${IP}\nprotocol: hbone`), `${W}: protocol: "hbone" is not one of HBONE, TCP`],
    [
      'workloadType',
      withWorkload(`${IP}\nworkloadType: statefulset`),
      `${W}: workloadType: "statefulset" is not one of deployment, cronjob, pod, job`,
    ],
    [
      'status',
      withWorkload(`${IP}\nstatus: healthy`),
      `${W}: status: "healthy" is not one of Healthy, Unhealthy`,
    ],
    [
      'serviceAccount',
      withWorkload(`${IP}\nserviceAccount: "a/b"`),
      `${W}: serviceAccount: "a/b" is not a DNS subdomain (lower-case letters, digits, "-" and ".")`,
    ],
    [
      'trustDomain',
      withWorkload(`${IP}\ntrustDomain: Example.org`),
      `${W}: trustDomain: "Example.org" is not a trust domain (lower-case letters, digits, ".", "-", "_")`,
    ],
    ['node', withWorkload(`${IP}\nnode: [a]`), `${W}: node: expected a string, got ["a"]`],
    [
      'locality not a mapping',
      withWorkload(`${IP}\nlocality: eu`),
      `${W}: locality: expected a mapping, got "eu"`,
    ],
    [
      'locality field',
      withWorkload(`${IP}\nlocality: { region: eu, zoen: eu-1 }`),
      `${W}: locality: zoen: unknown field (known: region, zone, subzone)`,
    ],
    [
      'locality value',
      withWorkload(`${IP}\nlocality: { region: 1 }`),
      `${W}: locality: region: expected a string, got 1`,
    ],
    [
      'authorization policy key',
      withWorkload(`${IP}\nauthorizationPolicies: [default/ok, bad]`),
      `${W}: authorizationPolicies[1]: "bad" is not "namespace/name"`,
    ],
    [
      'services not a mapping',
      withWorkload(`${IP}\nservices: [a]`),
      `${W}: services: expected a mapping, got ["a"]`,
    ],
    [
      'service key form',
      withWorkload(`${IP}\nservices: { echo: {} }`),
      `${W}: services["echo"]: "echo" is not "namespace/hostname"`,
    ],
    [
      'service ports not a mapping',
      withWorkload(`${IP}\nservices: { ${ECHO_KEY}: [80] }`),
      `${W}: services["${ECHO_KEY}"]: expected a mapping of service port to target port, got [80]`,
    ],
    [
      'service port',
      withWorkload(`${IP}\nservices: { ${ECHO_KEY}: { 0: 8080 } }`),
      `${W}: services["${ECHO_KEY}"][0]: "0" is not a port (1-65535)`,
    ],
    [
      'target port',
      withWorkload(`${IP}\nservices: { ${ECHO_KEY}: { 80: 70000 } }`),
      `${W}: services["${ECHO_KEY}"][80]: target 70000 is not a port (0-65535)`,
    ],
    [
      'target port as text',
      withWorkload(`${IP}\nservices: { ${ECHO_KEY}: { 80: "8080" } }`),
      `${W}: services["${ECHO_KEY}"][80]: target "8080" is not a port (0-65535)`,
    ],
    [
      'unknown service',
      withWorkload(`${IP}\nservices: { default/other.svc: {} }`),
      `${W}: services["default/other.svc"]: no service with this namespace/hostname is defined under services`,
    ],
    [
      'port the service lacks',
      withWorkload(`${IP}\nservices: { ${ECHO_KEY}: { 81: 8081 } }`),
      `${W}: services["${ECHO_KEY}"][81]: not a port of services[0] (default/echo.default.svc.cluster.local)`,
    ],
    ['services list not a list', 'services: {}\n', `${FILE}: services: expected a list, got {}`],
    ['service not a mapping', 'services: [x]\n', `${FILE}: services[0]: expected a mapping, got "x"`],
    [
      'service hostname missing',
      'services:\n  - name: echo\n    namespace: default\n',
      `${FILE}: services[0]: hostname: required`,
    ],
    [
      'service hostname invalid',
      'services:\n  - name: echo\n    namespace: default\n    hostname: "echo svc"\n',
      `${FILE}: services[0] (default/echo svc): hostname: "echo svc" is not a hostname`,
    ],
    [
      'service name missing',
      'services:\n  - namespace: default\n    hostname: echo.svc\n',
      `${FILE}: services[0] (default/echo.svc): name: required`,
    ],
    [
      'service unknown field',
      withService('port: { 80: 8080 }'),
      `${S}: port: unknown field (did you mean ports?)`,
    ],
    [
      'VIP',
      withService('vips: ["10.0.0.0/24"]'),
      `${S}: vips[0]: "10.0.0.0/24" is not "network/ip" or an IP address`,
    ],
    ['VIP not a string', withService('vips: [1]'), `${S}: vips[0]: 1 is not "network/ip" or an IP address`],
    [
      'service port key',
      withService('ports: { http: 8080 }'),
      `${S}: ports[http]: "http" is not a port (1-65535)`,
    ],
    [
      'service target port',
      withService('ports: { 80: -1 }'),
      `${S}: ports[80]: target -1 is not a port (0-65535)`,
    ],
    [
      'service ports not a mapping',
      withService('ports: [80]'),
      `${S}: ports: expected a mapping of service port to target port, got [80]`,
    ],
    [
      'subject alt name',
      withService('subjectAltNames: [1]'),
      `${S}: subjectAltNames[0]: expected a string, got 1`,
    ],
  ])('%s', (_name, text, expected) => {
    expect(problemsOf(text)).toEqual([expected]);
  });

  it('reports several problems in several objects in one error', () => {
    const text = `
workloads:
  - name: echo-a
    namespace: default
    workloadIps: ["127.0.1.1", "x"]
    protocol: QUIC
  - name: echo-b
    namespace: default
    workloadIps: []
services:
  - name: echo
    namespace: default
    hostname: echo.default.svc.cluster.local
    vips: ["nope"]
`;
    let message = '';
    try {
      parseLocalConfig(text, FILE);
    } catch (error) {
      expect(isMeshError(error, ErrorCode.LocalConfigInvalid)).toBe(true);
      message = (error as Error).message;
    }
    expect(message.split('\n')).toEqual([
      `invalid local config ${FILE} (4 problems):`,
      `  ${FILE}: workloads[0] (default/echo-a): workloadIps[1]: "x" is not an IP address`,
      `  ${FILE}: workloads[0] (default/echo-a): protocol: "QUIC" is not one of HBONE, TCP`,
      `  ${FILE}: workloads[1] (default/echo-b): workloadIps: at least one IP address is required`,
      `  ${FILE}: services[0] (default/echo.default.svc.cluster.local): vips[0]: "nope" is not "network/ip" or an IP address`,
    ]);
  });
});

describe('parseLocalConfig: duplicates', () => {
  function twoWorkloads(first: string, second: string): string {
    return `
workloads:
  - { name: echo-a, namespace: default, ${first} }
  - { name: echo-b, namespace: default, ${second} }
`;
  }

  it.each([
    [
      'an explicit uid',
      twoWorkloads('uid: u1, workloadIps: ["127.0.1.1"]', 'uid: u1, workloadIps: ["127.0.1.2"]'),
      [
        `${FILE}: workloads[1] (default/echo-b): uid: "u1" is already the uid of workloads[0] (default/echo-a)`,
      ],
    ],
    [
      'a derived uid',
      `
workloads:
  - { name: echo-a, namespace: default, workloadIps: ["127.0.1.1"] }
  - { name: echo-a, namespace: default, workloadIps: ["127.0.1.2"] }
`,
      [
        `${FILE}: workloads[1] (default/echo-a): uid: "Kubernetes//v1/Pod/default/echo-a" is already the uid of workloads[0] (default/echo-a)`,
      ],
    ],
    [
      'an IP across workloads, written differently',
      twoWorkloads('workloadIps: ["127.0.1.1"]', 'workloadIps: ["::ffff:127.0.1.1"]'),
      [
        `${FILE}: workloads[1] (default/echo-b): workloadIps[0]: "127.0.1.1" is already used by workloads[0] (default/echo-a): workloadIps[0]`,
      ],
    ],
    [
      'an IP within one workload',
      twoWorkloads('workloadIps: ["127.0.1.1", "127.0.1.1"]', 'workloadIps: ["127.0.1.2"]'),
      [
        `${FILE}: workloads[0] (default/echo-a): workloadIps[1]: "127.0.1.1" is already used by workloads[0] (default/echo-a): workloadIps[0]`,
      ],
    ],
    [
      'a service key',
      `
services:
  - { name: echo, namespace: default, hostname: echo.svc }
  - { name: echo2, namespace: default, hostname: echo.svc }
`,
      [
        `${FILE}: services[1] (default/echo.svc): hostname: "default/echo.svc" is already the key of services[0] (default/echo.svc)`,
      ],
    ],
    [
      'a VIP across services',
      `
services:
  - { name: a, namespace: default, hostname: a.svc, vips: ["127.10.0.1"] }
  - { name: b, namespace: default, hostname: b.svc, vips: ["/127.10.0.1"] }
`,
      [
        `${FILE}: services[1] (default/b.svc): vips[0]: "127.10.0.1" is already used by services[0] (default/a.svc): vips[0]`,
      ],
    ],
    [
      'a VIP that is a workload IP',
      `
workloads:
  - { name: echo-a, namespace: default, workloadIps: ["127.0.1.1"] }
services:
  - { name: a, namespace: default, hostname: a.svc, vips: ["127.0.1.1"] }
`,
      [
        `${FILE}: services[0] (default/a.svc): vips[0]: "127.0.1.1" is already used by workloads[0] (default/echo-a): workloadIps[0]`,
      ],
    ],
  ])('rejects %s', (_name, text, expected) => {
    expect(problemsOf(text)).toEqual(expected);
  });

  it('allows one IP on two networks', () => {
    const text = twoWorkloads('workloadIps: ["127.0.1.1"]', 'network: west, workloadIps: ["127.0.1.1"]');
    const state = new ProxyState(parseLocalConfig(text, FILE));
    expect(state.workloadByIp('127.0.1.1', '')?.name).toBe('echo-a');
    expect(state.workloadByIp('127.0.1.1', 'west')?.name).toBe('echo-b');
  });
});

describe('parseLocalConfig: YAML itself', () => {
  it.each([
    ['a syntax error', 'workloads: [1\nservices: 2\n', /^local\.yaml: yaml: .*line 2, column 1$/],
    [
      'a duplicate key',
      'workloads: []\nworkloads: []\n',
      /^local\.yaml: yaml: Map keys must be unique at line 2, column 1$/,
    ],
    ['an unresolved alias', 'workloads: *nothing\n', /^local\.yaml: yaml: /],
    [
      'a top level that is not a mapping',
      '- a\n',
      /^local\.yaml: top level: expected a mapping with workloads and services, got \["a"\]$/,
    ],
  ])('reports %s', (_name, text, expected) => {
    const problems = problemsOf(text);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(expected);
  });
});

describe('loadLocalConfig', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'state-local-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads and parses a file', async () => {
    const path = join(dir, 'mesh.yaml');
    await writeFile(path, FULL_EXAMPLE);
    const snapshot = await loadLocalConfig(path);
    expect(snapshot.workloads.map((workload) => workload.name)).toEqual(['echo-a', 'echo-b']);
  });

  it('names the file in every problem', async () => {
    const path = join(dir, 'bad.yaml');
    await writeFile(path, 'workloads: [7]\n');
    await expect(loadLocalConfig(path)).rejects.toThrow(`${path}: workloads[0]: expected a mapping, got 7`);
  });

  it('reports an unreadable file as invalid local config', async () => {
    const path = join(dir, 'missing.yaml');
    const error: unknown = await loadLocalConfig(path).catch((caught: unknown) => caught);
    expect(isMeshError(error, ErrorCode.LocalConfigInvalid)).toBe(true);
    expect((error as Error).message).toContain(`cannot read local config ${path}`);
  });
});

describe('closestName', () => {
  it.each([
    ['servicAccount', 'serviceAccount'],
    ['WorkloadIps', 'workloadIps'],
    ['nod', 'node'],
    ['zzz', undefined],
    ['hostNetwork', undefined],
  ])('%s → %s', (name, expected) => {
    expect(closestName(name, ['serviceAccount', 'workloadIps', 'node', 'name'])).toBe(expected);
  });
});
