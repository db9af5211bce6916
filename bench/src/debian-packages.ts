import { execFile, execFileSync } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';

/*
 * The peers (stunnel, HAProxy) and the HTTP tools (nginx, wrk) come from Debian, installed by the
 * bench itself so that `npm run bench:quick` works on a fresh machine. Only what dpkg says is
 * missing gets installed, after one `apt-get update`; without root (or apt) the bench stops and
 * says which command would have done it.
 */

const run = promisify(execFile);
// A cold `apt-get update` plus four small packages and their libraries: well under this on any mirror.
const APT_TIMEOUT_MS = 10 * 60_000;

/** True when dpkg reports the package as installed. */
export function isInstalled(pkg: string): boolean {
  try {
    const status = execFileSync('dpkg-query', ['-W', '-f=${Status}', pkg], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return status.trim().endsWith('ok installed');
  } catch {
    return false;
  }
}

/**
 * Installs the packages dpkg does not list, writing apt's output to `logPath`. Resolves with the
 * names it installed (empty when nothing was missing).
 */
export async function ensureDebianPackages(
  packages: readonly string[],
  logPath: string,
  progress: (line: string) => void,
): Promise<string[]> {
  const missing = packages.filter((pkg) => !isInstalled(pkg));
  if (missing.length === 0) return [];
  const command = `apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new Error(`missing Debian packages: ${missing.join(', ')}. Run as root, or first: ${command}`);
  }
  if (!commandExists('apt-get')) {
    throw new Error(`missing packages ${missing.join(', ')} and no apt-get on this machine to install them`);
  }
  progress(`installing ${missing.join(', ')} from Debian (log: ${logPath})`);
  const log = openSync(logPath, 'a');
  try {
    const options = {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: APT_TIMEOUT_MS,
      maxBuffer: 64 * 1024 * 1024,
    };
    const step = async (args: string[]): Promise<void> => {
      try {
        const { stdout, stderr } = await run('apt-get', args, options);
        writeLog(log, `$ apt-get ${args.join(' ')}\n${stdout}${stderr}`);
      } catch (err) {
        const detail = err instanceof Error ? err.message : String(err);
        writeLog(log, `$ apt-get ${args.join(' ')}\n${detail}\n`);
        throw new Error(`apt-get ${args[0] ?? ''} failed (see ${logPath}): ${firstLine(detail)}`, {
          cause: err,
        });
      }
    };
    await step(['update', '-q']);
    await step(['install', '-y', '-q', '--no-install-recommends', ...missing]);
  } finally {
    closeSync(log);
  }
  const stillMissing = missing.filter((pkg) => !isInstalled(pkg));
  if (stillMissing.length > 0) {
    throw new Error(`apt-get did not install ${stillMissing.join(', ')} (see ${logPath})`);
  }
  return missing;
}

/** The installed version dpkg reports, or "not installed". */
export function packageVersion(pkg: string): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'not installed';
  }
}

export function commandExists(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function writeLog(fd: number, text: string): void {
  // Synchronous and rare (two apt steps): simpler than a stream that must be flushed before close.
  writeSync(fd, text);
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}
