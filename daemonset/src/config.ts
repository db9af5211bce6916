import { EnvReader, isLogLevel, type LevelWithSilent } from '@ambient/core';
import { HBONE_PORT } from '@ambient/hbone';

/** Ports with Istio's numbers, so operators' habits carry over (DESIGN.md §2). */
export const DEFAULT_PORTS = {
  admin: 15000,
  stats: 15020,
  readiness: 15021,
  hbone: HBONE_PORT,
  inboundPlaintext: 15006,
  outbound: 15001,
  socks5: 15080,
} as const;

export interface XdsConfig {
  /** `host:port`. */
  readonly address: string;
  /** `https://` or no scheme: TLS verified against `rootCertPath`; `http://`: plaintext (a local control plane's 15010). */
  readonly tls: boolean;
  /** XDS_ROOT_CA, defaulting to CA_ROOT_CA. */
  readonly rootCertPath: string;
  /** ALT_XDS_HOSTNAME: the name the control plane's certificate is checked against. */
  readonly serverName: string | undefined;
}

/** In-pod mode: listeners inside each enrolled pod's network namespace, pods handed over by ZDS. */
export interface InpodConfig {
  /** INPOD_ENABLED; off by default here because it needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN). */
  readonly enabled: boolean;
  /** INPOD_UDS: the node agent's (istio-cni's) ZDS socket. */
  readonly udsPath: string;
  /** INPOD_MARK: SO_MARK on every socket ztunnel opens in a pod, so the pod's rules let it through. */
  readonly mark: number;
}

/** istio-cni's defaults, so an unmodified node agent and its iptables rules fit. */
export const DEFAULT_INPOD_UDS = '/var/run/ztunnel/ztunnel.sock';
export const DEFAULT_INPOD_MARK = 1337;

export interface ZtunnelConfig {
  /** The node this ztunnel serves: it proxies for workloads whose `node` is this. */
  readonly nodeName: string;
  /** This ztunnel's own address: metrics, readiness and SOCKS5 bind here. */
  readonly instanceIp: string;
  /** Admin is for the node's operator only: loopback, INSTANCE_IP itself when that is loopback. */
  readonly adminIp: string;
  readonly clusterId: string;
  readonly trustDomain: string;
  /** Static workload/service config (ztunnel's LOCAL_XDS_PATH); exclusive with `xds`. */
  readonly localXdsPath: string | undefined;
  /** The control plane serving Delta xDS (XDS_ADDRESS); exclusive with `localXdsPath`. */
  readonly xds: XdsConfig | undefined;
  /** This ztunnel's pod, for its xDS node id (POD_NAME, POD_NAMESPACE). */
  readonly podName: string;
  readonly podNamespace: string;
  /** Workload certificates from files: root-cert.pem and workloads/<ns>/<sa>/{cert-chain.pem,key.pem}. */
  readonly certsDir: string;
  /** The CA (istiod's or ours), `host:port`; when set, certificates come from CSRs, not files. */
  readonly caAddress: string | undefined;
  /** PEM file with the root(s) the CA's serving certificate chains to. */
  readonly caRootCertPath: string;
  /** Name the CA's certificate is checked against (ALT_CA_HOSTNAME; istiod.istio-system.svc by default). */
  readonly caServerName: string | undefined;
  /** Bearer token file sent to the CA, re-read on every request. */
  readonly authTokenPath: string | undefined;
  /** Requested certificate lifetime. */
  readonly secretTtlSeconds: number;
  readonly ports: {
    readonly admin: number;
    readonly stats: number;
    readonly readiness: number;
    readonly hbone: number;
    readonly inboundPlaintext: number;
    readonly socks5: number;
  };
  readonly socks5Enabled: boolean;
  readonly inpod: InpodConfig;
  readonly poolMaxStreamsPerConnection: number;
  readonly poolUnusedReleaseTimeoutMs: number;
  /** How long a drain lets open connections finish before closing them. */
  readonly terminationDeadlineMs: number;
  readonly logLevel: LevelWithSilent;
}

/** The ports no workload may be reached on: ztunnel's own (a connection there is a loop). */
export function internalPorts(config: ZtunnelConfig): ReadonlySet<number> {
  return new Set([
    DEFAULT_PORTS.outbound,
    config.ports.inboundPlaintext,
    config.ports.hbone,
    config.ports.socks5,
  ]);
}

/**
 * Reads ztunnel's configuration from the environment, with ztunnel's variable names where they
 * exist. Pure: same env in, same frozen config out. Every problem is reported at once.
 */
export function parseConfig(env: Readonly<Record<string, string | undefined>>): ZtunnelConfig {
  const read = new EnvReader(env);
  const port = (name: string, fallback: number): number => read.int(name, fallback, 0, 65535);
  const localXdsPath = read.optionalString('LOCAL_XDS_PATH');
  const xdsAddressText = read.optionalString('XDS_ADDRESS');
  if (localXdsPath === undefined && xdsAddressText === undefined) {
    read.problem('XDS_ADDRESS', 'required (or LOCAL_XDS_PATH): where workloads and policies come from');
  }
  if (localXdsPath !== undefined && xdsAddressText !== undefined) {
    read.problem('LOCAL_XDS_PATH', 'set either LOCAL_XDS_PATH or XDS_ADDRESS, not both');
  }
  const xdsAddress = xdsAddressText?.replace(/^https?:\/\//, '');
  if (xdsAddress !== undefined && !/^[^/\s]+:\d+$/.test(xdsAddress)) {
    read.problem('XDS_ADDRESS', `expected [https://|http://]host:port, got "${xdsAddressText ?? ''}"`);
  }
  const certsDir = read.optionalString('WORKLOAD_CERTS_DIR');
  const caAddress = read.optionalString('CA_ADDRESS')?.replace(/^https?:\/\//, '');
  if (certsDir === undefined && caAddress === undefined) {
    read.problem('CA_ADDRESS', 'required (or WORKLOAD_CERTS_DIR): where workload certificates come from');
  }
  const logLevel = read.string('LOG_LEVEL', 'info');
  if (!isLogLevel(logLevel)) read.problem('LOG_LEVEL', `unknown level "${logLevel}"`);
  const terminationGraceSeconds = read.int('TERMINATION_GRACE_PERIOD_SECONDS', 0);
  const instanceIp = read.string('INSTANCE_IP', '127.0.0.1');
  const caRootCertPath = read.string('CA_ROOT_CA', './var/run/secrets/istio/root-cert.pem');
  const config: ZtunnelConfig = {
    nodeName: read.string('NODE_NAME', 'local'),
    instanceIp,
    adminIp: isLoopback(instanceIp) ? instanceIp : '127.0.0.1',
    clusterId: read.string('CLUSTER_ID', read.string('ISTIO_META_CLUSTER_ID', 'Kubernetes')),
    trustDomain: read.string('TRUST_DOMAIN', 'cluster.local'),
    localXdsPath,
    xds:
      xdsAddress === undefined
        ? undefined
        : Object.freeze({
            address: xdsAddress,
            tls: !(xdsAddressText ?? '').startsWith('http://'),
            rootCertPath: read.string('XDS_ROOT_CA', caRootCertPath),
            serverName: read.optionalString('ALT_XDS_HOSTNAME'),
          }),
    podName: read.string('POD_NAME', 'ztunnel'),
    podNamespace: read.string('POD_NAMESPACE', 'istio-system'),
    certsDir: certsDir ?? '',
    caAddress,
    caRootCertPath,
    caServerName: read.optionalString('ALT_CA_HOSTNAME'),
    authTokenPath: read.optionalString('AUTH_TOKEN'),
    secretTtlSeconds: Math.round(read.durationMs('SECRET_TTL', 24 * 3_600_000) / 1000),
    ports: Object.freeze({
      admin: port('ADMIN_PORT', DEFAULT_PORTS.admin),
      stats: port('STATS_PORT', DEFAULT_PORTS.stats),
      readiness: port('READINESS_PORT', DEFAULT_PORTS.readiness),
      hbone: port('HBONE_PORT', DEFAULT_PORTS.hbone),
      inboundPlaintext: port('INBOUND_PLAINTEXT_PORT', DEFAULT_PORTS.inboundPlaintext),
      socks5: port('SOCKS5_PORT', DEFAULT_PORTS.socks5),
    }),
    socks5Enabled: read.bool('UNSTABLE_ENABLE_SOCKS5', true),
    inpod: Object.freeze({
      enabled: read.bool('INPOD_ENABLED', false),
      udsPath: read.string('INPOD_UDS', DEFAULT_INPOD_UDS),
      // A mark of 0 is no mark: the pod's rules would capture ztunnel's own traffic again.
      mark: read.int('INPOD_MARK', DEFAULT_INPOD_MARK, 1, 0xffffffff),
    }),
    poolMaxStreamsPerConnection: read.int('POOL_MAX_STREAMS_PER_CONNECTION', 100, 1, 10_000),
    poolUnusedReleaseTimeoutMs: read.durationMs('POOL_UNUSED_RELEASE_TIMEOUT', 5 * 60_000),
    terminationDeadlineMs: read.durationMs(
      'CONNECTION_TERMINATION_DEADLINE',
      terminationDeadlineFromGrace(terminationGraceSeconds),
    ),
    logLevel: isLogLevel(logLevel) ? logLevel : 'info',
  };
  read.finish();
  return Object.freeze(config);
}

/** ztunnel's rule: leave the kubelet time to kill us after our own deadline. */
function terminationDeadlineFromGrace(graceSeconds: number): number {
  if (graceSeconds <= 0) return 5_000;
  const seconds = graceSeconds > 10 ? graceSeconds - 5 : graceSeconds - 1;
  return Math.max(1, seconds) * 1000;
}

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}
