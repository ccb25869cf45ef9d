/**
 * Runs the admission hot path (admission.ts fastAdmitter) on worker threads, so signature
 * checks and canonical encoding use the machine's other cores while the main thread parses
 * HTTP and sequences. A worker answers an entry or null ("not decidable here": the caller runs
 * the full verifyEntryBundle path itself). Requests go to the least-loaded worker; a worker
 * that dies fails its in-flight requests (they are not acknowledged) and is replaced.
 */
import { Worker } from 'node:worker_threads';
import type { AdmittedEntry } from './ports.ts';

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  inflight: Map<number, { resolve: (e: AdmittedEntry | null) => void; reject: (e: unknown) => void }>;
  /** Requests waiting for this turn of the event loop to end, then sent as one message. */
  outbox: Array<[number, string]>;
}

/** Most bundles per message: a batch is answered as a whole, so this bounds the added wait. */
const BATCH_MAX = 16;

export interface PoolKeys {
  allowedSigners: Array<string | Uint8Array>;
  allowedRebuilders: Array<string | Uint8Array>;
}

/** Workers run TypeScript too: register tsx's loader in the worker, then load the worker body. */
const BOOT = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./admission-worker.ts', import.meta.url).href)}); })`;

export class AdmissionPool {
  private readonly slots: Slot[] = [];
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly keys: PoolKeys,
    size: number,
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  admit(bundleJson: string): Promise<AdmittedEntry | null> {
    if (this.closed) return Promise.resolve(null);
    const slot = this.slots.reduce((a, b) => (b.inflight.size < a.inflight.size ? b : a));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (slot.inflight.size === 0) slot.worker.ref();
      slot.inflight.set(id, { resolve, reject });
      // Requests parsed in one turn of the event loop travel together: one message (and one
      // thread wake-up) per batch instead of per bundle, both ways.
      if (slot.outbox.push([id, bundleJson]) === 1) setImmediate(() => this.flush(slot));
      else if (slot.outbox.length >= BATCH_MAX) this.flush(slot);
    });
  }

  private flush(slot: Slot): void {
    if (slot.outbox.length === 0) return;
    slot.worker.postMessage({ batch: slot.outbox });
    slot.outbox = [];
  }

  /** Resolves once every worker has loaded its code. */
  async ready(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.ready));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Slot {
    const worker = new Worker(BOOT, { eval: true, workerData: this.keys });
    let loaded!: () => void;
    const slot: Slot = { worker, inflight: new Map(), outbox: [], ready: new Promise((r) => (loaded = r)) };
    worker.on('message', (m: { results: Array<[number, AdmittedEntry | null]> } | { ready: true }) => {
      if ('ready' in m) {
        if (slot.inflight.size === 0) worker.unref(); // loading keeps the process alive; an idle pool does not
        return loaded();
      }
      for (const [id, entry] of m.results) {
        const p = slot.inflight.get(id);
        slot.inflight.delete(id);
        p?.resolve(entry);
      }
      if (slot.inflight.size === 0) slot.worker.unref(); // an idle pool never keeps the process alive
    });
    worker.on('error', (e) => this.fail(slot, e));
    worker.on('exit', () => this.fail(slot, new Error('admission worker exited')));
    return slot;
  }

  private fail(slot: Slot, e: unknown): void {
    for (const p of slot.inflight.values()) p.reject(e);
    slot.inflight.clear();
    const i = this.slots.indexOf(slot);
    if (i >= 0 && !this.closed) this.slots[i] = this.spawn();
  }
}
