import type { Socket } from 'node:net';
import { ErrorCode, MeshError, formatSocketAddress, normalizeIp, type SocketAddress } from '@ambient/core';
import { pump } from '@ambient/hbone';
import type { Workload } from '@ambient/state';
import { ConnectionResult } from '@ambient/telemetry';
import type { AppConnector, ProxyInputs } from './inputs.js';
import { connectTcp } from './outbound.js';

/** How the original destination of a captured connection is found (SO_ORIGINAL_DST once capture exists). */
export type OriginalDestination = (socket: Socket) => SocketAddress;

/** Without capture the best we know is where the socket arrived. */
export const localAddressAsDestination: OriginalDestination = (socket) => ({
  ip: normalizeIp(socket.localAddress ?? ''),
  port: socket.localPort ?? 0,
});

/**
 * Which workload a plaintext connection is for and how its app is reached. The defaults serve
 * every local workload from the host; in-pod, one proxy serves one pod and reaches its app
 * inside the pod's network namespace, from the caller's IP.
 */
export interface InboundPassthroughOptions {
  /** The local workload the original destination belongs to; undefined refuses the connection. */
  readonly destinationWorkload?: (target: SocketAddress) => Workload | undefined;
  readonly connectApp?: AppConnector;
}

/**
 * Plaintext traffic to a workload we serve (port 15006): no identity is proven, so it is
 * recorded with `connection_security_policy="unknown"`; connections aimed at ztunnel's own
 * ports are refused.
 */
export class InboundPassthroughProxy {
  private readonly destinationWorkload: (target: SocketAddress) => Workload | undefined;
  private readonly connectApp: AppConnector;

  constructor(
    private readonly inputs: ProxyInputs,
    private readonly originalDestination: OriginalDestination = localAddressAsDestination,
    options: InboundPassthroughOptions = {},
  ) {
    this.destinationWorkload =
      options.destinationWorkload ?? ((target) => inputs.state.workloadByIp(target.ip));
    this.connectApp = options.connectApp ?? ((target) => connectTcp(target));
  }

  readonly handle = (client: Socket): void => {
    const { state, metrics, logger, connections, internalPorts } = this.inputs;
    client.setNoDelay(true);
    client.on('error', noop);
    const target = this.originalDestination(client);
    const workload = this.destinationWorkload(target);
    const sourceIp = normalizeIp(client.remoteAddress ?? '');
    const result = new ConnectionResult(metrics, logger, {
      reporter: 'destination',
      direction: 'inbound',
      source: state.workloadByIp(sourceIp),
      destination: workload,
      securityPolicy: 'unknown',
      sourceAddress: formatSocketAddress(sourceIp, client.remotePort ?? 0),
      destinationAddress: formatSocketAddress(target.ip, target.port),
    });
    const fail = (error: MeshError): void => {
      client.destroy();
      result.close({ clientToServerBytes: 0, serverToClientBytes: 0, error });
    };
    if (internalPorts.has(target.port)) {
      fail(new MeshError(ErrorCode.SelfCall, `port ${String(target.port)} is internal to ztunnel`));
      return;
    }
    if (workload?.node !== this.inputs.config.nodeName) {
      fail(new MeshError(ErrorCode.HboneUnknownWorkload, `no local workload has IP ${target.ip}`));
      return;
    }
    const attributes = {
      sourceIp,
      sourcePort: client.remotePort ?? 0,
      destinationIp: target.ip,
      destinationPort: target.port,
      sourceIdentity: undefined,
    };
    const denied = this.inputs.authorizer.check(workload, attributes);
    if (denied) {
      fail(denied);
      return;
    }
    connections.add(client);
    this.inputs.authorizer.track(workload, attributes, client);
    client.once('close', () => {
      connections.delete(client);
    });
    this.connectApp(target, sourceIp)
      .then((backend) => {
        pump(client, backend, (error) => {
          result.close({
            clientToServerBytes: backend.bytesWritten,
            serverToClientBytes: backend.bytesRead,
            error,
          });
        });
      })
      .catch((err: unknown) => {
        client.destroy();
        result.close({ clientToServerBytes: 0, serverToClientBytes: 0, error: err });
      });
  };
}

function noop(): void {
  // The pump reports socket errors; before it runs, a failed connect does.
}
