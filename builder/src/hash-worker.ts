/**
 * Hashing off the main thread. PCR0 and PCR2 are two SHA-384 streams over the same customer
 * ramdisk bytes (nitro.md §1.6), so the build runs each on its own worker while the main
 * thread reads, CRCs and writes: with three threads the OS keeps both cores busy without
 * hand balancing. Data arrives as (slot, length) in a shared SlotPool; the worker releases
 * the slot once hashed. Messages stay in order, so a digest covers exactly the slots posted
 * before `digest()`.
 *
 * A worker can also hash files' contents (the rootfs pin's per-file SHA-256s) from the same
 * slots: an update may carry `files`, a list of [offset, length] pieces of the slot that
 * belong to the current file, and names that close the current file. So each file is
 * hashed as it was archived, without reading it again. The worker is plain JS evaluated
 * from a string, so it needs no TypeScript loader.
 */
import { Worker } from 'node:worker_threads';
import type { SlotPool } from './slots.ts';

/** A piece of the current file ([offset, length] in the slot) or the name that closes it. */
export type FileMark = [number, number] | string;

const WORKER_JS = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const views = workerData.slots.map((s) => new Uint8Array(s));
let h = createHash('sha384');
let file = null;
let files = [];
function marks(view, list) {
  for (const x of list) {
    if (typeof x === 'string') { files.push([x, (file || createHash('sha256')).digest('hex')]); file = null; }
    else (file || (file = createHash('sha256'))).update(view.subarray(x[0], x[0] + x[1]));
  }
}
parentPort.on('message', (m) => {
  if (m.op === 'update') {
    const view = views[m.slot].subarray(0, m.n);
    h.update(view);
    if (m.files) marks(view, m.files);
    parentPort.postMessage({ op: 'free', slot: m.slot });
  } else if (m.op === 'files') marks(null, m.files);
  else if (m.op === 'digest') {
    parentPort.postMessage({ op: 'digest', digest: h.digest(), files });
    h = createHash('sha384'); file = null; files = [];
  }
});
`;

type Reply = { op: 'free'; slot: number } | { op: 'digest'; digest: Uint8Array; files: Array<[string, string]> };

export interface WorkerDigest {
  sha384: Uint8Array;
  /** Each closed file's SHA-256 (hex), in the order closed. */
  files: Map<string, string>;
}

export class HashWorker {
  private readonly w: Worker;
  private readonly pending: Array<{ resolve: (d: WorkerDigest) => void; reject: (e: Error) => void }> = [];
  private failure: Error | undefined;

  constructor(private readonly pool: SlotPool) {
    this.w = new Worker(WORKER_JS, { eval: true, workerData: { slots: pool.buffers } });
    this.w.on('message', (m: Reply) => {
      if (m.op === 'free') this.pool.release(m.slot);
      else this.pending.shift()?.resolve({ sha384: new Uint8Array(m.digest), files: new Map(m.files) });
    });
    this.w.on('error', (e) => this.fail(e));
    this.w.on('exit', () => this.fail(new Error('hash worker exited')));
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.pool.abort(e);
    for (const p of this.pending.splice(0)) p.reject(e);
  }

  /** Hashes slot[0, n) into the running SHA-384 (and `files` pieces into file digests); the slot is released when done. */
  update(slot: number, n: number, files?: FileMark[]): void {
    this.w.postMessage(files?.length ? { op: 'update', slot, n, files } : { op: 'update', slot, n });
  }

  /** File marks with no new slot data (names closing files that ended in an earlier slot). */
  marks(files: FileMark[]): void {
    for (const x of files) if (typeof x !== 'string') throw new RangeError('HashWorker.marks: data pieces need a slot');
    this.w.postMessage({ op: 'files', files });
  }

  /** SHA-384 of everything updated since the last digest, and the files closed since; then starts afresh. */
  digest(): Promise<WorkerDigest> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.w.postMessage({ op: 'digest' });
    });
  }

  async close(): Promise<void> {
    this.w.removeAllListeners('exit');
    await this.w.terminate();
  }
}
