/**
 * A commit batch as it crosses to the writer thread: every byte field (leaves, leaf hashes,
 * subtree hashes) packed into one ArrayBuffer that is transferred, not cloned, and the text
 * fields in one flat string array. Structured-cloning hundreds of small objects and
 * Uint8Arrays per batch cost the main thread more than the commit itself (bench/log profile).
 * `unpackBatch(packBatch(b))` gives back `b` (leaves as views into the one buffer).
 */
import type { EntryKind, StoredCheckpoint, StoredEntry, StoredHash } from '../ports.ts';

export interface CommitBatch {
  expected: string | null;
  next: StoredCheckpoint;
  entries: StoredEntry[];
  hashes: StoredHash[];
}

export interface PackedBatch {
  expected: string | null;
  next: StoredCheckpoint;
  /** Per entry: index, leaf length, revoked index (−1: none); per hash: level, index. */
  nums: Float64Array;
  /** Per entry: replayKey, kind, pcr0, eifSha256, commit, revoked PCR0 ('' for absent). */
  text: string[];
  bytes: ArrayBuffer;
  entries: number;
  hashes: number;
}

const TEXT_PER_ENTRY = 6;

export function packBatch(b: CommitBatch): PackedBatch {
  let size = 0;
  for (const e of b.entries) size += e.leaf.length + e.leafHash.length;
  for (const h of b.hashes) size += h.hash.length;
  const bytes = new Uint8Array(size);
  const nums = new Float64Array(b.entries.length * 3 + b.hashes.length * 3);
  const text: string[] = [];
  let at = 0;
  let n = 0;
  for (const e of b.entries) {
    if (e.leafHash.length !== 32) throw new RangeError('packBatch: leaf hash must be 32 bytes');
    bytes.set(e.leaf, at);
    bytes.set(e.leafHash, at + e.leaf.length);
    at += e.leaf.length + 32;
    nums[n++] = e.index;
    nums[n++] = e.leaf.length;
    nums[n++] = e.revokes ? e.revokes.index : -1;
    text.push(e.replayKey ?? '', e.kind, e.pcr0 ?? '', e.eifSha256 ?? '', e.commit ?? '', e.revokes?.pcr0 ?? '');
  }
  for (const h of b.hashes) {
    bytes.set(h.hash, at);
    at += h.hash.length;
    nums[n++] = h.level;
    nums[n++] = h.index;
    nums[n++] = h.hash.length;
  }
  return {
    expected: b.expected,
    next: b.next,
    nums,
    text,
    bytes: bytes.buffer,
    entries: b.entries.length,
    hashes: b.hashes.length,
  };
}

export function unpackBatch(p: PackedBatch): CommitBatch {
  const bytes = new Uint8Array(p.bytes);
  const entries: StoredEntry[] = [];
  const hashes: StoredHash[] = [];
  let at = 0;
  let n = 0;
  for (let i = 0; i < p.entries; i++) {
    const index = p.nums[n++]!;
    const len = p.nums[n++]!;
    const revoked = p.nums[n++]!;
    const [replayKey, kind, pcr0, eif, commit, revokedPcr0] = p.text.slice(
      i * TEXT_PER_ENTRY,
      (i + 1) * TEXT_PER_ENTRY,
    ) as string[];
    const e: StoredEntry = {
      index,
      leaf: bytes.subarray(at, at + len),
      leafHash: bytes.subarray(at + len, at + len + 32),
      kind: kind as EntryKind,
    };
    at += len + 32;
    if (replayKey) e.replayKey = replayKey;
    if (pcr0) e.pcr0 = pcr0;
    if (eif) e.eifSha256 = eif;
    if (commit) e.commit = commit;
    if (revoked >= 0) e.revokes = { index: revoked, pcr0: revokedPcr0! };
    entries.push(e);
  }
  for (let i = 0; i < p.hashes; i++) {
    const level = p.nums[n++]!;
    const index = p.nums[n++]!;
    const len = p.nums[n++]!;
    hashes.push({ level, index, hash: bytes.subarray(at, at + len) });
    at += len;
  }
  return { expected: p.expected, next: p.next, entries, hashes };
}
