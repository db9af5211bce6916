import { describe, expect, it } from 'vitest';
import { networkBatch, nodeBatch, nodeSysctls, podBatch } from './batches.js';
import { clusterNetnsPattern, planCluster, type ClusterPlan, type NetnsNode, type NetnsPod } from './plan.js';

function node(plan: ClusterPlan, index: number): NetnsNode {
  const found = plan.nodes[index];
  if (found === undefined) throw new Error(`no node ${index}`);
  return found;
}

function pod(plan: ClusterPlan, nodeIndex: number, podIndex: number): NetnsPod {
  const found = node(plan, nodeIndex).pods[podIndex];
  if (found === undefined) throw new Error(`no pod ${nodeIndex}/${podIndex}`);
  return found;
}

describe('planCluster', () => {
  it('names every namespace <prefix>-<suffix>-… and numbers nodes and pods into 10.99/16', () => {
    const plan = planCluster({ nodes: 2, podsPerNode: 2, prefix: 'ci' }, 'abc123');
    expect(plan.id).toBe('ci-abc123');
    expect(plan.namespaces).toEqual([
      'ci-abc123-net',
      'ci-abc123-n0',
      'ci-abc123-n0p0',
      'ci-abc123-n0p1',
      'ci-abc123-n1',
      'ci-abc123-n1p0',
      'ci-abc123-n1p1',
    ]);
    expect(node(plan, 1)).toEqual({
      name: 'node-1',
      netnsName: 'ci-abc123-n1',
      netnsPath: '/var/run/netns/ci-abc123-n1',
      ip: '10.99.0.2',
      podCidr: '10.99.2.0/24',
      pods: [
        {
          name: 'node-1-pod-0',
          netnsName: 'ci-abc123-n1p0',
          netnsPath: '/var/run/netns/ci-abc123-n1p0',
          ip: '10.99.2.2',
          node: 'node-1',
          gateway: '10.99.2.1',
          nodeInterface: 'p0',
        },
        {
          name: 'node-1-pod-1',
          netnsName: 'ci-abc123-n1p1',
          netnsPath: '/var/run/netns/ci-abc123-n1p1',
          ip: '10.99.2.3',
          node: 'node-1',
          gateway: '10.99.2.1',
          nodeInterface: 'p1',
        },
      ],
    });
  });

  it('adds fd00:99::/32 addresses only with IPv6, in hex', () => {
    const plan = planCluster({ nodes: 12, podsPerNode: 10, ipv6: true }, 'zzzzzz');
    const twelfth = node(plan, 11);
    expect(twelfth).toMatchObject({ ipv6: 'fd00:99::c', podCidrIpv6: 'fd00:99:c::/64' });
    expect(pod(plan, 11, 9)).toMatchObject({
      ip: '10.99.12.11',
      ipv6: 'fd00:99:c::b',
      gatewayIpv6: 'fd00:99:c::1',
    });
    const v4only = planCluster({ nodes: 1, podsPerNode: 1, ipv6: true }, 'zzzzzz', false);
    expect(node(v4only, 0)).not.toHaveProperty('ipv6');
    expect(pod(v4only, 0, 0)).not.toHaveProperty('ipv6');
  });

  it('uses the default prefix and a fresh random suffix', () => {
    const first = planCluster({ nodes: 1, podsPerNode: 0 });
    const second = planCluster({ nodes: 1, podsPerNode: 0 });
    expect(first.id).toMatch(/^ambient-[a-z0-9]{6}$/);
    expect(first.id).not.toBe(second.id);
  });

  it.each([
    [{ nodes: 0, podsPerNode: 1 }, /nodes must be an integer from 1 to 254/],
    [{ nodes: 255, podsPerNode: 1 }, /nodes must be/],
    [{ nodes: 1.5, podsPerNode: 1 }, /nodes must be/],
    [{ nodes: 1, podsPerNode: 254 }, /podsPerNode must be an integer from 0 to 253/],
    [{ nodes: 1, podsPerNode: -1 }, /podsPerNode must be/],
    [{ nodes: 1, podsPerNode: 1, prefix: 'Upper' }, /netns prefix "Upper"/],
    [{ nodes: 1, podsPerNode: 1, prefix: 'trailing-' }, /netns prefix/],
    [{ nodes: 1, podsPerNode: 1, prefix: '../escape' }, /netns prefix/],
    [{ nodes: 1, podsPerNode: 1, prefix: 'a'.repeat(33) }, /netns prefix/],
  ])('rejects %j', (options, message) => {
    expect(() => planCluster(options, 'abc123')).toThrow(message);
  });

  it('rejects a suffix that sweep would not recognise', () => {
    expect(() => planCluster({ nodes: 1, podsPerNode: 1 }, 'ABC')).toThrow(/suffix/);
  });
});

describe('clusterNetnsPattern', () => {
  it.each([
    ['ci-abc123-net', 'ci-abc123'],
    ['ci-abc123-n0', 'ci-abc123'],
    ['ci-abc123-n12p7', 'ci-abc123'],
    ['ci-abc123-x', undefined],
    ['cix-abc123-net', undefined],
    ['ci-abc12-net', undefined],
    ['ci-abc123-n0p', undefined],
    ['other-abc123-net', undefined],
    ['ci-more-abc123-net', undefined],
  ])('%s belongs to cluster %s', (name, clusterId) => {
    expect(clusterNetnsPattern('ci').exec(name)?.[1]).toBe(clusterId);
  });
});

describe('ip batch scripts', () => {
  const plan = planCluster({ nodes: 3, podsPerNode: 2, ipv6: true }, 'abc123', true);
  const scripts = [
    networkBatch(plan),
    ...plan.nodes.map((each) => nodeBatch(plan, each)),
    ...plan.nodes.flatMap((each) => each.pods.map((pod) => podBatch(plan, pod))),
  ];
  const lines = scripts.flatMap((script) => script.trim().split('\n'));

  it('creates every veth with its peer inside a cluster namespace, never in the host', () => {
    const linkAdds = lines.filter((line) => line.startsWith('link add') && line.includes('veth'));
    expect(linkAdds).toHaveLength(3 + 3 * 2);
    for (const line of linkAdds) expect(line).toMatch(/ peer name eth0 netns ambient-abc123-n\d+(p\d+)?$/);
  });

  it('keeps every interface name within the kernel’s 15 characters', () => {
    const names = lines.flatMap((line) =>
      [...line.matchAll(/(?:link add|dev|name) (\S+)/g)].map((m) => m[1] ?? ''),
    );
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(name.length).toBeLessThanOrEqual(15);
  });

  it('makes every IPv6 address usable at once, link-local ones included', () => {
    const v6Addresses = lines.filter((line) => /^addr add [0-9a-f]*:/.test(line));
    // 3 node uplinks + 6 pods, each end: global and link-local.
    expect(v6Addresses).toHaveLength((3 + 6 + 6) * 2);
    for (const line of v6Addresses) expect(line).toMatch(/ nodad$/);
    const linkUps = lines.filter((line) => /^link set (?!lo )\S+ up$/.test(line));
    const addrgenNone = lines.filter((line) => line.endsWith(' addrgenmode none'));
    expect(addrgenNone).toHaveLength(linkUps.length);
  });

  it('gives each node a distinct link-local address on the shared node network', () => {
    const uplinkLinkLocals = plan.nodes.map((each) =>
      nodeBatch(plan, each)
        .split('\n')
        .find((line) => line.startsWith('addr add fe80') && line.includes('dev eth0')),
    );
    expect(uplinkLinkLocals).toEqual([
      'addr add fe80::1/64 dev eth0 nodad',
      'addr add fe80::2/64 dev eth0 nodad',
      'addr add fe80::3/64 dev eth0 nodad',
    ]);
  });

  it('routes a node to the other nodes’ pods via their node IPs', () => {
    expect(nodeBatch(plan, node(plan, 0))).toContain('route add 10.99.2.0/24 via 10.99.0.2 dev eth0\n');
    expect(nodeBatch(plan, node(plan, 0))).toContain('route add fd00:99:3::/64 via fd00:99::3 dev eth0\n');
    expect(nodeBatch(plan, node(plan, 0))).not.toContain('route add 10.99.1.0/24');
  });

  it('sends a pod’s traffic to its node', () => {
    const script = podBatch(plan, pod(plan, 1, 1));
    expect(script).toContain('route add default via 10.99.2.1 dev eth0\n');
    expect(script).toContain('route add default via fd00:99:2::1 dev eth0\n');
  });

  it('leaves IPv6 out of an IPv4 cluster entirely', () => {
    const v4 = planCluster({ nodes: 2, podsPerNode: 1 }, 'abc123');
    const text = [networkBatch(v4), nodeBatch(v4, node(v4, 0)), podBatch(v4, pod(v4, 0, 0))].join('');
    expect(text).not.toMatch(/fd00|addrgenmode|nodad/);
    expect(nodeSysctls(false)).toEqual(['net.ipv4.ip_forward=1']);
    expect(nodeSysctls(true)).toEqual(['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
  });
});
