import { isAbsolute } from 'node:path';
import { parseDocument } from 'yaml';
import { ErrorCode, MeshError } from '@ambient/core';
import type { MeshPod } from './pod.js';

// The pods file stands in for what istio-cni learns from the CNI plugin (ADD and DEL calls, with
// the pod's network namespace) and from the Kubernetes API (the pod's name, namespace and service
// account): we run without a kubelet, so whoever creates the pods lists them here. An entry added
// is a CNI ADD of an enrolled pod; an entry removed is its DEL.
//
//   - uid: 6f0c1a52-sleep          # the pod's UID, as ZDS names it
//     name: sleep
//     namespace: default
//     serviceAccount: sleep
//     netns: /var/run/netns/sleep  # the pod's network namespace

const FIELDS = {
  uid: 'uid',
  name: 'name',
  namespace: 'namespace',
  serviceAccount: 'serviceAccount',
  netns: 'netnsPath',
} as const satisfies Record<string, keyof MeshPod>;

type FieldName = keyof typeof FIELDS;

function isFieldName(key: string): key is FieldName {
  return Object.hasOwn(FIELDS, key);
}

/**
 * The pods of a pods file: a YAML list of `{uid, name, namespace, serviceAccount, netns}`; an
 * empty file is no pods. Throws MESH_ERR_CONFIG_INVALID naming the file, entry and field of every
 * problem at once.
 */
export function parsePodsFile(text: string, path: string): MeshPod[] {
  const document = parseDocument(text);
  if (document.errors.length > 0)
    return fail(
      path,
      document.errors.map((error) => `YAML: ${error.message}`),
    );
  const root: unknown = document.toJS();
  if (root === null || root === undefined) return [];
  if (!Array.isArray(root)) return fail(path, ['expected a list of pods']);

  const problems: string[] = [];
  const pods: MeshPod[] = [];
  const seenUids = new Map<string, number>();
  root.forEach((entry: unknown, index) => {
    const where = `pods[${String(index)}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push(`${where}: expected a mapping of ${Object.keys(FIELDS).join(', ')}`);
      return;
    }
    const values = new Map<FieldName, string>();
    for (const [key, value] of Object.entries(entry)) {
      if (!isFieldName(key)) {
        problems.push(`${where}.${key}: unknown field (expected ${Object.keys(FIELDS).join(', ')})`);
      } else if (typeof value !== 'string' || value.trim() === '') {
        problems.push(`${where}.${key}: expected a non-empty string`);
      } else {
        values.set(key, value.trim());
      }
    }
    for (const field of Object.keys(FIELDS)) {
      if (isFieldName(field) && !(field in entry)) problems.push(`${where}.${field}: required`);
    }
    const netns = values.get('netns');
    if (netns !== undefined && !isAbsolute(netns)) {
      problems.push(`${where}.netns: expected an absolute path, got "${netns}"`);
    }
    const uid = values.get('uid');
    if (uid !== undefined) {
      const first = seenUids.get(uid);
      if (first !== undefined) problems.push(`${where}.uid: "${uid}" is already pods[${String(first)}]'s`);
      else seenUids.set(uid, index);
    }
    const name = values.get('name');
    const namespace = values.get('namespace');
    const serviceAccount = values.get('serviceAccount');
    if (uid && name && namespace && serviceAccount && netns && isAbsolute(netns)) {
      pods.push({ uid, name, namespace, serviceAccount, netnsPath: netns });
    }
  });
  if (problems.length > 0) return fail(path, problems);
  return pods;
}

/** The file's text for these pods (what a launcher writes for the node agent to read). */
export function formatPodsFile(pods: readonly MeshPod[]): string {
  if (pods.length === 0) return '[]\n';
  return pods
    .map(
      (pod) =>
        `- uid: ${JSON.stringify(pod.uid)}\n  name: ${JSON.stringify(pod.name)}\n` +
        `  namespace: ${JSON.stringify(pod.namespace)}\n  serviceAccount: ${JSON.stringify(pod.serviceAccount)}\n` +
        `  netns: ${JSON.stringify(pod.netnsPath)}\n`,
    )
    .join('');
}

function fail(path: string, problems: readonly string[]): never {
  throw new MeshError(ErrorCode.ConfigInvalid, `${path}:\n  ${problems.join('\n  ')}`);
}
