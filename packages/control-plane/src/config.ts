import {
  EnvReader,
  formatSocketAddress,
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
  /** LOCAL_XDS_PATH: workloads in ztunnel's static format (instead of Kubernetes objects). */
  readonly localXdsPath: string | undefined;
  /** CONFIG_DIR: a folder of Kubernetes YAML, watched (the embedded default). */
  readonly configDir: string | undefined;
  /** CONFIG_SOURCE=kubernetes: list + watch the Kubernetes API (in-cluster, or KUBECONFIG). */
  readonly kubernetes: boolean;
  /** XDS_PLAINTEXT_LISTEN_ADDRESS: xDS without TLS or tokens (istiod's 15010); loopback only; `off` disables. */
  readonly xdsPlaintextListen: SocketAddress | undefined;
  /** ISTIO_ROOT_NAMESPACE / rootNamespace: policies here without a selector apply mesh-wide. */
  readonly rootNamespace: string;
  readonly clusterId: string;
  /** DOMAIN_SUFFIX: service hostnames are `<name>.<namespace>.svc.<suffix>`. */
  readonly domainSuffix: string;
  readonly trustDomain: string;
  readonly defaultWorkloadCertTtlSeconds: number;
  readonly maxWorkloadCertTtlSeconds: number;
  readonly logLevel: LevelWithSilent;
}

const DEFAULT_CA_LISTEN_ADDRESS = `127.0.0.1:${String(CA_PORT)}`;
/** istiod's plaintext xDS port. */
export const XDS_PLAINTEXT_PORT = 15010;

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

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
  const configDir = read.optionalString('CONFIG_DIR');
  const configSource = read.optionalString('CONFIG_SOURCE');
  if (configSource !== undefined && configSource !== 'kubernetes') {
    read.problem('CONFIG_SOURCE', `expected "kubernetes", got "${configSource}"`);
  }
  const sources = [
    configDir === undefined ? undefined : 'CONFIG_DIR',
    configSource === undefined ? undefined : 'CONFIG_SOURCE',
    read.optionalString('LOCAL_XDS_PATH') === undefined ? undefined : 'LOCAL_XDS_PATH',
  ].filter((name) => name !== undefined);
  if (sources.length > 1) read.problem(sources[1] ?? '', `set only one of ${sources.join(', ')}`);
  // Beside the TLS listener when that is on loopback (so several local control planes never collide),
  // else on 127.0.0.1: plaintext xDS is never exposed beyond the machine.
  const plaintextDefault = formatSocketAddress(
    caListen !== undefined && isLoopback(caListen.ip) ? caListen.ip : '127.0.0.1',
    XDS_PLAINTEXT_PORT,
  );
  const plaintextText = read.string('XDS_PLAINTEXT_LISTEN_ADDRESS', plaintextDefault);
  const xdsPlaintextListen = plaintextText === 'off' ? undefined : parseSocketAddress(plaintextText);
  if (plaintextText !== 'off') {
    if (xdsPlaintextListen === undefined) {
      read.problem('XDS_PLAINTEXT_LISTEN_ADDRESS', `expected ip:port or off, got "${plaintextText}"`);
    } else if (!isLoopback(xdsPlaintextListen.ip)) {
      read.problem(
        'XDS_PLAINTEXT_LISTEN_ADDRESS',
        `plaintext xDS must stay on loopback, got ${xdsPlaintextListen.ip}`,
      );
    }
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
    configDir,
    kubernetes: configSource === 'kubernetes',
    xdsPlaintextListen: xdsPlaintextListen === undefined ? undefined : Object.freeze(xdsPlaintextListen),
    rootNamespace: read.string('ISTIO_ROOT_NAMESPACE', 'istio-system'),
    clusterId: read.string('CLUSTER_ID', 'Kubernetes'),
    domainSuffix: read.string('DOMAIN_SUFFIX', 'cluster.local'),
    trustDomain: read.string('TRUST_DOMAIN', 'cluster.local'),
    defaultWorkloadCertTtlSeconds: defaultTtl,
    maxWorkloadCertTtlSeconds: maxTtl,
    logLevel: isLogLevel(logLevel) ? logLevel : 'info',
  });
}
