import { describe, expect, it } from 'vitest';
import { EMPTY_MATCH, type Authorization } from '@ambient/state';
import { EXAMPLE_MESH_DIR, readMeshFolder } from './mesh-folder.js';
import { summarizePolicy } from './policy-summary.js';

const { snapshot } = await readMeshFolder(EXAMPLE_MESH_DIR);
const [REVIEWS_CALLERS] = snapshot.authorizations ?? [];

describe('summarizePolicy', () => {
  it('says what the example policy does to whom', () => {
    if (!REVIEWS_CALLERS) throw new Error('the example has a policy');
    expect(summarizePolicy(REVIEWS_CALLERS, snapshot.workloads)).toBe(
      'ALLOW on reviews: from cluster.local/ns/default/sa/productpage',
    );
  });

  it.each<[string, Partial<Authorization>, string]>([
    [
      'a namespace-wide DENY in dry run',
      { scope: 'NAMESPACE', action: 'DENY', dryRun: true },
      'DENY (dry run) on every workload in default: from cluster.local/ns/default/sa/productpage',
    ],
    [
      'a mesh-wide policy',
      { scope: 'GLOBAL' },
      'ALLOW on every workload: from cluster.local/ns/default/sa/productpage',
    ],
    [
      'rules other than principals, only counted',
      { groups: [{ rules: [{ matches: [{ ...EMPTY_MATCH, destinationPorts: [8080] }] }] }] },
      'ALLOW on reviews: 1 rule',
    ],
    ['no rules: matches nothing', { groups: [] }, 'ALLOW on reviews: no rules (matches nothing)'],
    [
      'an empty rule list: every connection',
      { groups: [{ rules: [] }] },
      'ALLOW on reviews: every connection',
    ],
    [
      'a selector that selects nothing',
      { key: 'default/other' },
      'ALLOW on no workload (its selector matches none): from cluster.local/ns/default/sa/productpage',
    ],
  ])('%s', (_name, change, expected) => {
    if (!REVIEWS_CALLERS) throw new Error('the example has a policy');
    expect(summarizePolicy({ ...REVIEWS_CALLERS, ...change }, snapshot.workloads)).toBe(expected);
  });
});
