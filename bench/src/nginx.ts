import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnLogged, waitListening, type LoggedProcess } from './processes.js';

/*
 * The HTTP group's backend: Debian's nginx serving one small static file, one process (no master,
 * one worker), on the load generator's core like every app server of the bench.
 */

/** Istio's published ztunnel figures use a 1 KB payload; the same size here. */
export const RESPONSE_BODY_BYTES = 1024;
// The wrk runs are a few seconds: no keep-alive connection is closed by nginx's default limit of
// 1,000 requests midway, so the figure is the per-request cost, not a reconnect every 1,000 requests.
const KEEPALIVE_REQUESTS = 10_000_000;

export function nginxConfig(options: {
  dir: string;
  errorLogPath: string;
  ip: string;
  port: number;
}): string {
  const { dir } = options;
  return [
    'daemon off;',
    'master_process off;',
    'worker_processes 1;',
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${options.errorLogPath} warn;`,
    'events { worker_connections 4096; }',
    'http {',
    '  access_log off;',
    '  default_type text/plain;',
    `  keepalive_requests ${String(KEEPALIVE_REQUESTS)};`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
      (kind) => `  ${kind}_temp_path ${join(dir, `${kind}_temp`)};`,
    ),
    `  server { listen ${options.ip}:${String(options.port)}; root ${join(dir, 'www')}; }`,
    '}',
    '',
  ].join('\n');
}

export async function startNginx(options: {
  dir: string;
  logDir: string;
  ip: string;
  port: number;
}): Promise<LoggedProcess> {
  await mkdir(join(options.dir, 'www'), { recursive: true });
  await writeFile(join(options.dir, 'www', 'index.html'), 'x'.repeat(RESPONSE_BODY_BYTES - 1) + '\n');
  const configPath = join(options.dir, 'nginx.conf');
  const errorLogPath = join(options.logDir, 'nginx-error.log');
  await writeFile(configPath, nginxConfig({ ...options, errorLogPath }));
  // -e: even the error log nginx opens before reading its config goes to the bench's log dir.
  const nginx = spawnLogged(
    'nginx',
    ['-e', errorLogPath, '-c', configPath],
    join(options.logDir, 'nginx.log'),
  );
  try {
    await waitListening(nginx, options.ip, options.port);
  } catch (err) {
    await nginx.stop();
    throw err;
  }
  return nginx;
}
