/**
 * Off-thread hashing for the build. PCR0 and PCR2 are two SHA-384 streams over the same
 * customer-ramdisk bytes (nitro.md §1.6) and the rootfs pin needs a SHA-256 per file, so a
 * single thread hashes every byte three times. This worker takes the PCR2 stream and the
 * per-file SHA-256s, the main thread keeps PCR0, the CRC and the I/O — on two cores the
 * build then costs about what one SHA-384 pass does.
 *
 * Contract: `app`/`file`/`fileEnd` enqueue copies in order (the caller may reuse its buffer
 * immediately); `drain` resolves once fewer than 32 MiB are in flight (call it between writes,
 * so memory stays bounded); `finish` returns the digests and stops the worker. One producer.
 * The worker is plain JS evaluated from a string so it needs no TypeScript loader.
 */
import { Worker } from 'node:worker_threads';

const WORKER_JS = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const app = createHash('sha384');
let file = null;
const files = [];
let pending = 0;
parentPort.on('message', (m) => {
  if (m.op === 'app') app.update(m.b);
  else if (m.op === 'file') { if (!file) file = createHash('sha256'); file.update(m.b); }
  else if (m.op === 'fileEnd') { files.push([m.name, (file || createHash('sha256')).digest('hex')]); file = null; }
  else if (m.op === 'end') { parentPort.postMessage({ op: 'done', app: app.digest(), files }); return; }
  if (m.b) { pending += m.b.length; if (pending >= 8 << 20) { parentPort.postMessage({ op: 'ack', n: pending }); pending = 0; } }
});
`;

const HIGH_WATER = 32 << 20;

export class OffThreadHashes {
  private readonly w = new Worker(WORKER_JS, { eval: true });
  private inFlight = 0;
  private waiters: Array<() => void> = [];
  private done: Promise<{ app: Uint8Array; files: Map<string, string> }>;

  constructor() {
    this.done = new Promise((resolve, reject) => {
      this.w.on('error', reject);
      this.w.on('message', (m: { op: string; n?: number; app?: Uint8Array; files?: Array<[string, string]> }) => {
        if (m.op === 'ack') {
          this.inFlight -= m.n!;
          if (this.inFlight < HIGH_WATER) for (const f of this.waiters.splice(0)) f();
        } else if (m.op === 'done') resolve({ app: new Uint8Array(m.app!), files: new Map(m.files) });
      });
    });
    this.done.catch(() => {});
  }

  private post(op: string, chunk: Uint8Array): void {
    const b = new Uint8Array(chunk); // a copy we can transfer
    this.inFlight += b.length;
    this.w.postMessage({ op, b }, [b.buffer]);
  }

  app(chunk: Uint8Array): void { if (chunk.length) this.post('app', chunk); }
  file(chunk: Uint8Array): void { if (chunk.length) this.post('file', chunk); }
  fileEnd(name: string): void { this.w.postMessage({ op: 'fileEnd', name }); }

  drain(): Promise<void> {
    return this.inFlight < HIGH_WATER ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }

  async finish(): Promise<{ app: Uint8Array; files: Map<string, string> }> {
    this.w.postMessage({ op: 'end' });
    try { return await this.done; } finally { await this.w.terminate(); }
  }

  async abort(): Promise<void> {
    await this.w.terminate();
  }
}
