/**
 * LogWriter implementations: `syncWriter` runs writes on the caller's thread (in-process tests,
 * any LogStorage); `SqliteWorkerWriter` runs them on a worker thread with its own connection to
 * the same SQLite file (WAL lets the main thread keep reading), so the per-batch fsync of
 * synchronous=FULL overlaps with request handling instead of blocking it. Batches cross packed
 * (batch-wire.ts). Errors cross the thread boundary as LogErrors with their code and evidence.
 */
import { Worker } from 'node:worker_threads';
import { LogError, isLogError } from '../errors.ts';
import type { LogErrorCode } from '../errors.ts';
import type { LogStorage, LogWriter } from '../ports.ts';
import { packBatch, type PackedBatch } from './batch-wire.ts';

export function syncWriter(storage: LogStorage): LogWriter {
  return {
    commitBatch: async (b) => {
      storage.commitBatch(b);
      storage.indexPending();
    },
    setCosigned: async (note, cosigned) => storage.setCosigned(note, cosigned),
    setPublishedSize: async (size) => storage.setPublishedSize(size),
    close: async () => {},
  };
}

type Op =
  | { op: 'commitBatch'; args: [PackedBatch] }
  | { op: 'setCosigned'; args: [string, string] }
  | { op: 'setPublishedSize'; args: [number] };
type Reply = { id: number; error?: { log: boolean; code: string; message: string; evidence: Record<string, unknown> } };

const BOOT = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./writer-worker.ts', import.meta.url).href)}); })`;

export class SqliteWorkerWriter implements LogWriter {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
  private nextId = 0;
  private dead: Error | null = null;

  constructor(path: string) {
    this.worker = new Worker(BOOT, { eval: true, workerData: { path } });
    this.worker.on('message', (m: Reply) => this.settle(m));
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', () => this.fail(new LogError('STORAGE_FAILED', 'the storage writer thread exited', {})));
    this.worker.unref();
  }

  commitBatch(batch: Parameters<LogWriter['commitBatch']>[0]): Promise<void> {
    const packed = packBatch(batch);
    return this.call({ op: 'commitBatch', args: [packed] }, [packed.bytes]);
  }

  setCosigned(note: string, cosigned: string): Promise<void> {
    return this.call({ op: 'setCosigned', args: [note, cosigned] });
  }

  setPublishedSize(size: number): Promise<void> {
    return this.call({ op: 'setPublishedSize', args: [size] });
  }

  async close(): Promise<void> {
    this.dead ??= new LogError('SHUTTING_DOWN', 'the storage writer is closed', {});
    await this.worker.terminate();
  }

  private call(op: Op, transfer: ArrayBuffer[] = []): Promise<void> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    if (this.pending.size === 0) this.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, ...op }, transfer);
    });
  }

  private settle(m: Reply): void {
    const p = this.pending.get(m.id);
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.worker.unref();
    if (!p) return;
    if (!m.error) {
      p.resolve();
      return;
    }
    const e = m.error;
    p.reject(
      e.log
        ? new LogError(e.code as LogErrorCode, e.message, e.evidence)
        : new LogError('STORAGE_FAILED', e.message, {}),
    );
  }

  private fail(e: unknown): void {
    this.dead ??= isLogError(e)
      ? e
      : new LogError('STORAGE_FAILED', `storage writer failed: ${(e as Error).message}`, {});
    for (const p of this.pending.values()) p.reject(this.dead);
    this.pending.clear();
  }
}
