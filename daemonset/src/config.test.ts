import { describe, expect, it } from 'vitest';
import { internalPorts, parseConfig } from './config.js';

const required = { LOCAL_XDS_PATH: '/etc/mesh.yaml', WORKLOAD_CERTS_DIR: '/etc/certs' };

describe('parseConfig', () => {
  it('gives Istio’s ports and ztunnel’s defaults', () => {
    const config = parseConfig(required);
    expect(config.ports).toEqual({
      admin: 15000,
      stats: 15020,
      readiness: 15021,
      hbone: 15008,
      inboundPlaintext: 15006,
      socks5: 15080,
    });
    expect(config).toMatchObject({
      nodeName: 'local',
      clusterId: 'Kubernetes',
      trustDomain: 'cluster.local',
      poolMaxStreamsPerConnection: 100,
      poolUnusedReleaseTimeoutMs: 300_000,
      terminationDeadlineMs: 5_000,
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect([...internalPorts(config)].sort()).toEqual([15001, 15006, 15008, 15080]);
  });

  it('takes certificates from a CA when CA_ADDRESS is set, with ztunnel’s scheme-prefixed form accepted', () => {
    const config = parseConfig({
      LOCAL_XDS_PATH: '/x',
      CA_ADDRESS: 'https://127.0.0.1:15012',
      SECRET_TTL: '1h',
    });
    expect(config).toMatchObject({ caAddress: '127.0.0.1:15012', secretTtlSeconds: 3600 });
  });

  it('reads workloads from a control plane when XDS_ADDRESS is set: https:// or bare = TLS, http:// = plaintext', () => {
    const certs = { WORKLOAD_CERTS_DIR: '/c', CA_ROOT_CA: '/root.pem' };
    expect(parseConfig({ ...certs, XDS_ADDRESS: 'https://istiod.istio-system.svc:15012' }).xds).toEqual({
      address: 'istiod.istio-system.svc:15012',
      tls: true,
      rootCertPath: '/root.pem',
      serverName: undefined,
    });
    expect(parseConfig({ ...certs, XDS_ADDRESS: '127.0.0.1:15012' }).xds?.tls).toBe(true);
    const plain = parseConfig({ ...certs, XDS_ADDRESS: 'http://127.0.0.1:15010', XDS_ROOT_CA: '/x.pem' });
    expect(plain.xds).toMatchObject({ address: '127.0.0.1:15010', tls: false, rootCertPath: '/x.pem' });
    expect(plain.localXdsPath).toBeUndefined();
    expect(() => parseConfig({ ...certs, XDS_ADDRESS: 'istiod' })).toThrow(/XDS_ADDRESS.*host:port/);
    expect(() => parseConfig({ ...certs, XDS_ADDRESS: 'a:1', LOCAL_XDS_PATH: '/m.yaml' })).toThrow(
      /either LOCAL_XDS_PATH or XDS_ADDRESS/,
    );
  });

  it('leaves in-pod mode off unless asked, with istio-cni’s socket and mark by default', () => {
    expect(parseConfig(required).inpod).toEqual({
      enabled: false,
      udsPath: '/var/run/ztunnel/ztunnel.sock',
      mark: 1337,
    });
    const inpod = parseConfig({
      ...required,
      INPOD_ENABLED: 'true',
      INPOD_UDS: '/tmp/z.sock',
      INPOD_MARK: '4242',
    });
    expect(inpod.inpod).toEqual({ enabled: true, udsPath: '/tmp/z.sock', mark: 4242 });
    expect(Object.isFrozen(inpod.inpod)).toBe(true);
    expect(() => parseConfig({ ...required, INPOD_MARK: '0' })).toThrow(/INPOD_MARK/);
  });

  it('keeps admin on loopback even when the instance address is not', () => {
    expect(parseConfig({ ...required, INSTANCE_IP: '10.1.2.3' }).adminIp).toBe('127.0.0.1');
    expect(parseConfig({ ...required, INSTANCE_IP: '127.0.0.12' }).adminIp).toBe('127.0.0.12');
  });

  it('derives the drain deadline from the pod’s grace period as ztunnel does', () => {
    expect(parseConfig({ ...required, TERMINATION_GRACE_PERIOD_SECONDS: '30' }).terminationDeadlineMs).toBe(
      25_000,
    );
    expect(parseConfig({ ...required, TERMINATION_GRACE_PERIOD_SECONDS: '5' }).terminationDeadlineMs).toBe(
      4_000,
    );
    expect(parseConfig({ ...required, CONNECTION_TERMINATION_DEADLINE: '2s' }).terminationDeadlineMs).toBe(
      2_000,
    );
  });

  it('reports every problem at once', () => {
    expect(() =>
      parseConfig({ ADMIN_PORT: '-1', LOG_LEVEL: 'chatty', POOL_MAX_STREAMS_PER_CONNECTION: '0' }),
    ).toThrow(
      /5 problems[\s\S]*LOCAL_XDS_PATH[\s\S]*CA_ADDRESS[\s\S]*LOG_LEVEL[\s\S]*ADMIN_PORT[\s\S]*POOL_MAX_STREAMS/,
    );
  });
});
