import type { Dirent, FSWatcher } from 'node:fs';
import { watch } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, errorMessage, MeshError, type Logger } from '@ambient/core';
import { parseAllDocuments } from 'yaml';
import type { ConfigSource, KubeObject, SourceObject, SourceProblem } from './source.js';

/*
 * CONFIG_DIR: a folder of Kubernetes YAML, read whole and read again (debounced) after every change
 * under it. A file with a YAML syntax error keeps its last good objects in force, so a half-saved
 * edit never takes a workload or a policy away.
 */

const DEFAULT_DEBOUNCE_MS = 100;
const YAML_FILE = /\.ya?ml$/i;
/** `kind: List` (kubectl's) and typed lists (`PodList`) carry their objects in `items`. */
const LIST_KIND_SUFFIX = 'List';

export interface FolderSourceOptions {
  readonly logger: Logger;
  /** Quiet time after the last change before the folder is read again: editors and `cp -r` write in bursts. */
  readonly debounceMs?: number;
}

type ChangeListener = Parameters<ConfigSource['start']>[0];

interface FileContents {
  /** False when the file could not be read or parsed: its previous objects stay in force. */
  readonly ok: boolean;
  readonly objects: SourceObject[];
  readonly problems: SourceProblem[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Hidden entries are skipped: editors' lock and swap files, and a mounted ConfigMap's `..data`
 * folders, which would otherwise be read a second time next to the top-level symlinks.
 */
function isHidden(name: string): boolean {
  return name.startsWith('.');
}

async function isFileOrLinkToFile(dir: string, path: string, entry: Dirent): Promise<boolean> {
  if (entry.isFile()) return true;
  if (!entry.isSymbolicLink()) return false;
  const target = await stat(join(dir, path)).catch(() => undefined);
  return target?.isFile() === true;
}

/** Every `*.yaml` / `*.yml` under `dir` as a path relative to it (with `/`), sorted. */
async function listYamlFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (relative: string): Promise<void> => {
    const entries = await readdir(join(dir, relative), { withFileTypes: true });
    for (const entry of entries) {
      if (isHidden(entry.name)) continue;
      const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) await walk(path);
      else if (YAML_FILE.test(entry.name) && (await isFileOrLinkToFile(dir, path, entry))) found.push(path);
    }
  };
  await walk('');
  return found.sort();
}

/** The shape every kind shares; the converter checks the rest against the kind's schema. */
function asKubeObject(value: Record<string, unknown>): KubeObject | { field: string; message: string } {
  if (typeof value.apiVersion !== 'string' || value.apiVersion === '')
    return { field: 'apiVersion', message: 'required' };
  if (typeof value.kind !== 'string' || value.kind === '') return { field: 'kind', message: 'required' };
  if (value.metadata !== undefined && value.metadata !== null && !isRecord(value.metadata)) {
    return { field: 'metadata', message: 'expected a mapping' };
  }
  const metadata = isRecord(value.metadata) ? value.metadata : {};
  return { ...value, apiVersion: value.apiVersion, kind: value.kind, metadata };
}

function addObject(value: unknown, origin: string, label: string, into: FileContents): void {
  if (!isRecord(value)) {
    into.problems.push({
      origin,
      object: label,
      field: '',
      message: 'expected a Kubernetes object (a mapping)',
    });
    return;
  }
  const object = asKubeObject(value);
  if ('metadata' in object) into.objects.push({ origin, object });
  else into.problems.push({ origin, object: label, ...object });
}

/** The objects of one document: itself, or the items of a list. */
function addDocument(value: unknown, origin: string, label: string, into: FileContents): void {
  // An empty document (a trailing `---`, a comment-only file) holds nothing.
  if (value === null || value === undefined) return;
  const kind = isRecord(value) ? value.kind : undefined;
  if (
    !isRecord(value) ||
    typeof kind !== 'string' ||
    !kind.endsWith(LIST_KIND_SUFFIX) ||
    !Array.isArray(value.items)
  ) {
    addObject(value, origin, label, into);
    return;
  }
  // Typed lists from the API (`PodList`) leave apiVersion and kind out of their items.
  const itemKind = kind === LIST_KIND_SUFFIX ? undefined : kind.slice(0, -LIST_KIND_SUFFIX.length);
  (value.items as unknown[]).forEach((item, index) => {
    const itemOrigin = `${origin}.items[${String(index)}]`;
    const filled = isRecord(item)
      ? { apiVersion: value.apiVersion, ...(itemKind === undefined ? {} : { kind: itemKind }), ...item }
      : item;
    addObject(filled, itemOrigin, label, into);
  });
}

/**
 * One file's objects, each with origin `<path>#<document number>` (`#2.items[0]` inside a list). A YAML
 * error anywhere in the file makes all of it unusable (`ok: false`), with one problem per error.
 */
async function readYamlFile(path: string, originPath: string): Promise<FileContents> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const message = `cannot be read: ${errorMessage(err)}`;
    return { ok: false, objects: [], problems: [{ origin: originPath, object: 'file', field: '', message }] };
  }
  const documents = parseAllDocuments(text);
  const list = Array.isArray(documents) ? documents : [];
  const failed: SourceProblem[] = [];
  const contents: FileContents = { ok: true, objects: [], problems: [] };
  list.forEach((document, index) => {
    const origin = `${originPath}#${String(index + 1)}`;
    const label = `document ${String(index + 1)}`;
    for (const error of document.errors) {
      // The first line says what and where (ending in a colon before the excerpt of the file).
      const message = `YAML syntax error: ${(error.message.split('\n')[0] ?? '').replace(/:$/, '')}`;
      failed.push({ origin, object: label, field: '', message });
    }
    if (document.errors.length > 0) return;
    try {
      addDocument(document.toJS(), origin, label, contents);
    } catch (err) {
      // It parses but has no values: too many aliases, say.
      failed.push({ origin, object: label, field: '', message: `YAML error: ${errorMessage(err)}` });
    }
  });
  return failed.length > 0 ? { ok: false, objects: [], problems: failed } : contents;
}

/**
 * Every `*.yaml` / `*.yml` under a folder (recursively, in path order; multi-document files and List
 * kinds expanded), delivered whole on start and after each change. Problems carry
 * `<folder>/<file>#<document>` as their origin.
 */
export class FolderSource implements ConfigSource {
  private readonly debounceMs: number;
  private readonly lastGood = new Map<string, readonly SourceObject[]>();
  private listener: ChangeListener | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  /** Counts requests to read, so that a change during a read is never lost. */
  private readsRequested = 0;
  private closed = false;

  constructor(
    readonly dir: string,
    private readonly options: FolderSourceOptions,
  ) {
    this.debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  }

  async start(onChange: ChangeListener): Promise<void> {
    if (this.listener !== undefined) throw new Error('FolderSource started twice');
    this.listener = onChange;
    await this.checkFolder();
    // Watch before the first read, so that nothing written meanwhile is missed.
    this.watch();
    await this.read();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.watcher?.close();
    await this.reading;
  }

  private async checkFolder(): Promise<void> {
    let isFolder: boolean;
    try {
      isFolder = (await stat(this.dir)).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const what = code === 'ENOENT' ? 'does not exist' : `cannot be read: ${errorMessage(err)}`;
      throw new MeshError(ErrorCode.ConfigSourceUnavailable, `config folder ${this.dir} ${what}`, {
        cause: err,
      });
    }
    if (!isFolder) {
      throw new MeshError(ErrorCode.ConfigSourceUnavailable, `config folder ${this.dir} is not a folder`);
    }
  }

  private watch(): void {
    try {
      this.watcher = watch(this.dir, { recursive: true }, () => {
        this.schedule();
      });
      this.watcher.on('error', (err) => {
        this.options.logger.error({ dir: this.dir, error: errorMessage(err) }, 'config folder watch failed');
      });
    } catch (err) {
      // Out of inotify watches, say: serve what was read rather than nothing.
      this.options.logger.error(
        { dir: this.dir, error: errorMessage(err) },
        'config folder cannot be watched; changes take effect on restart',
      );
    }
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.read();
    }, this.debounceMs);
  }

  /** One read at a time; a change during a read starts another right after it. */
  private read(): Promise<void> {
    this.readsRequested += 1;
    if (this.reading !== undefined) return this.reading;
    this.reading = (async () => {
      try {
        let served = -1;
        while (served !== this.readsRequested && !this.closed) {
          served = this.readsRequested;
          await this.readAndDeliver();
        }
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  private async readAndDeliver(): Promise<void> {
    const { logger } = this.options;
    let files: string[];
    try {
      files = await listYamlFiles(this.dir);
    } catch (err) {
      logger.error(
        { dir: this.dir, error: errorMessage(err) },
        'config folder cannot be read; last objects kept',
      );
      return;
    }
    const objects: SourceObject[] = [];
    const problems: SourceProblem[] = [];
    for (const file of files) {
      const path = join(this.dir, file);
      const contents = await readYamlFile(path, path);
      problems.push(...contents.problems);
      if (contents.ok) this.lastGood.set(file, contents.objects);
      objects.push(...(this.lastGood.get(file) ?? []));
    }
    const present = new Set(files);
    for (const file of [...this.lastGood.keys()]) if (!present.has(file)) this.lastGood.delete(file);
    if (this.closed || this.listener === undefined) return;
    logger.debug(
      { dir: this.dir, files: files.length, objects: objects.length, problems: problems.length },
      'config folder read',
    );
    try {
      this.listener(objects, problems);
    } catch (err) {
      logger.error({ dir: this.dir, error: errorMessage(err) }, 'config change listener failed');
    }
  }
}
