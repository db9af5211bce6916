import { describe, expect, it } from 'vitest';
import type { discovery } from '@ambient/protos';
import { applyResponse } from './client-response.js';
import { JsonHandler } from './test-handler.js';

const TYPE = 'type.googleapis.com/test.Json';

function response(
  resources: Record<string, string>,
  removedResources: string[] = [],
  typeUrl = TYPE,
): discovery.DeltaDiscoveryResponse {
  return {
    systemVersionInfo: '',
    typeUrl: TYPE,
    nonce: 'n1',
    removedResources,
    resources: Object.entries(resources).map(([name, body]) => ({
      name,
      aliases: [],
      version: `v-${body}`,
      resource: { typeUrl, value: Buffer.from(body) },
    })),
  };
}

describe('applyResponse', () => {
  it('applies everything in one call and records each version', () => {
    const handler = new JsonHandler(TYPE);
    const known = new Map<string, string>();
    const result = applyResponse(handler, response({ a: '1', b: '2' }), known, true);
    expect(result).toEqual({ accepted: 2, problems: [] });
    expect(handler.updates).toHaveLength(1);
    expect(handler.updates[0]?.initial).toBe(true);
    expect(Object.fromEntries(handler.state)).toEqual({ a: 1, b: 2 });
    expect(Object.fromEntries(known)).toEqual({ a: 'v-1', b: 'v-2' });
  });

  it('applies the good resources, names each bad one, and keeps the old version of a bad one', () => {
    const handler = new JsonHandler(TYPE);
    const known = new Map([['bad', 'v-old']]);
    handler.state.set('bad', 'old');
    const result = applyResponse(handler, response({ good: '1', bad: '{nope', worse: '[' }), known, false);
    expect(result.accepted).toBe(1);
    expect(result.problems).toHaveLength(2);
    expect(result.problems[0]).toMatch(/^bad: /);
    expect(result.problems[1]).toMatch(/^worse: /);
    expect(handler.state.get('good')).toBe(1);
    expect(handler.state.get('bad')).toBe('old');
    expect(Object.fromEntries(known)).toEqual({ good: 'v-1', bad: 'v-old' });
  });

  it('rejects a resource whose body is another type, or missing', () => {
    const handler = new JsonHandler(TYPE);
    const known = new Map<string, string>();
    const wrongType = response({ a: '1' }, [], 'type.googleapis.com/test.Other');
    const noBody: discovery.DeltaDiscoveryResponse = {
      ...response({}),
      resources: [{ name: 'b', aliases: [], version: '1' }],
    };
    expect(applyResponse(handler, wrongType, known, false).problems).toEqual([
      `a: the resource is a type.googleapis.com/test.Other, not a ${TYPE}`,
    ]);
    expect(applyResponse(handler, noBody, known, false).problems).toEqual(['b: the resource has no body']);
    expect(known.size).toBe(0);
  });

  it('forgets removed names', () => {
    const handler = new JsonHandler(TYPE);
    const known = new Map([
      ['a', '1'],
      ['b', '1'],
    ]);
    applyResponse(handler, response({}, ['a']), known, false);
    expect([...known.keys()]).toEqual(['b']);
    expect(handler.updates[0]?.removals).toEqual(['a']);
  });

  it('records nothing of a response the handler failed to apply', () => {
    const handler = new JsonHandler(TYPE);
    handler.failApply = 'the store is full';
    const known = new Map([['gone', '1']]);
    const result = applyResponse(handler, response({ a: '1' }, ['gone']), known, false);
    expect(result.accepted).toBe(0);
    expect(result.problems).toEqual([`the ${TYPE} handler failed to apply the response: the store is full`]);
    expect(Object.fromEntries(known)).toEqual({ gone: '1' });
  });
});
