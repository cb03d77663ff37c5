import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/**
 * Where EMF lines come from: a file that grows (a node's --emf-file), a folder whose
 * `*.emf.jsonl` and `*.emf` files are followed as they appear (a local cluster's metrics
 * folder, or one per emulated host), or a stream (a process's stdout).
 */
export type EmfSource =
  | { readonly file: string }
  | { readonly folder: string }
  | { readonly stream: Readable; readonly name: string };

/** What the page shows about each source: lines read, and lines CloudWatch would reject. */
export interface SourceStatus {
  readonly name: string;
  lines: number;
  rejected: number;
  lastError?: string;
}

/**
 * Follows sources and hands each complete line to `onLine`. Files are read from their
 * start, then polled for what is appended (as the CloudWatch agent tails them).
 */
export class EmfFollower {
  readonly statuses: SourceStatus[] = [];
  private readonly files = new Map<string, { offset: number; partial: string; status: SourceStatus }>();
  private readonly folders: string[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly onLine: (line: string, status: SourceStatus) => void,
    pollMs = 250,
  ) {
    this.timer = setInterval(() => this.poll(), pollMs);
    this.timer.unref();
  }

  add(source: EmfSource): void {
    if ('file' in source) this.followFile(source.file);
    else if ('folder' in source) {
      this.folders.push(source.folder);
      this.poll();
    } else {
      const status: SourceStatus = { name: source.name, lines: 0, rejected: 0 };
      this.statuses.push(status);
      createInterface({ input: source.stream }).on('line', (line) => this.onLine(line, status));
    }
  }

  /** Reads whatever is new now (the poll does it on its own; a test or a page request may not want to wait). */
  poll(): void {
    for (const folder of this.folders) {
      let names: string[] = [];
      try {
        names = readdirSync(folder);
      } catch {
        continue; // not there yet
      }
      for (const name of names.sort()) if (/\.emf(\.jsonl)?$/.test(name)) this.followFile(join(folder, name));
    }
    for (const [path, file] of this.files) this.readNew(path, file);
  }

  stop(): void {
    clearInterval(this.timer);
    this.poll();
  }

  private followFile(path: string): void {
    if (this.files.has(path)) return;
    const status: SourceStatus = { name: path, lines: 0, rejected: 0 };
    this.statuses.push(status);
    const file = { offset: 0, partial: '', status };
    this.files.set(path, file);
    this.readNew(path, file);
  }

  private readNew(path: string, file: { offset: number; partial: string; status: SourceStatus }): void {
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      return;
    }
    if (size < file.offset) file.offset = 0; // truncated: read it again from the start
    if (size === file.offset) return;
    const buffer = Buffer.alloc(size - file.offset);
    const fd = openSync(path, 'r');
    try {
      readSync(fd, buffer, 0, buffer.length, file.offset);
    } finally {
      closeSync(fd);
    }
    file.offset = size;
    const lines = (file.partial + buffer.toString('utf8')).split('\n');
    file.partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) this.onLine(line, file.status);
  }
}
