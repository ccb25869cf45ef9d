/**
 * Worker thread body for AdmissionPool: runs fastAdmitter on each bundle it is sent and posts
 * back the admitted entry (leaf bytes transferred, not copied) or null.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { fastAdmitter } from './admission.ts';
import type { PoolKeys } from './admission-pool.ts';

const keys = workerData as PoolKeys;
const admit = fastAdmitter(keys);

parentPort!.on('message', (m: { id: number; bundleJson: string }) => {
  const entry = admit(m.bundleJson);
  if (!entry) return parentPort!.postMessage({ id: m.id, entry: null });
  const leaf = new Uint8Array(entry.leaf);
  parentPort!.postMessage({ id: m.id, entry: { ...entry, leaf } }, [leaf.buffer]);
});
parentPort!.postMessage({ ready: true });
