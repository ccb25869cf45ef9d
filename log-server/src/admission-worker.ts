/**
 * Worker thread body for AdmissionPool: runs fastAdmitter on each bundle of a batch it is sent
 * and posts back, in one message, each admitted entry (leaf bytes transferred, not copied) or null.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { fastAdmitter } from './admission.ts';
import type { PoolKeys } from './admission-pool.ts';
import type { AdmittedEntry } from './ports.ts';

const keys = workerData as PoolKeys;
const admit = fastAdmitter(keys);

parentPort!.on('message', (m: { batch: Array<[number, string]> }) => {
  const results: Array<[number, AdmittedEntry | null]> = [];
  const transfer: ArrayBuffer[] = [];
  for (const [id, bundleJson] of m.batch) {
    const entry = admit(bundleJson);
    if (!entry) {
      results.push([id, null]);
      continue;
    }
    const leaf = new Uint8Array(entry.leaf); // its own buffer, so it can be transferred
    transfer.push(leaf.buffer);
    results.push([id, { ...entry, leaf }]);
  }
  parentPort!.postMessage({ results }, transfer);
});
parentPort!.postMessage({ ready: true });
