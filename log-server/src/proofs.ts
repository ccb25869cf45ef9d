/**
 * Proof requests against the log's current tree (RFC 6962 §2.1.1/§2.1.2 via #verifier), with
 * the range checks a public endpoint needs: callers get OUT_OF_RANGE, never a RangeError.
 */
import { proveConsistency, proveInclusion } from '#verifier/build';
import type { HashReader } from '#verifier/build';
import { LogError } from './errors.ts';

/** What proofs at one tree size share (HashCache.proofMemo keeps one, for the last size asked). */
export interface ProofMemo {
  size: number;
  /** proveInclusion's right-edge range hashes. */
  edge: Map<number, Uint8Array>;
  /** Per full 256-leaf block (tlog-tiles' tile width): the proof's part above the block. */
  upper: Map<number, Uint8Array[]>;
}

const BLOCK = 256;
const BLOCK_LEVELS = 8;

/**
 * PATH(index, size); requires index < size ≤ current. With a memo for `size`, a leaf in a full
 * 256-leaf block gets its proof as two parts: the 8 hashes inside its block (the inclusion
 * proof in that complete subtree) and the hashes above it, which every leaf of the block
 * shares and the memo keeps. The result is exactly proveInclusion's (log-server tests check
 * every index of several sizes); a server answering many proofs at one size reads 8 hashes
 * per answer instead of ~log2(size).
 */
export function inclusionProof(
  index: number,
  size: number,
  current: number,
  read: HashReader,
  memo?: ProofMemo,
): Uint8Array[] {
  if (!(index < size && size <= current)) {
    throw new LogError('OUT_OF_RANGE', 'need index < size ≤ the current tree size', { index, size, current });
  }
  if (!memo || memo.size !== size) return proveInclusion(index, size, read);
  const base = index - (index % BLOCK);
  if (size <= BLOCK || base + BLOCK > size) return proveInclusion(index, size, read, memo.edge);
  let upper = memo.upper.get(base);
  if (!upper) memo.upper.set(base, (upper = proveInclusion(base, size, read, memo.edge).slice(BLOCK_LEVELS)));
  const lower = proveInclusion(index - base, BLOCK, (level, i) => read(level, base / 2 ** level + i));
  return lower.concat(upper);
}

/** PROOF(old, new); requires 0 < old ≤ new ≤ current (old = 0 has no proof: c2sp tlog-witness sends none). */
export function consistencyProof(oldSize: number, newSize: number, read: HashReader, current = newSize): Uint8Array[] {
  if (!(oldSize > 0 && oldSize <= newSize && newSize <= current)) {
    throw new LogError('OUT_OF_RANGE', 'need 0 < old ≤ new ≤ the current tree size', {
      old: oldSize,
      new: newSize,
      current,
    });
  }
  return proveConsistency(oldSize, newSize, read);
}

/** Parses a decimal uint53 with no sign, no leading zeros, no spaces (NON_CANONICAL_NUMBER otherwise). */
export function canonicalNumber(s: string, what: string): number {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(s))
    throw new LogError('NON_CANONICAL_NUMBER', `${what} must be a canonical decimal number`, {
      [what]: s.slice(0, 32),
    });
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new LogError('NON_CANONICAL_NUMBER', `${what} is too large`, { [what]: s });
  return n;
}
