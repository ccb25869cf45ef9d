/**
 * Convenience reads over the current checkpoint: an entry by index, the newest release by PCR0 /
 * EIF digest / source commit with its revocation status and a c2sp.org/tlog-proof@v1 against the
 * latest (cosigned) checkpoint, and inclusion/consistency proofs. Every answer is computed
 * against one checkpoint snapshot, so the proof always verifies against the checkpoint it names.
 */
import { formatTlogProof, parseCheckpoint, splitNote, toBase64 } from '#verifier';
import { LogError } from './errors.ts';
import type { Log } from './log.ts';
import type { StoredCheckpoint, EntryKind } from './ports.ts';
import { consistencyProof, inclusionProof } from './proofs.ts';

/** Each log's last parsed checkpoint, so every log in a process keeps its own (and none thrash another's). */
const lastParsed = new WeakMap<Log, { note: string; root: Uint8Array }>();

/** The root hash of one of `log`'s stored checkpoints (parsed once per checkpoint per log). */
export function readCheckpointRoot(log: Log, cp: StoredCheckpoint): Uint8Array {
  const last = lastParsed.get(log);
  if (last?.note === cp.note) return last.root;
  const root = parseCheckpoint(splitNote(cp.note).text).rootHash;
  lastParsed.set(log, { note: cp.note, root });
  return root;
}

export interface EntryView {
  index: number;
  leaf: string;
  kind: EntryKind;
  status: 'active' | 'revoked';
  revokedBy?: number;
}

export function readEntry(log: Log, index: number): EntryView {
  const size = log.sequencer.current.size;
  const e = index < size ? log.storage.entry(index) : null;
  if (!e) throw new LogError('NOT_FOUND', 'no entry at that index', { index, size });
  const by = log.storage.revokedBy(index);
  const view: EntryView = { index, leaf: toBase64(e.leaf), kind: e.kind, status: by === null || by >= size ? 'active' : 'revoked' };
  if (by !== null && by < size) view.revokedBy = by;
  return view;
}

export type LookupField = 'pcr0' | 'eifSha256' | 'commit';

export interface LookupResult {
  index: number;
  status: 'active' | 'revoked';
  entry: string;
  proof: string;
  revokedBy?: number;
}

export function lookup(log: Log, field: LookupField, value: string): LookupResult {
  const cp = log.sequencer.current;
  const index = log.storage.findRelease(field, value.toLowerCase());
  if (index === null || index >= cp.size) throw new LogError('NOT_FOUND', `no release with that ${field}`, { [field]: value });
  const view = readEntry(log, index);
  const proof = formatTlogProof({ index, proof: inclusionProof(index, cp.size, cp.size, log.hashes.read), checkpoint: cp.cosigned });
  const out: LookupResult = { index, status: view.status, entry: view.leaf, proof };
  if (view.revokedBy !== undefined) out.revokedBy = view.revokedBy;
  return out;
}

export function inclusion(log: Log, index: number, size: number): { index: number; treeSize: number; hashes: string[] } {
  const hashes = inclusionProof(index, size, log.sequencer.current.size, log.hashes.read, log.hashes.proofMemo(size));
  return { index, treeSize: size, hashes: log.hashes.base64(hashes) };
}

export function consistency(log: Log, oldSize: number, newSize: number): { old: number; new: number; hashes: string[] } {
  const hashes = consistencyProof(oldSize, newSize, log.hashes.read, log.sequencer.current.size);
  return { old: oldSize, new: newSize, hashes: hashes.map(toBase64) };
}
