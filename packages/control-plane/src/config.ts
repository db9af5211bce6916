import {
  EnvReader,
  isLogLevel,
  parseSocketAddress,
  type LevelWithSilent,
  type SocketAddress,
} from '@ambient/core';
import { DEFAULT_WORKLOAD_CERT_TTL_SECONDS, MAX_WORKLOAD_CERT_TTL_SECONDS } from './ca/authority.js';
import { CA_PORT } from './ca/server.js';

export interface ControlPlaneConfig {
  /** CA_LISTEN_ADDRESS: where the CA's gRPC-over-TLS listener binds. */
  readonly caListen: SocketAddress;
  /** CA_CERTS_DIR: an Istio plug-in folder (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem); none = self-signed. */
  readonly caCertsDir: string | undefined;
  /** CA_STATE_DIR: where the self-signed root is kept and root-cert.pem (the trust bundle) is written. */
  readonly caStateDir: string;
  /** CA_TOKENS_FILE: the bearer tokens of node agents and workloads. */
  readonly caTokensFile: string;
  /** LOCAL_XDS_PATH: the workloads, which say what node agents may ask for; none = only their own identity. */
  readonly localXdsPath: string | undefined;
  readonly trustDomain: string;
  readonly defaultWorkloadCertTtlSeconds: number;
  readonly maxWorkloadCertTtlSeconds: number;
  readonly logLevel: LevelWithSilent;
}

const DEFAULT_CA_LISTEN_ADDRESS = `127.0.0.1:${String(CA_PORT)}`;

/**
 * The control plane's configuration from the environment, with istiod's variable names where
 * they exist (DEFAULT_WORKLOAD_CERT_TTL, MAX_WORKLOAD_CERT_TTL, TRUST_DOMAIN). Pure: same env in,
 * same frozen config out. Every problem is reported at once.
 */
export function parseConfig(env: Readonly<Record<string, string | undefined>>): ControlPlaneConfig {
  const read = new EnvReader(env);
  const listenText = read.string('CA_LISTEN_ADDRESS', DEFAULT_CA_LISTEN_ADDRESS);
  const caListen = parseSocketAddress(listenText);
  if (caListen === undefined)
    read.problem('CA_LISTEN_ADDRESS', `expected ip:port or [ipv6]:port, got "${listenText}"`);
  const caStateDir = read.optionalString('CA_STATE_DIR');
  if (caStateDir === undefined) {
    read.problem('CA_STATE_DIR', 'required: the folder for the self-signed root and root-cert.pem');
  }
  const caTokensFile = read.optionalString('CA_TOKENS_FILE');
  if (caTokensFile === undefined) {
    read.problem('CA_TOKENS_FILE', 'required: the list of tokens node agents and workloads present');
  }
  const ttlSeconds = (name: string, fallbackSeconds: number): number => {
    const ms = read.durationMs(name, fallbackSeconds * 1000);
    if (ms < 1000 || ms % 1000 !== 0) {
      read.problem(name, `expected a whole number of seconds, at least 1s, got ${String(ms)}ms`);
      return fallbackSeconds;
    }
    return ms / 1000;
  };
  const defaultTtl = ttlSeconds('DEFAULT_WORKLOAD_CERT_TTL', DEFAULT_WORKLOAD_CERT_TTL_SECONDS);
  const maxTtl = ttlSeconds('MAX_WORKLOAD_CERT_TTL', MAX_WORKLOAD_CERT_TTL_SECONDS);
  if (defaultTtl > maxTtl) {
    read.problem(
      'DEFAULT_WORKLOAD_CERT_TTL',
      `${String(defaultTtl)}s is longer than MAX_WORKLOAD_CERT_TTL (${String(maxTtl)}s)`,
    );
  }
  const logLevel = read.string('LOG_LEVEL', 'info');
  if (!isLogLevel(logLevel)) read.problem('LOG_LEVEL', `unknown level "${logLevel}"`);
  read.finish();
  return Object.freeze({
    caListen: Object.freeze(caListen ?? { ip: '127.0.0.1', port: CA_PORT }),
    caCertsDir: read.optionalString('CA_CERTS_DIR'),
    caStateDir: caStateDir ?? '',
    caTokensFile: caTokensFile ?? '',
    localXdsPath: read.optionalString('LOCAL_XDS_PATH'),
    trustDomain: read.string('TRUST_DOMAIN', 'cluster.local'),
    defaultWorkloadCertTtlSeconds: defaultTtl,
    maxWorkloadCertTtlSeconds: maxTtl,
    logLevel: isLogLevel(logLevel) ? logLevel : 'info',
  });
}
