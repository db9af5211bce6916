import { execFileSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, ErrorCode, isMeshError } from '@ambient/core';
import { installInpodRules, removeInpodRules } from './inpod-install.js';
import { INPOD_MARK, ZTUNNEL_OUTBOUND_PORT } from './inpod-rules.js';
import { dialInNetns, listenInNetns } from './netns-sockets.js';
import { originalDestination, socketFd } from './sockets.js';
import { addEmptyNetwork, createTestNetns, NEEDS_ROOT, readAll, type TestNetns } from './test-netns.js';

let ns: TestNetns | undefined;

function netns(): TestNetns {
  if (ns === undefined) throw new Error('no test namespace');
  return ns;
}

/** Rules and chains (not the table and built-in chain headers nft always shows once a table exists). */
function ruleLines(saved: string): string[] {
  return saved.split('\n').filter((line) => line.startsWith('-A ') || line.startsWith(':ISTIO'));
}

// A table that never had a route "does not exist" for ip(8): that is empty too.
function routesOfTable100(family: 4 | 6): string {
  try {
    return netns().run('ip', [`-${String(family)}`, 'route', 'show', 'table', '100']);
  } catch {
    return '';
  }
}

function state(): { v4: string[]; v6: string[]; rules: string; routes: string } {
  return {
    v4: ruleLines(netns().run('iptables-nft-save', [])),
    v6: ruleLines(netns().run('ip6tables-nft-save', [])),
    rules:
      netns().run('ip', ['rule', 'show', 'pref', '32764']) +
      netns().run('ip', ['-6', 'rule', 'show', 'pref', '32764']),
    routes: routesOfTable100(4) + routesOfTable100(6),
  };
}

beforeAll(() => {
  expect(process.getuid?.(), NEEDS_ROOT).toBe(0);
  ns = createTestNetns('inpod');
  addEmptyNetwork(netns());
});

afterAll(() => {
  ns?.remove();
});

describe('installInpodRules / removeInpodRules', () => {
  it('install the rules and routes in the pod namespace, and remove exactly them', async () => {
    expect(state()).toEqual({ v4: [], v6: [], rules: '', routes: '' });

    await installInpodRules(netns().path);
    const installed = state();
    expect(installed.v4).toContain('-A PREROUTING -j ISTIO_PRERT');
    expect(installed.v4).toContain(
      '-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -p tcp -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15001',
    );
    expect(installed.v6).toContain(
      '-A ISTIO_PRERT ! -d ::1/128 -p tcp -m tcp ! --dport 15008 -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15006',
    );
    expect(installed.rules).toContain('fwmark 0x111/0xfff lookup 100');
    expect(installed.routes).toContain('local default dev lo');

    // Installing again replaces rather than duplicates.
    await installInpodRules(netns().path);
    expect(state()).toEqual(installed);

    await removeInpodRules(netns().path);
    expect(state()).toEqual({ v4: [], v6: [], rules: '', routes: '' });
    // Removing what is not there is no error.
    await removeInpodRules(netns().path);
  });

  it('with DNS capture too, removal leaves nothing behind', async () => {
    await installInpodRules(netns().path, { redirectDns: true });
    expect(state().v4).toContain(
      '-A ISTIO_OUTPUT -p udp -m mark --mark 0x539/0xfff -m udp --dport 53 -j CT --zone 1',
    );
    await removeInpodRules(netns().path, { redirectDns: true });
    expect(state()).toEqual({ v4: [], v6: [], rules: '', routes: '' });
  });

  it("capture the pod's outbound TCP to 15001, where SO_ORIGINAL_DST names the real destination", async () => {
    await installInpodRules(netns().path);
    const outbound = createServer((socket) => {
      socket.end(JSON.stringify(originalDestination(socketFd(socket))));
    });
    try {
      await listenInNetns(outbound, netns().fd, {
        family: 6,
        address: '::',
        port: ZTUNNEL_OUTBOUND_PORT,
        mark: INPOD_MARK,
        reusePort: true,
      });
      const app = await dialInNetns(netns().fd, { family: 4, address: '10.200.0.99', port: 80 });
      expect(JSON.parse(await readAll(app))).toEqual({ address: '10.200.0.99', port: 80, family: 4 });
      const app6 = await dialInNetns(netns().fd, { family: 6, address: 'fd00:200::99', port: 8443 });
      expect(JSON.parse(await readAll(app6))).toEqual({ address: 'fd00:200::99', port: 8443, family: 6 });
      expect((outbound.address() as AddressInfo).port).toBe(ZTUNNEL_OUTBOUND_PORT);
    } finally {
      await closeServer(outbound);
      await removeInpodRules(netns().path);
    }
  });

  it("refuse this process's own (the host's) namespace", async () => {
    const hostBefore = execFileSync('iptables-nft-save', [], { encoding: 'utf8' }).includes('ISTIO_PRERT');
    const failure = await installInpodRules('/proc/self/ns/net').catch((err: unknown) => err);
    expect(isMeshError(failure, ErrorCode.RedirectRulesFailed)).toBe(true);
    const removal = await removeInpodRules('/proc/self/ns/net').catch((err: unknown) => err);
    expect(isMeshError(removal, ErrorCode.RedirectRulesFailed)).toBe(true);
    expect(execFileSync('iptables-nft-save', [], { encoding: 'utf8' }).includes('ISTIO_PRERT')).toBe(
      hostBefore,
    );
  });

  it('fail with MESH_ERR_REDIRECT_RULES_FAILED for a path that is no namespace', async () => {
    const failure = await installInpodRules('/nonexistent/netns').catch((err: unknown) => err);
    expect(isMeshError(failure, ErrorCode.RedirectRulesFailed)).toBe(true);
  });
});
