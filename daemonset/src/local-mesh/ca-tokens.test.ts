import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseTokenList, StaticTokenAuthenticator } from '@ambient/control-plane';
import { callerName, nodeTokenList, writeNodeTokens } from './ca-tokens.js';

const NODES = ['node-a', 'node-b'];

describe('nodeTokenList', () => {
  it('gives every node a node-agent token of its own, named for the logs', () => {
    const list = nodeTokenList(NODES);
    expect(list.map(({ token: _token, ...rest }) => rest)).toEqual([
      { kind: 'node', node: 'node-a', name: 'ztunnel-node-a' },
      { kind: 'node', node: 'node-b', name: 'ztunnel-node-b' },
    ]);
    const tokens = list.map((entry) => entry.token);
    expect(new Set(tokens).size).toBe(NODES.length);
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });

  it('draws new tokens on every run', () => {
    expect(nodeTokenList(NODES)[0]?.token).not.toBe(nodeTokenList(NODES)[0]?.token);
  });
});

describe('writeNodeTokens', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("writes a list the CA accepts and each ztunnel's token, readable by this user alone", async () => {
    dir = await mkdtemp(join(tmpdir(), 'ca-tokens-'));
    const written = await writeNodeTokens(NODES, join(dir, 'ca'), join(dir, 'tokens'));

    const listText = await readFile(written.tokensFile, 'utf8');
    const list = parseTokenList(listText, written.tokensFile);
    expect(list.map((entry) => (entry.kind === 'node' ? entry.node : entry.identity))).toEqual(NODES);
    // The CA reading the same file knows each ztunnel by the token in that ztunnel's file.
    const authenticator = await StaticTokenAuthenticator.fromFile(written.tokensFile);
    for (const node of NODES) {
      const path = written.tokenPaths.get(node);
      expect(path).toBe(join(dir, 'tokens', `${node}.token`));
      const token = await readFile(path ?? '', 'utf8');
      expect(await authenticator.authenticate(token)).toEqual({
        kind: 'node',
        node,
        name: callerName(node),
      });
      expect((await stat(path ?? '')).mode & 0o777).toBe(0o600);
    }
    expect((await stat(written.tokensFile)).mode & 0o777).toBe(0o600);
    expect(await authenticator.authenticate('not-a-token')).toBeUndefined();
  });
});
