import { describe, expect, it } from 'vitest';
import {
  TRAFFIC_LABEL_NAMES,
  destinationPrincipalOf,
  trafficLabels,
  withResponseFlags,
  workloadPrincipal,
  type ConnectionDescription,
  type WorkloadInfo,
} from './labels.js';

const productpage: WorkloadInfo = {
  name: 'productpage-v1-7d4b9',
  namespace: 'bookinfo',
  workloadName: 'productpage-v1',
  canonicalName: 'productpage',
  canonicalRevision: 'v1',
  clusterId: 'Kubernetes',
  trustDomain: 'cluster.local',
  serviceAccount: 'bookinfo-productpage',
  locality: { region: 'eu-west1', zone: 'eu-west1-b' },
};

const bare: ConnectionDescription = {
  reporter: 'destination',
  securityPolicy: 'unknown',
  direction: 'inbound',
  sourceAddress: '127.0.0.1:40000',
  destinationAddress: '127.0.0.2:15008',
};

describe('trafficLabels', () => {
  it('has exactly the Istio label names, in order', () => {
    expect(Object.keys(trafficLabels(bare, '-'))).toEqual([...TRAFFIC_LABEL_NAMES]);
    expect(TRAFFIC_LABEL_NAMES).toHaveLength(27);
  });

  it('reports unknown for everything it was not told', () => {
    const labels = trafficLabels(bare, '-');
    const known = new Set(['reporter', 'request_protocol', 'response_flags', 'connection_security_policy']);
    for (const name of TRAFFIC_LABEL_NAMES) {
      if (!known.has(name)) expect(labels[name], name).toBe('unknown');
    }
    expect(labels.reporter).toBe('destination');
    expect(labels.request_protocol).toBe('tcp');
    expect(labels.response_flags).toBe('-');
    expect(labels.connection_security_policy).toBe('unknown');
  });

  it('takes app/version from the canonical name/revision and the workload from workloadName', () => {
    const labels = trafficLabels(
      {
        ...bare,
        reporter: 'source',
        source: productpage,
        sourcePrincipal: 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage',
        securityPolicy: 'mutual_tls',
      },
      '-',
    );
    expect(labels).toMatchObject({
      reporter: 'source',
      source_workload: 'productpage-v1',
      source_canonical_service: 'productpage',
      source_canonical_revision: 'v1',
      source_workload_namespace: 'bookinfo',
      source_principal: 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage',
      source_app: 'productpage',
      source_version: 'v1',
      source_cluster: 'Kubernetes',
      source_region: 'eu-west1',
      source_zone: 'eu-west1-b',
      connection_security_policy: 'mutual_tls',
    });
  });

  it('falls back to the pod name when workloadName is empty, and empty strings read as unknown', () => {
    const pod: WorkloadInfo = {
      ...productpage,
      workloadName: '',
      canonicalRevision: '',
      clusterId: '',
      locality: { region: '', zone: 'z1' },
    };
    const labels = trafficLabels({ ...bare, destination: pod }, '-');
    expect(labels.destination_workload).toBe('productpage-v1-7d4b9');
    expect(labels.destination_canonical_revision).toBe('unknown');
    expect(labels.destination_version).toBe('unknown');
    expect(labels.destination_cluster).toBe('unknown');
    expect(labels.destination_region).toBe('unknown');
    expect(labels.destination_zone).toBe('z1');
  });

  it('never takes the source principal from the source workload: only from proof', () => {
    const labels = trafficLabels({ ...bare, source: productpage }, '-');
    expect(labels.source_principal).toBe('unknown');
  });

  it('fills the destination service labels from the service', () => {
    const labels = trafficLabels(
      {
        ...bare,
        destinationService: {
          hostname: 'reviews.bookinfo.svc.cluster.local',
          name: 'reviews',
          namespace: 'bookinfo',
        },
      },
      '-',
    );
    expect(labels.destination_service).toBe('reviews.bookinfo.svc.cluster.local');
    expect(labels.destination_service_name).toBe('reviews');
    expect(labels.destination_service_namespace).toBe('bookinfo');
  });
});

describe('destination principal', () => {
  it("defaults to the destination workload's identity", () => {
    expect(destinationPrincipalOf({ ...bare, destination: productpage })).toBe(
      'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage',
    );
  });

  it('prefers an explicit principal', () => {
    expect(
      destinationPrincipalOf({
        ...bare,
        destination: productpage,
        destinationPrincipal: 'spiffe://example.org/ns/a/sa/b',
      }),
    ).toBe('spiffe://example.org/ns/a/sa/b');
  });

  it('is undefined without a destination or without a service account', () => {
    expect(destinationPrincipalOf(bare)).toBeUndefined();
    expect(workloadPrincipal({ ...productpage, serviceAccount: '' })).toBeUndefined();
    expect(workloadPrincipal({ ...productpage, trustDomain: '' })).toBeUndefined();
  });
});

describe('withResponseFlags', () => {
  it('copies, leaving the original untouched', () => {
    const labels = trafficLabels(bare, '-');
    const failed = withResponseFlags(labels, 'CONNECT');
    expect(failed.response_flags).toBe('CONNECT');
    expect(labels.response_flags).toBe('-');
    expect({ ...failed, response_flags: '-' }).toEqual(labels);
  });
});
