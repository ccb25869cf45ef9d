/**
 * Hashing off the main thread. PCR0 and PCR2 are two SHA-384 streams over the same customer
 * ramdisk bytes (nitro.md §1.6), so the build runs each on its own worker while the main
 * thread reads, CRCs and writes: with three threads the OS keeps both cores busy without
 * hand balancing. Data arrives as (slot, length) in a shared SlotPool; the worker releases
 * the slot once hashed. Messages stay in order, so a worker's digest covers exactly the
 * slots posted before `digest()`.
 *
 * `hashRanges` hashes byte ranges of a file with SHA-256 on the worker (the rootfs pin's
 * per-file digests, read back from the finished image while the main thread computes the
 * image's own SHA-256). The worker is plain JS evaluated from a string, so it needs no
 * TypeScript loader.
 */
import { Worker } from 'node:worker_threads';
import type { SlotPool } from './slots.ts';

const WORKER_JS = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const views = workerData.slots.map((s) => new Uint8Array(s));
let h = createHash('sha384');
function ranges(path, list) {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 << 20);
    return list.map(([offset, size]) => {
      const d = createHash('sha256');
      for (let done = 0; done < size;) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, size - done), offset + done);
        if (n === 0) throw new Error('file shorter than expected: ' + path);
        d.update(buf.subarray(0, n));
        done += n;
      }
      return d.digest('hex');
    });
  } finally { closeSync(fd); }
}
parentPort.on('message', (m) => {
  if (m.op === 'update') { h.update(views[m.slot].subarray(0, m.n)); parentPort.postMessage({ op: 'free', slot: m.slot }); }
  else if (m.op === 'digest') { parentPort.postMessage({ op: 'digest', id: m.id, digest: h.digest() }); h = createHash('sha384'); }
  else if (m.op === 'ranges') {
    try { parentPort.postMessage({ op: 'ranges', id: m.id, digests: ranges(m.path, m.ranges) }); }
    catch (e) { parentPort.postMessage({ op: 'failed', id: m.id, message: String(e && e.message || e) }); }
  }
});
`;

type Reply = { op: 'free'; slot: number } | { op: 'digest'; id: number; digest: Uint8Array } | { op: 'ranges'; id: number; digests: string[] } | { op: 'failed'; id: number; message: string };

export class HashWorker {
  private readonly w: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failure: Error | undefined;

  constructor(private readonly pool: SlotPool) {
    this.w = new Worker(WORKER_JS, { eval: true, workerData: { slots: pool.buffers } });
    this.w.on('message', (m: Reply) => {
      if (m.op === 'free') return this.pool.release(m.slot);
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.op === 'failed') p?.reject(new Error(m.message));
      else p?.resolve(m.op === 'digest' ? new Uint8Array(m.digest) : m.digests);
    });
    this.w.on('error', (e) => this.fail(e));
    this.w.on('exit', () => this.fail(new Error('hash worker exited')));
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.pool.abort(e);
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  private ask<T>(msg: Record<string, unknown>): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.w.postMessage({ ...msg, id });
    });
  }

  /** Hashes slot[0, n) into the running SHA-384; the slot is released when done. */
  update(slot: number, n: number): void {
    this.w.postMessage({ op: 'update', slot, n });
  }

  /** SHA-384 of everything updated since the last digest (then starts afresh). */
  digest(): Promise<Uint8Array> {
    return this.ask<Uint8Array>({ op: 'digest' });
  }

  /** SHA-256 (hex) of each [offset, size) range of `path`, in order. */
  hashRanges(path: string, ranges: ReadonlyArray<readonly [number, number]>): Promise<string[]> {
    return this.ask<string[]>({ op: 'ranges', path, ranges });
  }

  async close(): Promise<void> {
    this.w.removeAllListeners('exit');
    await this.w.terminate();
  }
}
