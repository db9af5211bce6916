import { formatIdentity } from '@ambient/identity';
import type { Authenticator, Caller } from './authn.js';

/** The audience Istio's Helm charts give the projected token ztunnel presents to the CA. */
export const ISTIO_CA_AUDIENCE = 'istio-ca';

/** Kubernetes puts the pod a bound token belongs to in the TokenReview's `user.extra`. */
const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';
const POD_UID_EXTRA = 'authentication.kubernetes.io/pod-uid';
const SERVICE_ACCOUNT_USER = /^system:serviceaccount:([^:]+):([^:]+)$/;

export interface TokenReviewOptions {
  /** The API server, e.g. `https://kubernetes.default.svc`. */
  readonly apiServerUrl: string;
  /** The CA's own bearer token for the API server; asked per review, so a rotated token is used. */
  readonly credentials: () => string | Promise<string>;
  readonly trustDomain: string;
  /** `namespace/serviceAccount` of node agents (CA_TRUSTED_NODE_ACCOUNTS), e.g. `istio-system/ztunnel`. */
  readonly trustedNodeAccounts: readonly string[];
  /** Default `istio-ca`. */
  readonly audience?: string;
  /**
   * Default: the global fetch. Inside a cluster, pass one whose dispatcher trusts the cluster's
   * CA (the global one trusts only the public roots and NODE_EXTRA_CA_CERTS).
   */
  readonly fetch?: typeof fetch;
}

/**
 * istiod's Kubernetes authentication: the caller's token goes to the API server's TokenReview
 * (audience istio-ca). A service account token makes a workload caller with that account's
 * SPIFFE id; a trusted node agent's token makes a node caller, whose node is that of the pod the
 * token is bound to, looked up so that a token outliving its pod (or a pod of another account)
 * proves nothing.
 */
export class KubernetesTokenReviewAuthenticator implements Authenticator {
  private readonly audience: string;
  private readonly trustedNodeAccounts: ReadonlySet<string>;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: TokenReviewOptions) {
    this.audience = options.audience ?? ISTIO_CA_AUDIENCE;
    this.trustedNodeAccounts = new Set(options.trustedNodeAccounts);
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  async authenticate(token: string): Promise<Caller | undefined> {
    const review = await this.call('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token, audiences: [this.audience] },
    });
    const status = field(review, 'status');
    if (field(status, 'authenticated') !== true) return undefined;
    const audiences = field(status, 'audiences');
    if (Array.isArray(audiences) && !audiences.includes(this.audience)) return undefined;
    const user = field(status, 'user');
    const username = field(user, 'username');
    const account = typeof username === 'string' ? SERVICE_ACCOUNT_USER.exec(username) : null;
    if (account === null || typeof username !== 'string') return undefined;
    const [, namespace = '', serviceAccount = ''] = account;
    const identity = formatIdentity({ trustDomain: this.options.trustDomain, namespace, serviceAccount });
    if (!this.trustedNodeAccounts.has(`${namespace}/${serviceAccount}`)) {
      return { kind: 'workload', identity, name: username };
    }
    const extra = field(user, 'extra');
    const podName = firstString(field(extra, POD_NAME_EXTRA));
    const podUid = firstString(field(extra, POD_UID_EXTRA));
    // A node agent's token must be bound to its pod, or nothing says which node it speaks for.
    if (podName === undefined || podUid === undefined) return undefined;
    const pod = await this.call(
      'GET',
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(podName)}`,
    );
    if (pod === undefined) return undefined;
    const node = field(field(pod, 'spec'), 'nodeName');
    if (
      field(field(pod, 'metadata'), 'uid') !== podUid ||
      field(field(pod, 'spec'), 'serviceAccountName') !== serviceAccount ||
      typeof node !== 'string' ||
      node === ''
    ) {
      return undefined;
    }
    return { kind: 'node', node, identity, name: username };
  }

  /** The JSON answer; undefined for 404 (no such object); rejects for any other failure. */
  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const credentials = await this.options.credentials();
    const response = await this.fetch(new URL(path, this.options.apiServerUrl), {
      method,
      headers: {
        authorization: `Bearer ${credentials}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`Kubernetes API ${method} ${path} answered ${String(response.status)}`);
    }
    return await response.json();
  }
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

function firstString(value: unknown): string | undefined {
  const first: unknown = Array.isArray(value) ? value[0] : undefined;
  return typeof first === 'string' && first !== '' ? first : undefined;
}
