/**
 * Where the build's bytes go. `SlotSink` streams an image into a file through a SlotPool:
 * bytes are gathered in a shared 1 MiB slot (copied from small writes, or read straight into
 * it with `fillFrom`), and each full slot is, in this order, handed to the current hash
 * workers, passed to the main-thread observers (CRC, PCR1) and written to the file. So every
 * byte is read once, measured where it is written, and never copied for the hashers.
 * `route` (flushing first) switches who sees the following bytes — the EIF writer uses it so
 * section headers reach the CRC but not the PCRs. Between `contentStart` and `contentEnd`
 * the routed `files` worker also gets the bytes as one file's content (per-file digests).
 * Not safe for concurrent writers: await each call. `MemorySink` keeps a small archive (the
 * bootstrap ramdisk) in memory.
 */
import { writeSync } from 'node:fs';
import type { SlotPool } from './slots.ts';
import type { FileMark, HashWorker } from './hash-worker.ts';

/** Sees every routed byte once, in order, on the main thread. */
export type Observer = (chunk: Uint8Array) => void;

export interface ByteSink {
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Lets `read` fill up to `max` bytes of the sink's own buffer (e.g. readSync into it);
   * resolves with the count it returned. Saves a copy for file content.
   */
  fillFrom(max: number, read: (dst: Buffer) => number): Promise<number>;
  /** The bytes from here to `contentEnd` are the content of the file `name`. */
  contentStart(): void;
  contentEnd(name: string): void;
  /** Bytes accepted so far. */
  readonly length: number;
}

/** Below this much room left in a slot, `fillFrom` starts a fresh one. */
const MIN_FILL = 256 << 10;

export class SlotSink implements ByteSink {
  private slot = -1;
  private used = 0;
  private written = 0;
  private position: number;
  private observers: Observer[] = [];
  private workers: HashWorker[] = [];
  private files: HashWorker | undefined;
  private inFile = false;
  private marks: FileMark[] = [];

  constructor(
    private readonly fd: number,
    start: number,
    private readonly pool: SlotPool,
  ) {
    this.position = start;
  }

  get length(): number {
    return this.written + this.used;
  }

  /** Flushes, then sends what follows to these observers and workers only (and file contents to `files`). */
  async route(observers: Observer[], workers: HashWorker[], files?: HashWorker): Promise<void> {
    await this.flush();
    if (files && !workers.includes(files)) throw new RangeError('SlotSink.route: the files worker must also be routed');
    this.observers = observers;
    this.workers = workers;
    this.files = files;
  }

  contentStart(): void {
    this.inFile = true;
  }

  contentEnd(name: string): void {
    this.inFile = false;
    if (this.files) this.marks.push(name);
  }

  private piece(at: number, n: number): void {
    if (!this.inFile || !this.files || n === 0) return;
    const last = this.marks[this.marks.length - 1];
    if (Array.isArray(last) && last[0] + last[1] === at) last[1] += n;
    else this.marks.push([at, n]);
  }

  async write(chunk: Uint8Array): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      if (this.slot < 0) this.slot = await this.pool.acquire();
      const view = this.pool.views[this.slot]!;
      const n = Math.min(view.length - this.used, chunk.length - off);
      view.set(chunk.subarray(off, off + n), this.used);
      this.piece(this.used, n);
      this.used += n;
      off += n;
      if (this.used === view.length) await this.flush();
    }
  }

  async fillFrom(max: number, read: (dst: Buffer) => number): Promise<number> {
    if (this.slot >= 0 && this.pool.views[this.slot]!.length - this.used < Math.min(max, MIN_FILL)) await this.flush();
    if (this.slot < 0) this.slot = await this.pool.acquire();
    const view = this.pool.views[this.slot]!;
    const n = read(view.subarray(this.used, this.used + Math.min(max, view.length - this.used)));
    this.piece(this.used, n);
    this.used += n;
    if (this.used === view.length) await this.flush();
    return n;
  }

  async flush(): Promise<void> {
    const marks = this.marks;
    this.marks = [];
    const slot = this.slot;
    const n = this.used;
    this.slot = -1;
    this.used = 0;
    if (slot < 0 || n === 0) {
      if (slot >= 0) this.pool.hold(slot, 0);
      if (marks.length > 0) this.files!.marks(marks); // names of files that ended on a slot boundary
      return;
    }
    const chunk = this.pool.views[slot]!.subarray(0, n);
    for (const w of this.workers) w.update(slot, n, w === this.files ? marks : undefined); // they hash while this thread writes
    for (const o of this.observers) o(chunk);
    for (let off = 0; off < n; ) {
      // Synchronous on purpose: a build is a sequential CLI job; the threadpool hop costs
      // more than it overlaps when the hash workers already fill the cores.
      const w = writeSync(this.fd, chunk, off, n - off, this.position);
      off += w;
      this.position += w;
    }
    this.written += n;
    this.pool.hold(slot, this.workers.length);
  }
}

/** An in-memory sink for small archives (the bootstrap ramdisk); it keeps no per-file digests. */
export class MemorySink implements ByteSink {
  private parts: Uint8Array[] = [];
  length = 0;
  async write(chunk: Uint8Array): Promise<void> {
    this.parts.push(new Uint8Array(chunk)); // a copy (Buffer#slice would be a view)
    this.length += chunk.length;
  }
  async fillFrom(max: number, read: (dst: Buffer) => number): Promise<number> {
    const buf = Buffer.allocUnsafe(Math.min(max, 1 << 20));
    const n = read(buf);
    await this.write(buf.subarray(0, n));
    return n;
  }
  contentStart(): void {}
  contentEnd(): void {}
  bytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.parts));
  }
}
