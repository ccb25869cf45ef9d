/**
 * Convenience reads over the current checkpoint: an entry by index, the newest release by PCR0 /
 * EIF digest / source commit with its revocation status and a c2sp.org/tlog-proof@v1 against the
 * latest (cosigned) checkpoint, and inclusion/consistency proofs. Every answer is computed
 * against one checkpoint snapshot, so the proof always verifies against the checkpoint it names.
 */
import {
  decodeDeliveryEntryLeaf,
  formatTlogProof,
  parseCheckpoint,
  signReleaseStatus,
  splitNote,
  toBase64,
  treeHash,
} from '#verifier';
import type { ReleaseState } from '#verifier';
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
  /** a delivery entry's public count of recipients (who they are is in the sealed manifest only) */
  count?: number;
}

/**
 * What the log says about the entry at `index` in the tree of `size`. A revocation retires the
 * release's measurement: a release is revoked by the first revocation of its PCR0 (of it, or of
 * any other release carrying that PCR0) below `size` — the first one after it, as a status
 * statement requires. Non-release entries are never revoked.
 *
 * `retiredBefore`: a revocation of the PCR0 that precedes the release itself. The log refuses
 * such releases (MEASUREMENT_REVOKED), so only a database from before that rule holds one; the
 * release counts as revoked by it, though no status statement can say so.
 */
export function releaseState(
  log: Log,
  entry: { index: number; kind: EntryKind; pcr0?: string },
  size: number,
): ReleaseState & { retiredBefore?: number } {
  if (entry.kind !== 'release' || entry.pcr0 === undefined) return { state: 'active' };
  const after = log.storage.firstRevocation(entry.pcr0, entry.index, size);
  const before = log.storage.firstRevocation(entry.pcr0, -1, entry.index);
  if (before !== null) return { state: 'revoked', revokedBy: after ?? before, retiredBefore: before };
  return after === null ? { state: 'active' } : { state: 'revoked', revokedBy: after };
}

export function readEntry(log: Log, index: number): EntryView {
  const size = log.sequencer.current.size;
  const e = index < size ? log.storage.entry(index) : null;
  if (!e) throw new LogError('NOT_FOUND', 'no entry at that index', { index, size });
  const st = releaseState(log, e, size);
  const view: EntryView = { index, leaf: toBase64(e.leaf), kind: e.kind, status: st.state };
  if (st.state === 'revoked') view.revokedBy = st.revokedBy;
  if (e.kind === 'delivery') view.count = decodeDeliveryEntryLeaf(e.leaf).entry.count;
  return view;
}

/**
 * The log's signed release-status statement (#verifier signReleaseStatus) for release `index`
 * at the tree of `size` (default: the current checkpoint's), any size from index + 1 up to the
 * current one: a gate asks at exactly the size it holds an inclusion proof for. The root is
 * recomputed from the stored tree, so a past size speaks for that past root.
 */
export function releaseStatus(log: Log, index: number, size?: number): string {
  const current = log.sequencer.current.size;
  const e = index < current ? log.storage.entry(index) : null;
  if (!e || e.kind !== 'release' || e.pcr0 === undefined)
    throw new LogError('NOT_FOUND', 'no release entry at that index', { index, size: current });
  const n = size ?? current;
  if (!(index < n && n <= current))
    throw new LogError('OUT_OF_RANGE', 'need index < size ≤ the current tree size', { index, size: n, current });
  const st = releaseState(log, e, n);
  if (st.state === 'revoked' && st.retiredBefore !== undefined && st.revokedBy < index) {
    throw new LogError(
      'MEASUREMENT_REVOKED',
      `that release's PCR0 was already revoked by entry ${st.retiredBefore} when it was logged`,
      { index, pcr0: e.pcr0, revokedBy: st.retiredBefore },
    );
  }
  const status: ReleaseState =
    st.state === 'active' ? { state: 'active' } : { state: 'revoked', revokedBy: st.revokedBy };
  const rootHash = n === current ? readCheckpointRoot(log, log.sequencer.current) : treeHash(n, log.hashes.read);
  return signReleaseStatus(
    { origin: log.key.origin, treeSize: n, rootHash, index, pcr0: e.pcr0, status },
    log.key.signer,
  );
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
  if (index === null || index >= cp.size)
    throw new LogError('NOT_FOUND', `no release with that ${field}`, { [field]: value });
  const view = readEntry(log, index);
  const proof = formatTlogProof({
    index,
    proof: inclusionProof(index, cp.size, cp.size, log.hashes.read),
    checkpoint: cp.cosigned,
  });
  const out: LookupResult = { index, status: view.status, entry: view.leaf, proof };
  if (view.revokedBy !== undefined) out.revokedBy = view.revokedBy;
  return out;
}

export function inclusion(
  log: Log,
  index: number,
  size: number,
): { index: number; treeSize: number; hashes: string[] } {
  const hashes = inclusionProof(index, size, log.sequencer.current.size, log.hashes.read, log.hashes.proofMemo(size));
  return { index, treeSize: size, hashes: log.hashes.base64(hashes) };
}

export function consistency(
  log: Log,
  oldSize: number,
  newSize: number,
): { old: number; new: number; hashes: string[] } {
  const hashes = consistencyProof(oldSize, newSize, log.hashes.read, log.sequencer.current.size);
  return { old: oldSize, new: newSize, hashes: hashes.map(toBase64) };
}
