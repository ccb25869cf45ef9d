/**
 * Producing RFC 6962 §2.1.1 PATH (inclusion) and §2.1.2 PROOF/SUBPROOF (consistency) proofs
 * and tree hashes from a store of complete-subtree hashes, in the manner of
 * golang.org/x/mod/sumdb/tlog (TreeHash, ProveRecord, ProveTree, StoredHashes).
 */
import { EMPTY_ROOT, hashChildren } from './hash.ts';
import { bitLen, isUint53, splitPoint, trailingZeros } from './bits.ts';

/**
 * Reads the hash of the COMPLETE subtree at `level` covering leaves
 * [index·2^level, (index+1)·2^level). Level 0 holds leaf hashes. Must throw if the hash is
 * unknown (never return a placeholder). Called synchronously; it may be called many times
 * for the same node, so back it with a cache if reads are expensive.
 */
export type HashReader = (level: number, index: number) => Uint8Array;

function checkSize(what: string, n: number): void {
  if (!isUint53(n)) throw new RangeError(`${what} must be a safe non-negative integer, got ${n}`);
}

/**
 * MTH(D[lo:hi]) for a range whose start is aligned to a power of two ≥ its length (every
 * range the RFC recursions visit is). Reads the maximal complete subtrees left to right and
 * folds them right to left.
 */
export function rangeHash(lo: number, hi: number, read: HashReader): Uint8Array {
  if (hi <= lo) return EMPTY_ROOT;
  const parts: Uint8Array[] = [];
  while (lo < hi) {
    const align = lo === 0 ? 64 : trailingZeros(lo);
    const level = Math.min(align, bitLen(hi - lo) - 1);
    parts.push(read(level, lo / 2 ** level));
    lo += 2 ** level;
  }
  let h = parts[parts.length - 1]!;
  for (let i = parts.length - 2; i >= 0; i--) h = hashChildren(parts[i]!, h);
  return h;
}

/** The root hash of the tree of `size` leaves (SHA-256("") for size 0). */
export function treeHash(size: number, read: HashReader): Uint8Array {
  checkSize('size', size);
  return rangeHash(0, size, read);
}

/**
 * Every complete-subtree hash that becomes known when the leaf with index `size` (hash
 * `leafHash`) is appended to a tree of `size` leaves: level 0 is the leaf itself, then each
 * parent that the append completes, bottom-up. A log stores these (RFC 6962 nodes).
 */
export function subtreeHashesForAppend(
  size: number,
  leafHash: Uint8Array,
  read: HashReader,
): Array<{ level: number; index: number; hash: Uint8Array }> {
  checkSize('size', size);
  const out = [{ level: 0, index: size, hash: leafHash }];
  let h = leafHash;
  let index = size;
  let level = 0;
  while (index % 2 === 1) {
    h = hashChildren(read(level, index - 1), h);
    index = (index - 1) / 2;
    level++;
    out.push({ level, index, hash: h });
  }
  return out;
}

/** RFC 6962 PATH(index, D[0:size]), leaf to root. Throws RangeError unless index < size. */
export function proveInclusion(
  index: number,
  size: number,
  read: HashReader,
  rightEdge?: Map<number, Uint8Array>,
): Uint8Array[] {
  checkSize('index', index);
  checkSize('size', size);
  if (index >= size) throw new RangeError(`proveInclusion: index ${index} is not below size ${size}`);
  const out: Uint8Array[] = [];
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    const level = bitLen(k) - 1;
    if (index < lo + k) {
      const n = hi - lo - k;
      if (n === 2 ** (bitLen(n) - 1))
        out.push(read(bitLen(n) - 1, (lo + k) / n)); // a complete subtree: one stored hash
      else if (rightEdge) {
        // Only a range ending at `size` can be incomplete: every proof at this size shares
        // it, so a server answering many may memoise it (`rightEdge`, keyed by its start;
        // one map per size, owned by the caller).
        let h = rightEdge.get(lo + k);
        if (!h) rightEdge.set(lo + k, (h = rangeHash(lo + k, hi, read)));
        out.push(h);
      } else out.push(rangeHash(lo + k, hi, read));
      hi = lo + k;
    } else {
      out.push(read(level, lo / k)); // [lo, lo+k) is always complete and aligned
      lo += k;
    }
  }
  return out.reverse();
}

/**
 * RFC 6962 PROOF(oldSize, D[0:newSize]), in SUBPROOF order. Throws RangeError unless
 * 0 < oldSize ≤ newSize; equal sizes give an empty proof.
 */
export function proveConsistency(oldSize: number, newSize: number, read: HashReader): Uint8Array[] {
  checkSize('oldSize', oldSize);
  checkSize('newSize', newSize);
  if (oldSize === 0 || oldSize > newSize) throw new RangeError(`proveConsistency: need 0 < ${oldSize} ≤ ${newSize}`);
  const out: Uint8Array[] = [];
  let m = oldSize;
  let lo = 0;
  let hi = newSize;
  let complete = true; // SUBPROOF's b flag: the old tree so far is the whole left part
  while (m !== hi - lo) {
    const k = splitPoint(hi - lo);
    if (m <= k) {
      out.push(rangeHash(lo + k, hi, read));
      hi = lo + k;
    } else {
      out.push(rangeHash(lo, lo + k, read));
      m -= k;
      lo += k;
      complete = false;
    }
  }
  if (!complete) out.push(rangeHash(lo, hi, read));
  return out.reverse();
}
