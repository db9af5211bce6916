import { describe, expect, it } from 'vitest';
import { podChanges, type MeshPod } from './pod.js';

const pod = (uid: string, overrides: Partial<MeshPod> = {}): MeshPod => ({
  uid,
  name: `name-${uid}`,
  namespace: 'default',
  serviceAccount: 'sa',
  netnsPath: `/var/run/netns/${uid}`,
  ...overrides,
});

describe('podChanges', () => {
  const cases: {
    name: string;
    enrolled: MeshPod[];
    wanted: MeshPod[];
    add: string[];
    remove: string[];
  }[] = [
    { name: 'nothing to nothing', enrolled: [], wanted: [], add: [], remove: [] },
    { name: 'new pods are added', enrolled: [], wanted: [pod('a'), pod('b')], add: ['a', 'b'], remove: [] },
    { name: 'unchanged pods are left alone', enrolled: [pod('a')], wanted: [pod('a')], add: [], remove: [] },
    {
      name: 'pods no longer listed are removed',
      enrolled: [pod('a'), pod('b')],
      wanted: [pod('b')],
      add: [],
      remove: ['a'],
    },
    {
      name: 'a pod whose namespace changed is added again (ZDS Add replaces it)',
      enrolled: [pod('a')],
      wanted: [pod('a', { netnsPath: '/var/run/netns/other' })],
      add: ['a'],
      remove: [],
    },
    {
      name: 'a pod whose service account changed is added again',
      enrolled: [pod('a')],
      wanted: [pod('a', { serviceAccount: 'other' })],
      add: ['a'],
      remove: [],
    },
    { name: 'everything replaced', enrolled: [pod('a')], wanted: [pod('b')], add: ['b'], remove: ['a'] },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => {
      const changes = podChanges(testCase.enrolled, testCase.wanted);
      expect({ add: changes.add.map((p) => p.uid), remove: changes.remove }).toEqual({
        add: testCase.add,
        remove: testCase.remove,
      });
    });
  }
});
