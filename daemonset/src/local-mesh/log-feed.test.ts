import { describe, expect, it } from 'vitest';
import { LogFeed } from './log-feed.js';

const isAccess = (line: Readonly<Record<string, unknown>>): boolean => line.message === 'connection complete';

describe('LogFeed', () => {
  it('finds a line already there, but only at or after the given position', async () => {
    const feed = new LogFeed();
    feed.push({ message: 'connection complete', n: 1 });
    const since = feed.position;
    feed.push({ message: 'other' });
    feed.push({ message: 'connection complete', n: 2 });
    expect(await feed.waitFor(since, isAccess, 1_000)).toEqual({ message: 'connection complete', n: 2 });
  });

  it('waits for a line that comes later', async () => {
    const feed = new LogFeed();
    const waiting = feed.waitFor(feed.position, isAccess, 10_000);
    feed.push({ message: 'other' });
    feed.push({ message: 'connection complete', n: 3 });
    expect(await waiting).toEqual({ message: 'connection complete', n: 3 });
  });

  it('gives up with undefined when no such line comes', async () => {
    const feed = new LogFeed();
    const waiting = feed.waitFor(feed.position, isAccess, 10);
    feed.push({ message: 'other' });
    expect(await waiting).toBeUndefined();
  });

  it('forgets old lines but keeps counting positions', async () => {
    const feed = new LogFeed();
    for (let n = 0; n < 6_000; n++) feed.push({ message: 'connection complete', n });
    expect(feed.position).toBe(6_000);
    expect(await feed.waitFor(0, isAccess, 10)).toEqual({ message: 'connection complete', n: 1_000 });
    expect(await feed.waitFor(5_999, isAccess, 10)).toEqual({ message: 'connection complete', n: 5_999 });
  });
});
