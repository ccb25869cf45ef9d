/**
 * Off-thread hashing for the build. PCR0 and PCR2 are two SHA-384 streams over the same
 * customer-ramdisk bytes (nitro.md §1.6) and the rootfs pin needs a SHA-256 per file, so a
 * single thread hashes every byte three times. This worker takes the PCR2 stream and the
 * per-file SHA-256s; the main thread keeps PCR0, the CRC and the I/O.
 *
 * Bytes travel through a fixed pool of shared 4 MiB slots (no per-chunk allocation, bounded
 * memory): `app`/`file` copy into a free slot and resolve once it is queued — awaiting them is
 * the backpressure. Messages stay in order. `finish` returns the digests and stops the
 * worker; `abort` stops it. One producer. The worker is plain JS evaluated from a string, so
 * it needs no TypeScript loader.
 */
import { Worker } from 'node:worker_threads';

const SLOT = 4 << 20;
const SLOTS = 8;

const WORKER_JS = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const views = workerData.slots.map((s) => new Uint8Array(s));
const app = createHash('sha384');
let file = null;
const files = [];
parentPort.on('message', (m) => {
  if (m.op === 'app' || m.op === 'file') {
    const b = views[m.slot].subarray(0, m.n);
    if (m.op === 'app') app.update(b);
    else { if (!file) file = createHash('sha256'); file.update(b); }
    parentPort.postMessage({ op: 'free', slot: m.slot });
  } else if (m.op === 'fileEnd') { files.push([m.name, (file || createHash('sha256')).digest('hex')]); file = null; }
  else if (m.op === 'end') parentPort.postMessage({ op: 'done', app: app.digest(), files });
});
`;

export class OffThreadHashes {
  private readonly slots = Array.from({ length: SLOTS }, () => new SharedArrayBuffer(SLOT));
  private readonly views = this.slots.map((s) => Buffer.from(s));
  private readonly free: number[] = this.slots.map((_, i) => i);
  private waiters: Array<() => void> = [];
  private readonly w = new Worker(WORKER_JS, { eval: true, workerData: { slots: this.slots } });
  private readonly done: Promise<{ app: Uint8Array; files: Map<string, string> }>;

  constructor() {
    this.done = new Promise((resolve, reject) => {
      this.w.on('error', reject);
      this.w.on('message', (m: { op: string; slot?: number; app?: Uint8Array; files?: Array<[string, string]> }) => {
        if (m.op === 'free') {
          this.free.push(m.slot!);
          this.waiters.shift()?.();
        } else if (m.op === 'done') resolve({ app: new Uint8Array(m.app!), files: new Map(m.files) });
      });
    });
    this.done.catch(() => {});
  }

  private async slot(): Promise<number> {
    while (this.free.length === 0) await new Promise<void>((r) => this.waiters.push(r));
    return this.free.pop()!;
  }

  private async post(op: 'app' | 'file', chunk: Uint8Array): Promise<void> {
    for (let off = 0; off < chunk.length; off += SLOT) {
      const piece = chunk.subarray(off, off + SLOT);
      const s = await this.slot();
      Buffer.from(piece.buffer, piece.byteOffset, piece.length).copy(this.views[s]!); // memcpy
      this.w.postMessage({ op, slot: s, n: piece.length });
    }
  }

  /** Bytes of the PCR2 stream (ramdisk1 …), in order. */
  app(chunk: Uint8Array): Promise<void> { return this.post('app', chunk); }
  /** Bytes of the current file's content, in order. */
  file(chunk: Uint8Array): Promise<void> { return this.post('file', chunk); }
  /** Closes the current file's digest under `name`. */
  fileEnd(name: string): void { this.w.postMessage({ op: 'fileEnd', name }); }

  async finish(): Promise<{ app: Uint8Array; files: Map<string, string> }> {
    this.w.postMessage({ op: 'end' });
    try { return await this.done; } finally { await this.w.terminate(); }
  }

  async abort(): Promise<void> {
    await this.w.terminate();
  }
}
