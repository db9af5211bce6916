import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { createLogger } from '@ambient/core';
import { TestPki } from '@ambient/testing';

/** Sum of the samples of a metric whose labels include the given ones. */
export { sumOf as sampleSum } from '@ambient/testing';
import { parseConfig, startZtunnel, type Ztunnel } from '@ambient/ztunnel';

/** A workload in ztunnel's local config format (see README: LOCAL_XDS_PATH). */
export interface LocalWorkload {
  name: string;
  namespace?: string;
  serviceAccount?: string;
  workloadIps: string[];
  protocol?: 'HBONE' | 'TCP';
  node: string;
  services?: Record<string, Record<number, number>>;
  [field: string]: unknown;
}

export interface LocalService {
  name: string;
  namespace?: string;
  hostname: string;
  vips: string[];
  ports: Record<number, number>;
  [field: string]: unknown;
}

/** A mesh workload named after its service account, as most tests want. */
export function meshWorkload(
  name: string,
  ip: string,
  node: string,
  extra: Partial<LocalWorkload> = {},
): LocalWorkload {
  return { name, serviceAccount: name, workloadIps: [ip], protocol: 'HBONE', node, ...extra };
}

export interface MeshOptions {
  workloads: LocalWorkload[];
  services?: LocalService[];
}

/** Log lines a test can read back, parsed. */
export class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = [];

  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    for (const line of chunk.toString().split('\n')) {
      if (line.trim() !== '') this.lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    callback();
  }

  withMessage(message: string): Record<string, unknown>[] {
    return this.lines.filter((line) => line.message === message);
  }
}

/**
 * A mesh on loopback: a throwaway PKI, one config file, and any number of ztunnels (one per
 * fake node), each bound to its own 127.x address with Istio's port numbers.
 */
export class LoopbackMesh {
  private readonly ztunnels: Ztunnel[] = [];

  private constructor(
    readonly dir: string,
    readonly pki: TestPki,
    readonly configPath: string,
  ) {}

  static async create(options: MeshOptions): Promise<LoopbackMesh> {
    const dir = await mkdtemp(join(tmpdir(), 'mesh-test-'));
    const pki = await TestPki.create();
    const identities = new Map<string, { namespace: string; serviceAccount: string }>();
    for (const w of options.workloads) {
      const namespace = w.namespace ?? 'default';
      const serviceAccount = w.serviceAccount ?? 'default';
      identities.set(`${namespace}/${serviceAccount}`, { namespace, serviceAccount });
    }
    await pki.writeCertificateDir(join(dir, 'certs'), [...identities.values()]);
    const configPath = join(dir, 'mesh.yaml');
    const workloads = options.workloads.map((w) => ({ namespace: 'default', ...w }));
    const services = (options.services ?? []).map((s) => ({ namespace: 'default', ...s }));
    await writeFile(configPath, stringify({ workloads, services }));
    return new LoopbackMesh(dir, pki, configPath);
  }

  /** Starts the ztunnel of `node` on `instanceIp`; extra env overrides the defaults. */
  async startZtunnel(
    node: string,
    instanceIp: string,
    env: Record<string, string> = {},
  ): Promise<{ ztunnel: Ztunnel; logs: LogCapture }> {
    const logs = new LogCapture();
    const config = parseConfig({
      NODE_NAME: node,
      INSTANCE_IP: instanceIp,
      // Workloads from the file, unless the test points the ztunnel at a control plane.
      ...(env.XDS_ADDRESS === undefined ? { LOCAL_XDS_PATH: this.configPath } : {}),
      WORKLOAD_CERTS_DIR: join(this.dir, 'certs'),
      ...env,
    });
    const ztunnel = await startZtunnel(config, {
      logger: createLogger({ level: 'debug', destination: logs }),
    });
    this.ztunnels.push(ztunnel);
    return { ztunnel, logs };
  }

  async close(): Promise<void> {
    await Promise.all(this.ztunnels.map((z) => z.shutdown()));
    await rm(this.dir, { recursive: true, force: true });
  }
}

export async function httpGet(url: string, init?: RequestInit): Promise<{ status: number; body: string }> {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.text() };
}

/** Polls until `check` passes or the bound is hit; for values that settle after a close. */
export async function eventually<T>(check: () => Promise<T> | T, attempts = 100, delayMs = 20): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await check();
    } catch (err) {
      last = err;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
  throw last;
}
