/**
 * Worker thread body for SqliteWorkerWriter: one SQLite connection (WAL, synchronous=FULL)
 * that performs the log's writes in the order received and reports each one's outcome.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isLogError } from '../errors.ts';
import type { LogError } from '../errors.ts';
import { openSqliteStorage } from './sqlite.ts';
import { unpackBatch, type PackedBatch } from './batch-wire.ts';

const storage = openSqliteStorage((workerData as { path: string }).path);

parentPort!.on(
  'message',
  (m: { id: number; op: 'commitBatch' | 'setCosigned' | 'setPublishedSize'; args: unknown[] }) => {
    try {
      if (m.op === 'commitBatch') storage.commitBatch(unpackBatch(m.args[0] as PackedBatch));
      else if (m.op === 'setCosigned') storage.setCosigned(m.args[0] as string, m.args[1] as string);
      else storage.setPublishedSize(m.args[0] as number);
      parentPort!.postMessage({ id: m.id });
    } catch (e) {
      const error = isLogError(e)
        ? { log: true, code: e.code, message: e.message, evidence: (e as LogError).toJSON().evidence }
        : { log: false, code: 'STORAGE_FAILED', message: (e as Error).message, evidence: {} };
      parentPort!.postMessage({ id: m.id, error });
      return;
    }
    if (m.op === 'commitBatch') afterCommit((m.args[0] as PackedBatch).entries);
  },
);

// The lookup indexes are derived data, kept off the acknowledged path: they are folded in once
// INDEX_EVERY entries have piled up, or when commits pause for INDEX_IDLE_MS, so a busy log
// pays one indexing transaction per many batches. Bigger rounds share B-tree pages between
// more keys (measured at 30k entries: ~90 µs per entry in rounds of 512, ~33 in rounds of
// 2048), while lookups, which also scan the unindexed tail, stay under ~0.2 ms at 2048.
// A failure here loses nothing; the next round retries.
const INDEX_EVERY = 2048;
const INDEX_IDLE_MS = 20;
let unindexed = 0;
let idle: NodeJS.Timeout | undefined;

function index(): void {
  clearTimeout(idle);
  idle = undefined;
  try {
    storage.indexPending();
    unindexed = 0;
  } catch (e) {
    process.emitWarning(`log: lookup indexing failed, will retry: ${(e as Error).message}`);
  }
}

function afterCommit(entries: number): void {
  unindexed += entries;
  if (unindexed >= INDEX_EVERY) {
    index();
    return;
  }
  clearTimeout(idle);
  idle = setTimeout(index, INDEX_IDLE_MS);
  idle.unref();
}
