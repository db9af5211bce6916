import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange, socks5Connect, startEchoServer, type EchoServer } from '@ambient/testing';
import { LoopbackMesh, meshWorkload } from '../direct/harness.js';

// HBONE peers written with Go's standard library and Python's h2 (Debian's golang-go and
// python3-h2, installed by .ci/run) against our ztunnel, in both directions. These tests fail,
// never skip, when a peer cannot be built or run.
//
// Addresses of this file: nodes 127.26.0.x; our workloads 127.26.1.x (node-a) and 127.26.2.x
// (node-b); workloads served by a foreign HBONE server 127.26.3.x (node-x, no ztunnel of ours).
const NODE_A = '127.26.0.1';
const NODE_B = '127.26.0.2';
const CLIENT = '127.26.1.1';
const ECHO = '127.26.2.1';
const FOREIGN = { go: '127.26.3.1', python: '127.26.3.2' } as const;
const HERE = import.meta.dirname;
const PYTHON = '/usr/bin/python3';

type Peer = 'go' | 'python';
const clientCommand = (peer: Peer): [string, string[]] =>
  peer === 'go' ? [join(HERE, 'bin/hbone-client'), []] : [PYTHON, [join(HERE, 'python/hbone_client.py')]];
const serverCommand = (peer: Peer): [string, string[]] =>
  peer === 'go' ? [join(HERE, 'bin/hbone-server'), []] : [PYTHON, [join(HERE, 'python/hbone_server.py')]];

interface CertFiles {
  cert: string;
  key: string;
  roots: string;
}

describe('HBONE interop with Go and Python peers', () => {
  let mesh: LoopbackMesh;
  let dir: string;
  const apps: EchoServer[] = [];
  const children: ChildProcess[] = [];
  const certs = new Map<string, CertFiles>();

  const certFiles = async (serviceAccount: string): Promise<CertFiles> => {
    const existing = certs.get(serviceAccount);
    if (existing) return existing;
    const issued = await mesh.pki.issue({ identity: { namespace: 'default', serviceAccount } });
    const files = {
      cert: join(dir, `${serviceAccount}-chain.pem`),
      key: join(dir, `${serviceAccount}-key.pem`),
      roots: join(dir, `${serviceAccount}-roots.pem`),
    };
    await writeFile(files.cert, issued.certChainPem);
    await writeFile(files.key, issued.keyPem, { mode: 0o600 });
    await writeFile(files.roots, issued.rootsPem);
    certs.set(serviceAccount, files);
    return files;
  };
  const certArgs = (files: CertFiles) => ['--cert', files.cert, '--key', files.key, '--roots', files.roots];

  beforeAll(async () => {
    const build = spawnSync(join(HERE, 'build-go.sh'), { encoding: 'utf8' });
    if (build.status !== 0)
      throw new Error(`building the Go peers failed (is golang-go installed?):\n${build.stderr}`);
    const h2 = spawnSync(PYTHON, ['-c', 'import h2'], { encoding: 'utf8' });
    if (h2.status !== 0) throw new Error(`Python h2 is missing (install python3-h2):\n${h2.stderr}`);

    dir = await mkdtemp(join(tmpdir(), 'interop-'));
    mesh = await LoopbackMesh.create({
      workloads: [
        meshWorkload('client', CLIENT, 'node-a'),
        meshWorkload('echo', ECHO, 'node-b'),
        {
          name: 'go-server',
          serviceAccount: 'go-server',
          workloadIps: [FOREIGN.go],
          protocol: 'HBONE',
          node: 'node-x',
        },
        {
          name: 'py-server',
          serviceAccount: 'py-server',
          workloadIps: [FOREIGN.python],
          protocol: 'HBONE',
          node: 'node-x',
        },
      ],
    });
    apps.push(await startEchoServer(ECHO, 9000));
    apps.push(await startEchoServer(FOREIGN.go, 9000));
    apps.push(await startEchoServer(FOREIGN.python, 9000));
    await mesh.startZtunnel('node-a', NODE_A);
    await mesh.startZtunnel('node-b', NODE_B);
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await mesh.close();
    await Promise.all(apps.map((app) => app.close()));
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs a foreign client to completion with `input` on stdin. */
  async function runClient(
    peer: Peer,
    args: string[],
    input: Buffer,
  ): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
    const [command, prefix] = clientCommand(peer);
    const child = spawn(command, [...prefix, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdin.on('error', () => undefined); // a client refused early closes its stdin
    child.stdin.end(input);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    return { code, stdout: Buffer.concat(stdout), stderr };
  }

  /** Starts a foreign HBONE server on `ip:15008` with that workload's certificate. */
  async function startServer(peer: Peer, ip: string, serviceAccount: string): Promise<void> {
    const [command, prefix] = serverCommand(peer);
    const child = spawn(
      command,
      [...prefix, '--listen', `${ip}:15008`, ...certArgs(await certFiles(serviceAccount))],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        if (c.toString().includes('listening')) resolve();
      });
      child.on('exit', (code) => {
        reject(new Error(`${peer} server exited with ${String(code)}: ${stderr}`));
      });
    });
  }

  /** A foreign client's arguments for a tunnel to our echo workload, plus any extra flags. */
  const toEcho = async (peer: Peer, ...extra: string[]): Promise<string[]> => [
    '--connect',
    `${ECHO}:15008`,
    '--authority',
    `${ECHO}:9000`,
    ...extra,
    ...certArgs(await certFiles(`${peer}-client`)),
  ];

  describe.each<Peer>(['go', 'python'])('%s', (peer) => {
    it(`${peer} client → our ztunnel: bytes both ways, half-close, identity checked`, async () => {
      const payload = randomBytes(8 * 1024 * 1024);
      const { code, stdout, stderr } = await runClient(
        peer,
        await toEcho(peer, '--expect-san', 'spiffe://cluster.local/ns/default/sa/echo'),
        payload,
      );
      expect(stderr).toContain('status 200');
      expect(code).toBe(0);
      expect(createHash('sha256').update(stdout).digest('hex')).toBe(
        createHash('sha256').update(payload).digest('hex'),
      );
    });

    it(`${peer} client gets our 400 for a method other than CONNECT`, async () => {
      const { code, stderr } = await runClient(peer, await toEcho(peer, '--method', 'GET'), Buffer.alloc(0));
      expect(stderr).toContain('status 400');
      expect(code).toBe(3);
    });

    it(`${peer} client refuses our ztunnel when it is not the expected identity`, async () => {
      const { code } = await runClient(
        peer,
        await toEcho(peer, '--expect-san', 'spiffe://cluster.local/ns/default/sa/impostor'),
        Buffer.from('x'),
      );
      expect(code).toBe(2);
    });

    it(`our ztunnel → ${peer} server: a pooled HBONE tunnel carries bytes both ways`, async () => {
      const ip = FOREIGN[peer];
      await startServer(peer, ip, peer === 'go' ? 'go-server' : 'py-server');
      for (const word of ['first', 'second']) {
        const socket = await socks5Connect({
          proxyIp: NODE_A,
          proxyPort: 15080,
          sourceIp: CLIENT,
          targetHost: ip,
          targetPort: 9000,
        });
        expect((await exchange(socket, `${word} through ${peer}`)).toString()).toBe(
          `${word} through ${peer}`,
        );
      }
      const big = randomBytes(4 * 1024 * 1024);
      const socket = await socks5Connect({
        proxyIp: NODE_A,
        proxyPort: 15080,
        sourceIp: CLIENT,
        targetHost: ip,
        targetPort: 9000,
      });
      expect((await exchange(socket, big)).equals(big)).toBe(true);
    });
  });
});
