import { describe, expect, it } from 'vitest';
import { ErrorCode, isMeshError } from '@ambient/core';
import type { MeshPod } from './pod.js';
import { formatPodsFile, parsePodsFile } from './pods-file.js';

const sleep: MeshPod = {
  uid: 'uid-sleep',
  name: 'sleep',
  namespace: 'default',
  serviceAccount: 'sleep',
  netnsPath: '/var/run/netns/sleep',
};

function problemsOf(text: string): string {
  try {
    parsePodsFile(text, 'pods.yaml');
  } catch (err) {
    if (isMeshError(err, ErrorCode.ConfigInvalid)) return err.message;
    throw err;
  }
  throw new Error('expected the file to be refused');
}

describe('parsePodsFile', () => {
  it('reads a list of pods', () => {
    const text = `- uid: uid-sleep
  name: sleep
  namespace: default
  serviceAccount: sleep
  netns: /var/run/netns/sleep
`;
    expect(parsePodsFile(text, 'pods.yaml')).toEqual([sleep]);
  });

  it('reads an empty file, or an empty list, as no pods', () => {
    expect(parsePodsFile('', 'pods.yaml')).toEqual([]);
    expect(parsePodsFile('# nothing yet\n', 'pods.yaml')).toEqual([]);
    expect(parsePodsFile('[]\n', 'pods.yaml')).toEqual([]);
  });

  it('reads back what formatPodsFile writes', () => {
    const other: MeshPod = { ...sleep, uid: 'uid: "odd"', name: 'other', netnsPath: '/proc/42/ns/net' };
    expect(parsePodsFile(formatPodsFile([sleep, other]), 'pods.yaml')).toEqual([sleep, other]);
    expect(parsePodsFile(formatPodsFile([]), 'pods.yaml')).toEqual([]);
  });

  it('reports every problem at once, with the file, the entry and the field', () => {
    const message = problemsOf(`- uid: a
  name: one
  namespace: default
  serviceAccount: sa
  netns: relative/path
- uid: a
  name: two
  namespace: ''
  serviceAccount: sa
  netns: /var/run/netns/two
  nets: typo
- name: three
- just a string
`);
    expect(message.split('\n')).toEqual([
      'pods.yaml:',
      '  pods[0].netns: expected an absolute path, got "relative/path"',
      '  pods[1].namespace: expected a non-empty string',
      '  pods[1].nets: unknown field (expected uid, name, namespace, serviceAccount, netns)',
      `  pods[1].uid: "a" is already pods[0]'s`,
      '  pods[2].uid: required',
      '  pods[2].namespace: required',
      '  pods[2].serviceAccount: required',
      '  pods[2].netns: required',
      '  pods[3]: expected a mapping of uid, name, namespace, serviceAccount, netns',
    ]);
  });

  it('refuses a file that is not a list, or not YAML', () => {
    expect(problemsOf('uid: a\n')).toContain('expected a list of pods');
    expect(problemsOf('- [unclosed\n')).toContain('YAML:');
  });
});
