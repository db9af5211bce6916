import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeExit, LoggedChild } from './logged-child.js';

/** Bounds a child that misbehaves; the clean cases end long before. */
const STOP_TIMEOUT_MS = 5_000;
/** Short: the stubborn child must be killed, and the test should not wait long for that. */
const STUBBORN_STOP_TIMEOUT_MS = 200;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'logged-child-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function childRunning(source: string): Promise<LoggedChild> {
  const script = join(dir, 'child.mjs');
  await writeFile(script, source);
  return new LoggedChild({
    script,
    env: { PATH: process.env.PATH ?? '', GREETING: 'hello' },
    logPath: join(dir, 'child.log'),
    stderrPath: join(dir, 'child.stderr.log'),
  });
}

describe('LoggedChild', () => {
  it('keeps stdout in a file and parses each NDJSON line into the feed; stderr goes to its own file', async () => {
    const child = await childRunning(`
      console.log(JSON.stringify({ message: 'started', greeting: process.env.GREETING }));
      console.log('plain text');
      console.error('complaint');
      process.exit(3);
    `);
    const exit = await child.exited;
    expect(exit).toEqual({ code: 3, signal: null });
    expect(child.running).toBe(false);
    expect(await child.logs.waitFor(0, (line) => line.message === 'started', 0)).toEqual({
      message: 'started',
      greeting: 'hello',
    });
    expect(await child.logs.waitFor(0, (line) => line.message === 'plain text', 0)).toEqual({
      message: 'plain text',
    });
    expect(await child.describeEarlyExit(exit)).toBe('exit code 3: complaint');
    await child.stop(STOP_TIMEOUT_MS);
    expect(await readFile(join(dir, 'child.log'), 'utf8')).toBe(
      '{"message":"started","greeting":"hello"}\nplain text\n',
    );
  });

  it('stops a child with SIGTERM and reports how it ended', async () => {
    const child = await childRunning(`
      process.on('SIGTERM', () => process.exit(0));
      console.log(JSON.stringify({ message: 'ready' }));
      setInterval(() => undefined, 1000);
    `);
    await child.logs.waitFor(0, (line) => line.message === 'ready', STOP_TIMEOUT_MS);
    expect(child.running).toBe(true);
    expect(await child.stop(STOP_TIMEOUT_MS)).toEqual({ code: 0, signal: null, killed: false });
  });

  it('kills a child that ignores SIGTERM once the bound has passed', async () => {
    const child = await childRunning(`
      process.on('SIGTERM', () => undefined);
      console.log(JSON.stringify({ message: 'ready' }));
      setInterval(() => undefined, 1000);
    `);
    await child.logs.waitFor(0, (line) => line.message === 'ready', STOP_TIMEOUT_MS);
    expect(await child.stop(STUBBORN_STOP_TIMEOUT_MS)).toEqual({
      code: null,
      signal: 'SIGKILL',
      killed: true,
    });
  });

  it('describes an exit without stderr by its status alone', () => {
    expect(describeExit({ code: 2, signal: null })).toBe('exit code 2');
    expect(describeExit({ code: null, signal: 'SIGKILL' })).toBe('killed by SIGKILL');
  });
});
