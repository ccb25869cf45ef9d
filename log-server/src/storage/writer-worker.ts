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

parentPort!.on('message', (m: { id: number; op: 'commitBatch' | 'setCosigned' | 'setPublishedSize'; args: unknown[] }) => {
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
  // After answering: the lookup indexes are derived data, off the acknowledged path. A
  // failure here loses nothing (lookups also read unindexed entries); the next commit retries.
  if (m.op === 'commitBatch') {
    try {
      storage.indexPending();
    } catch (e) {
      process.emitWarning(`log: lookup indexing failed, will retry after the next commit: ${(e as Error).message}`);
    }
  }
});
