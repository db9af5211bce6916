import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closeServer, listenOn } from '@ambient/core';
import { KubernetesTokenReviewAuthenticator } from './token-review.js';
import { spiffeId } from './test-fixtures.js';

const HOST = '127.27.1.1';
const API_TOKEN = 'ca-service-account-token';

interface Pod {
  readonly uid: string;
  readonly serviceAccountName: string;
  readonly nodeName: string;
}

/** A tiny stand-in for the API server: TokenReview from a token table, pods from a pod table. */
class FakeApiServer {
  readonly reviews: unknown[] = [];
  readonly authorizations: (string | undefined)[] = [];
  users = new Map<string, Record<string, unknown>>();
  pods = new Map<string, Pod>();
  failWith: number | undefined;
  private readonly server: Server;
  port = 0;

  constructor() {
    this.server = createServer((request, response) => {
      void this.answer(request).then(([status, body]) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      });
    });
  }

  async start(): Promise<void> {
    await listenOn(this.server, HOST, 0, 'fake API server');
    const address = this.server.address();
    this.port = typeof address === 'object' && address !== null ? address.port : 0;
  }

  stop(): Promise<void> {
    return closeServer(this.server);
  }

  private async answer(request: IncomingMessage): Promise<[number, unknown]> {
    this.authorizations.push(request.headers.authorization);
    if (this.failWith !== undefined) return [this.failWith, { kind: 'Status' }];
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (request.method === 'POST' && request.url === '/apis/authentication.k8s.io/v1/tokenreviews') {
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { spec: { token: string } };
      this.reviews.push(review);
      const user = this.users.get(review.spec.token);
      return [
        201,
        {
          kind: 'TokenReview',
          status: user === undefined ? {} : { authenticated: true, user, audiences: ['istio-ca'] },
        },
      ];
    }
    const match = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(request.url ?? '');
    const pod = match === null ? undefined : this.pods.get(`${match[1] ?? ''}/${match[2] ?? ''}`);
    if (request.method !== 'GET' || pod === undefined) return [404, { kind: 'Status' }];
    return [
      200,
      {
        kind: 'Pod',
        metadata: { uid: pod.uid },
        spec: { serviceAccountName: pod.serviceAccountName, nodeName: pod.nodeName },
      },
    ];
  }
}

const ztunnelUser = {
  username: 'system:serviceaccount:istio-system:ztunnel',
  extra: {
    'authentication.kubernetes.io/pod-name': ['ztunnel-abcde'],
    'authentication.kubernetes.io/pod-uid': ['uid-1'],
  },
};

let api: FakeApiServer;
let authenticator: KubernetesTokenReviewAuthenticator;

beforeAll(async () => {
  api = new FakeApiServer();
  await api.start();
  authenticator = new KubernetesTokenReviewAuthenticator({
    apiServerUrl: `http://${HOST}:${String(api.port)}`,
    credentials: () => API_TOKEN,
    trustDomain: 'cluster.local',
    trustedNodeAccounts: ['istio-system/ztunnel'],
  });
});

afterAll(async () => {
  await api.stop();
});

beforeEach(() => {
  api.users = new Map<string, Record<string, unknown>>([
    ['t-sleep', { username: 'system:serviceaccount:default:sleep' }],
    ['t-ztunnel', ztunnelUser],
    ['t-human', { username: 'alice@example.com' }],
  ]);
  api.pods = new Map([
    ['istio-system/ztunnel-abcde', { uid: 'uid-1', serviceAccountName: 'ztunnel', nodeName: 'node-a' }],
  ]);
  api.failWith = undefined;
});

describe('KubernetesTokenReviewAuthenticator', () => {
  it('asks the API server with its own credentials and the istio-ca audience', async () => {
    await authenticator.authenticate('t-sleep');
    expect(api.reviews.at(-1)).toEqual({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token: 't-sleep', audiences: ['istio-ca'] },
    });
    expect(api.authorizations.at(-1)).toBe(`Bearer ${API_TOKEN}`);
  });

  it('makes a service account token a workload caller with its SPIFFE id', async () => {
    expect(await authenticator.authenticate('t-sleep')).toEqual({
      kind: 'workload',
      identity: spiffeId('default', 'sleep'),
      name: 'system:serviceaccount:default:sleep',
    });
  });

  it("makes a trusted node agent's token a node caller on its pod's node", async () => {
    expect(await authenticator.authenticate('t-ztunnel')).toEqual({
      kind: 'node',
      node: 'node-a',
      identity: spiffeId('istio-system', 'ztunnel'),
      name: 'system:serviceaccount:istio-system:ztunnel',
    });
  });

  it('proves nothing for an unknown token, a non-service-account user, or a node token without its pod', async () => {
    expect(await authenticator.authenticate('t-unknown')).toBeUndefined();
    expect(await authenticator.authenticate('t-human')).toBeUndefined();
    api.pods = new Map([
      ['istio-system/ztunnel-abcde', { uid: 'uid-2', serviceAccountName: 'ztunnel', nodeName: 'node-a' }],
    ]);
    expect(await authenticator.authenticate('t-ztunnel')).toBeUndefined();
    api.pods = new Map();
    expect(await authenticator.authenticate('t-ztunnel')).toBeUndefined();
    api.users.set('t-ztunnel', { username: ztunnelUser.username });
    expect(await authenticator.authenticate('t-ztunnel')).toBeUndefined();
  });

  it('rejects when the API server fails, so the caller is told to retry', async () => {
    api.failWith = 500;
    await expect(authenticator.authenticate('t-sleep')).rejects.toThrow(/answered 500/);
  });
});
