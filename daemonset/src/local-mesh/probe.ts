import { errorMessage, parseSocketAddress } from '@ambient/core';
import { exchange, Socks5Error, socks5Connect } from '@ambient/testing';
import { parseReply, type ParsedReply } from './apps.js';
import type { LogLine } from './log-feed.js';
import type { Destination, ResolvedStep } from './tour.js';
import type { ZtunnelProcess } from './ztunnel-process.js';

const SOCKS5_PORT = 15080;
const STATS_PORT = 15020;
const ADMIN_PORT = 15000;
/** A connection on loopback takes milliseconds; this only bounds a broken one. */
const EXCHANGE_TIMEOUT_MS = 10_000;
/** The access line is written when the ztunnel sees the close, a moment after the caller does. */
const ACCESS_LOG_WAIT_MS = 5_000;
const METRICS_FETCH_TIMEOUT_MS = 5_000;
const ACCESS_LOG_COMPLETE = 'connection complete';

/** Metrics text of one ztunnel before and after a probe. */
export interface MetricsWindow {
  readonly node: string;
  readonly before: string;
  readonly after: string;
}

/** Everything observed about one connection of a step: the caller's view and both ztunnels'. */
export interface Probe {
  readonly request: string;
  readonly requestBytes: number;
  readonly reply: string | undefined;
  readonly replyBytes: number;
  readonly parsedReply: ParsedReply | undefined;
  /** Undefined when no reply named one of the step's destinations. */
  readonly answerer: Destination | undefined;
  /**
   * Where the connection went: the answerer, or (when nobody answered, as when a policy denied it)
   * the destination the caller's ztunnel logged.
   */
  readonly destination: Destination | undefined;
  readonly error: string | undefined;
  /** The SOCKS5 reply code when the caller's ztunnel refused the connection. */
  readonly socksReply: number | undefined;
  /** The caller's ztunnel's access line for this connection. */
  readonly outbound: LogLine | undefined;
  /** The destination's ztunnel's access line (HBONE only: plain TCP never reaches a ztunnel there). */
  readonly inbound: LogLine | undefined;
  readonly sourceMetrics: MetricsWindow | undefined;
  readonly destinationMetrics: MetricsWindow | undefined;
}

/**
 * One real connection of a step: SOCKS5 to the caller's ztunnel from the caller's pod IP, a
 * request, the whole reply, then the access lines and metrics the ztunnels wrote about it.
 */
export async function runProbe(
  step: ResolvedStep,
  ztunnels: ReadonlyMap<string, ZtunnelProcess>,
  request: string,
): Promise<Probe> {
  const sourceZtunnel = ztunnels.get(step.sourceNode.name);
  if (!sourceZtunnel) throw new Error(`no ztunnel runs for node ${step.sourceNode.name}`);
  // Every node a destination may live on: only the answer says which one it was.
  const destinationZtunnels = new Map<string, ZtunnelProcess>();
  for (const destination of step.destinations) {
    const ztunnel = destination.node && ztunnels.get(destination.node.name);
    if (ztunnel) destinationZtunnels.set(ztunnel.node, ztunnel);
  }
  const involved = new Set([sourceZtunnel, ...destinationZtunnels.values()]);
  const positions = new Map([...involved].map((z) => [z, z.logs.position]));
  const before = new Map(
    await Promise.all([...involved].map(async (z) => [z, await fetchMetrics(z)] as const)),
  );

  let reply: Buffer | undefined;
  let error: string | undefined;
  let socksReply: number | undefined;
  let sourcePort: number | undefined;
  try {
    const socket = await withTimeout(
      socks5Connect({
        proxyIp: sourceZtunnel.instanceIp,
        proxyPort: SOCKS5_PORT,
        sourceIp: step.sourceIp,
        targetHost: step.target.ip,
        targetPort: step.target.port,
      }),
      EXCHANGE_TIMEOUT_MS,
      'SOCKS5 handshake',
    );
    sourcePort = socket.localPort;
    reply = await withTimeout(exchange(socket, request), EXCHANGE_TIMEOUT_MS, 'reply', () =>
      socket.destroy(),
    );
  } catch (err) {
    error = errorMessage(err);
    if (err instanceof Socks5Error) socksReply = err.reply;
  }

  const replyText = reply?.toString('utf8');
  const parsedReply = replyText === undefined ? undefined : parseReply(replyText);
  const answerer = step.destinations.find((d) => d.name === parsedReply?.name && d.ip === parsedReply.ip);
  // A refused SOCKS5 handshake leaves no socket to read the port from; the steps of a round run one
  // at a time, so the first line from the caller's IP after the mark is this connection's.
  const fromCaller = (address: unknown): boolean =>
    sourcePort === undefined
      ? typeof address === 'string' && parseSocketAddress(address)?.ip === step.sourceIp
      : address === `${step.sourceIp}:${String(sourcePort)}`;
  const outbound = await sourceZtunnel.logs.waitFor(
    positions.get(sourceZtunnel) ?? 0,
    (line) =>
      line.message === ACCESS_LOG_COMPLETE && line.direction === 'outbound' && fromCaller(line['src.addr']),
    ACCESS_LOG_WAIT_MS,
  );
  const destination = answerer ?? loggedDestination(step, outbound);
  const destinationZtunnel = destination?.node && destinationZtunnels.get(destination.node.name);
  const inbound =
    destination?.path === 'hbone' && destinationZtunnel
      ? await destinationZtunnel.logs.waitFor(
          positions.get(destinationZtunnel) ?? 0,
          (line) =>
            line.message === ACCESS_LOG_COMPLETE &&
            line.direction === 'inbound' &&
            typeof line['dst.hbone_addr'] === 'string' &&
            parseSocketAddress(line['dst.hbone_addr'])?.ip === destination.ip &&
            typeof line['src.addr'] === 'string' &&
            parseSocketAddress(line['src.addr'])?.ip === step.sourceIp,
          ACCESS_LOG_WAIT_MS,
        )
      : undefined;

  // The access lines are written in the same step as the counters, so the counters are final now.
  const window = async (ztunnel: ZtunnelProcess | undefined): Promise<MetricsWindow | undefined> => {
    const start = ztunnel && before.get(ztunnel);
    if (!ztunnel || start === undefined) return undefined;
    return { node: ztunnel.node, before: start, after: await fetchMetrics(ztunnel) };
  };
  return {
    request,
    requestBytes: Buffer.byteLength(request),
    reply: replyText,
    replyBytes: reply?.length ?? 0,
    parsedReply,
    answerer,
    destination,
    error,
    socksReply,
    outbound,
    inbound,
    sourceMetrics: await window(sourceZtunnel),
    destinationMetrics: destination?.path === 'hbone' ? await window(destinationZtunnel) : undefined,
  };
}

/** The destination the caller's ztunnel says it sent the connection to (HBONE target or plain address). */
function loggedDestination(step: ResolvedStep, outbound: LogLine | undefined): Destination | undefined {
  const address = outbound?.['dst.hbone_addr'] ?? outbound?.['dst.addr'];
  const ip = typeof address === 'string' ? parseSocketAddress(address)?.ip : undefined;
  return ip === undefined ? undefined : step.destinations.find((d) => d.ip === ip);
}

export async function fetchMetrics(ztunnel: ZtunnelProcess): Promise<string> {
  const response = await fetch(`http://${ztunnel.instanceIp}:${String(STATS_PORT)}/metrics`, {
    signal: AbortSignal.timeout(METRICS_FETCH_TIMEOUT_MS),
  });
  if (response.status !== 200) throw new Error(`${ztunnel.node} metrics answered ${String(response.status)}`);
  return response.text();
}

/** A ztunnel's /config_dump, parsed. */
export async function fetchConfigDump(ztunnel: ZtunnelProcess): Promise<unknown> {
  const response = await fetch(`http://${ztunnel.instanceIp}:${String(ADMIN_PORT)}/config_dump`, {
    signal: AbortSignal.timeout(METRICS_FETCH_TIMEOUT_MS),
  });
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new Error(`${ztunnel.node} /config_dump answered ${String(response.status)}`);
  }
  return response.json();
}

function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  what: string,
  onTimeout?: () => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`no ${what} within ${String(timeoutMs)} ms`));
    }, timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
  });
}
