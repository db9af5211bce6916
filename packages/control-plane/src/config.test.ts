import { describe, expect, it } from 'vitest';
import { ErrorCode, isMeshError } from '@ambient/core';
import { parseConfig } from './config.js';

const REQUIRED = { CA_STATE_DIR: '/var/lib/ca', CA_TOKENS_FILE: '/etc/ca/tokens.yaml' };

describe('parseConfig', () => {
  it("has istiod's defaults", () => {
    expect(parseConfig(REQUIRED)).toEqual({
      caListen: { ip: '127.0.0.1', port: 15012 },
      caCertsDir: undefined,
      caStateDir: '/var/lib/ca',
      caTokensFile: '/etc/ca/tokens.yaml',
      localXdsPath: undefined,
      configDir: undefined,
      kubernetes: false,
      xdsPlaintextListen: { ip: '127.0.0.1', port: 15010 },
      rootNamespace: 'istio-system',
      clusterId: 'Kubernetes',
      domainSuffix: 'cluster.local',
      trustDomain: 'cluster.local',
      defaultWorkloadCertTtlSeconds: 86_400,
      maxWorkloadCertTtlSeconds: 7_776_000,
      logLevel: 'info',
    });
    expect(Object.isFrozen(parseConfig(REQUIRED))).toBe(true);
  });

  it('takes its objects from one source, and keeps plaintext xDS on loopback', () => {
    expect(parseConfig({ ...REQUIRED, CONFIG_DIR: 'examples/mesh' }).configDir).toBe('examples/mesh');
    expect(parseConfig({ ...REQUIRED, CONFIG_SOURCE: 'kubernetes' }).kubernetes).toBe(true);
    expect(
      parseConfig({ ...REQUIRED, XDS_PLAINTEXT_LISTEN_ADDRESS: 'off' }).xdsPlaintextListen,
    ).toBeUndefined();
    expect(() =>
      parseConfig({
        ...REQUIRED,
        CONFIG_DIR: 'a',
        CONFIG_SOURCE: 'etcd',
        XDS_PLAINTEXT_LISTEN_ADDRESS: '0.0.0.0:15010',
      }),
    ).toThrow(/CONFIG_SOURCE[\s\S]*only one of CONFIG_DIR, CONFIG_SOURCE[\s\S]*must stay on loopback/);
  });

  it('reads every setting', () => {
    const config = parseConfig({
      ...REQUIRED,
      CA_LISTEN_ADDRESS: '[::1]:15013',
      CA_CERTS_DIR: '/etc/cacerts',
      LOCAL_XDS_PATH: '/etc/mesh.yaml',
      TRUST_DOMAIN: 'example.org',
      DEFAULT_WORKLOAD_CERT_TTL: '12h',
      MAX_WORKLOAD_CERT_TTL: '48h',
      LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({
      caListen: { ip: '::1', port: 15013 },
      caCertsDir: '/etc/cacerts',
      localXdsPath: '/etc/mesh.yaml',
      trustDomain: 'example.org',
      defaultWorkloadCertTtlSeconds: 43_200,
      maxWorkloadCertTtlSeconds: 172_800,
      logLevel: 'debug',
    });
  });

  it('reports every problem at once', () => {
    let message = '';
    try {
      parseConfig({
        CA_LISTEN_ADDRESS: 'localhost:15012',
        DEFAULT_WORKLOAD_CERT_TTL: '1500ms',
        MAX_WORKLOAD_CERT_TTL: 'forever',
        LOG_LEVEL: 'loud',
      });
    } catch (err) {
      expect(isMeshError(err, ErrorCode.ConfigInvalid)).toBe(true);
      message = (err as Error).message;
    }
    expect(message).toContain('6 problems');
    for (const name of [
      'CA_LISTEN_ADDRESS',
      'CA_STATE_DIR',
      'CA_TOKENS_FILE',
      'DEFAULT_WORKLOAD_CERT_TTL',
      'MAX_WORKLOAD_CERT_TTL',
      'LOG_LEVEL',
    ]) {
      expect(message).toContain(`environment: ${name}:`);
    }
  });

  it('refuses a default lifetime above the maximum', () => {
    expect(() =>
      parseConfig({ ...REQUIRED, DEFAULT_WORKLOAD_CERT_TTL: '48h', MAX_WORKLOAD_CERT_TTL: '24h' }),
    ).toThrow(/DEFAULT_WORKLOAD_CERT_TTL: 172800s is longer than MAX_WORKLOAD_CERT_TTL \(86400s\)/);
  });
});
