import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, ErrorCode, isMeshError } from '@ambient/core';
import { FolderSource } from './folder.js';
import type { SourceObject, SourceProblem } from './source.js';

interface Delivery {
  readonly objects: readonly SourceObject[];
  readonly problems: readonly SourceProblem[];
}

/** Records every delivery and lets a test wait for the first one that satisfies a condition. */
class Deliveries {
  readonly all: Delivery[] = [];
  private waiters: { test: (d: Delivery) => boolean; resolve: (d: Delivery) => void }[] = [];

  readonly listener = (objects: readonly SourceObject[], problems: readonly SourceProblem[]): void => {
    const delivery = { objects, problems };
    this.all.push(delivery);
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.test(delivery)) return true;
      waiter.resolve(delivery);
      return false;
    });
  };

  /** The next delivery (from now on) that satisfies `test`. */
  next(test: (d: Delivery) => boolean): Promise<Delivery> {
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }
}

class LogLines extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString().split('\n'))
      if (line !== '') this.lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  }
}

const names = (d: Delivery): string[] =>
  d.objects.map((o) => `${o.object.kind}/${String(o.object.metadata.name)}`);
const podYaml = (name: string): string =>
  `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\nspec:\n  containers: [{ name: app }]\n`;

describe('FolderSource', () => {
  let dir: string;
  let source: FolderSource | undefined;
  let logs: LogLines;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'folder-source-'));
    logs = new LogLines();
  });
  afterEach(async () => {
    await source?.close();
    source = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  const start = async (deliveries: Deliveries, folder = dir): Promise<FolderSource> => {
    source = new FolderSource(folder, {
      logger: createLogger({ level: 'debug', destination: logs }),
      debounceMs: 10,
    });
    await source.start(deliveries.listener);
    return source;
  };

  it('reads every YAML file under the folder, in path order, with each document’s origin', async () => {
    await writeFile(join(dir, 'b.yaml'), `${podYaml('b1')}---\n${podYaml('b2')}---\n`);
    await writeFile(join(dir, 'a.yml'), podYaml('a'));
    await mkdir(join(dir, 'nested'));
    await writeFile(join(dir, 'nested', 'c.yaml'), podYaml('c'));
    await writeFile(join(dir, 'notes.txt'), 'not yaml');
    await writeFile(join(dir, '.hidden.yaml'), podYaml('hidden'));
    await mkdir(join(dir, '..data'));
    await writeFile(join(dir, '..data', 'mounted.yaml'), podYaml('mounted-twice'));
    await symlink(join(dir, '..data', 'mounted.yaml'), join(dir, 'mounted.yaml'));
    const deliveries = new Deliveries();
    await start(deliveries);

    expect(deliveries.all).toHaveLength(1);
    const [first] = deliveries.all;
    expect(first?.problems).toEqual([]);
    expect(first?.objects.map((o) => [o.origin, o.object.metadata.name])).toEqual([
      [join(dir, 'a.yml#1'), 'a'],
      [join(dir, 'b.yaml#1'), 'b1'],
      [join(dir, 'b.yaml#2'), 'b2'],
      [join(dir, 'mounted.yaml#1'), 'mounted-twice'],
      [join(dir, 'nested/c.yaml#1'), 'c'],
    ]);
  });

  it('expands List kinds, filling in the kind of typed lists', async () => {
    await writeFile(
      join(dir, 'lists.yaml'),
      [
        'apiVersion: v1',
        'kind: List',
        'items:',
        '  - { apiVersion: v1, kind: Namespace, metadata: { name: ns1 } }',
        '  - { apiVersion: v1, kind: Service, metadata: { name: svc } }',
        '---',
        'apiVersion: v1',
        'kind: PodList',
        'items:',
        '  - { metadata: { name: p1 }, spec: { containers: [] } }',
      ].join('\n'),
    );
    const deliveries = new Deliveries();
    await start(deliveries);
    const [first] = deliveries.all;
    expect(first && names(first)).toEqual(['Namespace/ns1', 'Service/svc', 'Pod/p1']);
    expect(first?.objects.map((o) => o.origin)).toEqual([
      join(dir, 'lists.yaml#1.items[0]'),
      join(dir, 'lists.yaml#1.items[1]'),
      join(dir, 'lists.yaml#2.items[0]'),
    ]);
  });

  it('reports documents that are not Kubernetes objects and keeps the rest of the file', async () => {
    await writeFile(join(dir, 'mixed.yaml'), `- a list\n---\nmetadata: { name: x }\n---\n${podYaml('ok')}`);
    const deliveries = new Deliveries();
    await start(deliveries);
    const [first] = deliveries.all;
    expect(first && names(first)).toEqual(['Pod/ok']);
    expect(first?.problems).toEqual([
      {
        origin: join(dir, 'mixed.yaml#1'),
        object: 'document 1',
        field: '',
        message: 'expected a Kubernetes object (a mapping)',
      },
      { origin: join(dir, 'mixed.yaml#2'), object: 'document 2', field: 'apiVersion', message: 'required' },
    ]);
  });

  it('delivers the new set after a file is edited or added', async () => {
    await writeFile(join(dir, 'pods.yaml'), podYaml('one'));
    const deliveries = new Deliveries();
    await start(deliveries);

    const edited = deliveries.next((d) => names(d).includes('Pod/two'));
    await writeFile(join(dir, 'pods.yaml'), podYaml('two'));
    expect(names(await edited)).toEqual(['Pod/two']);

    const added = deliveries.next((d) => names(d).includes('Pod/three'));
    await writeFile(join(dir, 'more.yaml'), podYaml('three'));
    expect(names(await added)).toEqual(['Pod/three', 'Pod/two']);
  });

  it('keeps the last good objects of a file with a YAML syntax error, and reports the error', async () => {
    await writeFile(join(dir, 'pods.yaml'), podYaml('good'));
    await writeFile(join(dir, 'other.yaml'), podYaml('other'));
    const deliveries = new Deliveries();
    await start(deliveries);

    const broken = deliveries.next((d) => d.problems.length > 0);
    await writeFile(join(dir, 'pods.yaml'), `${podYaml('half-saved')}  labels: [unclosed\n`);
    const delivery = await broken;
    expect(names(delivery)).toEqual(['Pod/other', 'Pod/good']);
    expect(delivery.problems).toEqual([
      expect.objectContaining({
        origin: join(dir, 'pods.yaml#1'),
        object: 'document 1',
        message: expect.stringMatching(/^YAML syntax error/) as unknown,
      }),
    ]);

    const fixed = deliveries.next((d) => names(d).includes('Pod/fixed'));
    await writeFile(join(dir, 'pods.yaml'), podYaml('fixed'));
    const after = await fixed;
    expect(after.problems).toEqual([]);
    expect(names(after)).toEqual(['Pod/other', 'Pod/fixed']);
  });

  it('a file with a syntax error on the first read contributes nothing until it is fixed', async () => {
    await writeFile(join(dir, 'bad.yaml'), 'kind: [\n');
    await writeFile(join(dir, 'good.yaml'), podYaml('good'));
    const deliveries = new Deliveries();
    await start(deliveries);
    const [first] = deliveries.all;
    expect(first && names(first)).toEqual(['Pod/good']);
    expect(first?.problems).toHaveLength(1);
  });

  it('drops the objects of a removed file', async () => {
    await writeFile(join(dir, 'stays.yaml'), podYaml('stays'));
    await writeFile(join(dir, 'goes.yaml'), podYaml('goes'));
    const deliveries = new Deliveries();
    await start(deliveries);
    expect(deliveries.all[0] && names(deliveries.all[0])).toEqual(['Pod/goes', 'Pod/stays']);

    const removed = deliveries.next((d) => !names(d).includes('Pod/goes'));
    await rm(join(dir, 'goes.yaml'));
    expect(names(await removed)).toEqual(['Pod/stays']);
  });

  it('a listener that throws is logged, and later changes are still delivered', async () => {
    await writeFile(join(dir, 'pods.yaml'), podYaml('one'));
    const deliveries = new Deliveries();
    let calls = 0;
    source = new FolderSource(dir, {
      logger: createLogger({ level: 'debug', destination: logs }),
      debounceMs: 10,
    });
    await source.start((objects, problems) => {
      calls += 1;
      if (calls === 1) throw new Error('listener bug');
      deliveries.listener(objects, problems);
    });
    expect(logs.lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: 'config change listener failed',
        error: 'listener bug',
      }),
    );
    const next = deliveries.next((d) => names(d).includes('Pod/two'));
    await writeFile(join(dir, 'pods.yaml'), podYaml('two'));
    expect(names(await next)).toEqual(['Pod/two']);
  });

  it.each([
    {
      name: 'does not exist',
      make: (base: string) => Promise.resolve(join(base, 'missing')),
      message: /does not exist/,
    },
    {
      name: 'is a file',
      make: async (base: string) => {
        await writeFile(join(base, 'file.yaml'), '');
        return join(base, 'file.yaml');
      },
      message: /is not a folder/,
    },
  ])('start rejects with a MeshError naming the path when the folder $name', async ({ make, message }) => {
    const path = await make(dir);
    const failed = await new FolderSource(path, { logger: createLogger({ level: 'silent' }) })
      .start(() => undefined)
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(isMeshError(failed, ErrorCode.ConfigSourceUnavailable)).toBe(true);
    expect((failed as Error).message).toContain(path);
    expect((failed as Error).message).toMatch(message);
  });
});
