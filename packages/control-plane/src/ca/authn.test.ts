import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, isMeshError } from '@ambient/core';
import { bearerToken, parseTokenList, StaticTokenAuthenticator } from './authn.js';
import { spiffeId } from './test-fixtures.js';

const SLEEP = spiffeId('default', 'sleep');
const ZTUNNEL = spiffeId('istio-system', 'ztunnel');

describe('bearerToken', () => {
  it.each([
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['Bearer   abc  ', 'abc'],
    ['Basic abc', undefined],
    ['Bearer', undefined],
    ['Bearer a b', undefined],
    ['abc', undefined],
    [undefined, undefined],
  ])('reads %j as %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});

describe('parseTokenList', () => {
  it('reads node and workload tokens, from YAML or JSON', () => {
    const yaml = `
- { token: t-node, kind: node, node: node-a, identity: ${ZTUNNEL}, name: ztunnel-a }
- token: t-sleep
  kind: workload
  identity: ${SLEEP}
`;
    const expected = [
      { token: 't-node', kind: 'node', node: 'node-a', identity: ZTUNNEL, name: 'ztunnel-a' },
      { token: 't-sleep', kind: 'workload', identity: SLEEP },
    ];
    expect(parseTokenList(yaml, 'tokens.yaml')).toEqual(expected);
    expect(parseTokenList(JSON.stringify(expected), 'tokens.json')).toEqual(expected);
  });

  it('reports every problem with the file and the entry', () => {
    const text = JSON.stringify([
      { token: 'a', kind: 'node' },
      { token: 'a', kind: 'workload', identity: 'spiffe://cluster.local/default/sleep' },
      { token: 'b c', kind: 'workload', identity: SLEEP, colour: 'red' },
      { kind: 'admin' },
      'just a string',
    ]);
    let message = '';
    try {
      parseTokenList(text, 'tokens.json');
    } catch (err) {
      expect(isMeshError(err, ErrorCode.CaTokensInvalid)).toBe(true);
      message = (err as Error).message;
    }
    expect(
      message
        .split('\n')
        .slice(1)
        .map((line) => line.trim()),
    ).toEqual([
      '[0]: node: expected a non-empty string',
      '[1]: token: the same token as entry [0]',
      '[1]: identity: "spiffe://cluster.local/default/sleep" is not a SPIFFE workload id (spiffe://<trust domain>/ns/<ns>/sa/<sa>)',
      '[2]: colour: unknown field for a workload token',
      '[2]: token: must not contain white space (it travels in a header)',
      '[3]: kind: expected "node" or "workload", got "admin"',
      '[4]: expected an object',
    ]);
    expect(message).toMatch(/^tokens\.json: invalid token list \(7 problems\):/);
  });

  it('refuses a document that is not a list', () => {
    expect(() => parseTokenList('token: a', 'tokens.yaml')).toThrow(/expected a list/);
    expect(() => parseTokenList('[', 'tokens.yaml')).toThrow(/not YAML or JSON/);
  });
});

describe('StaticTokenAuthenticator', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ca-tokens-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('maps each token to its caller and knows no other token', async () => {
    const path = join(dir, 'tokens.yaml');
    await writeFile(
      path,
      `- { token: t-node, kind: node, node: node-a }\n- { token: t-sleep, kind: workload, identity: ${SLEEP}, name: sleep }\n`,
    );
    const authenticator = await StaticTokenAuthenticator.fromFile(path);
    expect(await authenticator.authenticate('t-node')).toEqual({
      kind: 'node',
      node: 'node-a',
      name: 'token #1',
    });
    expect(await authenticator.authenticate('t-sleep')).toEqual({
      kind: 'workload',
      identity: SLEEP,
      name: 'sleep',
    });
    expect(await authenticator.authenticate('t-nodex')).toBeUndefined();
    expect(await authenticator.authenticate('')).toBeUndefined();
  });

  it('names an unreadable file', async () => {
    await expect(StaticTokenAuthenticator.fromFile(join(dir, 'missing.yaml'))).rejects.toThrow(
      /missing\.yaml: cannot read/,
    );
  });
});
