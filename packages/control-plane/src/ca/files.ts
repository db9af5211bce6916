import { randomBytes } from 'node:crypto';
import { chmod, rename, writeFile } from 'node:fs/promises';

/** Write beside, then rename: a reader sees the old file or the new one, never half of one. */
export async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, text, { mode });
  // `mode` is filtered by the umask; a key must be 0600 whatever the umask says.
  await chmod(temporary, mode);
  await rename(temporary, path);
}
