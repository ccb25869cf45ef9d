/**
 * Checking RFC 6962 / RFC 9162 inclusion and consistency proofs, ported from
 * transparency-dev/merkle proof/verify.go (RootFromInclusionProof, VerifyConsistency), which
 * implements RFC 9162 §2.1.3.2 and §2.1.4.2.
 *
 * Edge cases (decided to match transparency-dev/merkle and its test probes):
 *  - sizes and indexes are safe integers below 2^53; anything else is PROOF_SIZE;
 *  - inclusion: index ≥ size (so every proof against size 0) is PROOF_SIZE;
 *  - consistency: oldSize > newSize is PROOF_SIZE; oldSize = 0 is PROOF_SIZE (nothing to
 *    prove: the empty tree is a prefix of every tree — callers such as a tlog-witness handle
 *    `old 0` themselves); oldSize = newSize needs an empty proof and byte-equal roots;
 *  - a proof of the wrong length is PROOF_SIZE, a proof hash that is not 32 bytes is
 *    PROOF_INVALID, a proof that does not reach the given root is ROOT_MISMATCH (inclusion)
 *    or INCONSISTENT (consistency, with both sizes and roots as evidence).
 */
import { VerifierError } from '../errors.ts';
import { bytesEqual, toBase64 } from '../encoding/bytes.ts';
import { HASH_SIZE, hashChildren } from './hash.ts';
import { bitAt, bitLen, isUint53, popCount, shr, trailingZeros, xor } from './bits.ts';

/** Split an inclusion proof for `index` in `size` into its inner and border lengths. */
function decompose(index: number, size: number): { inner: number; border: number } {
  const inner = bitLen(xor(index, size - 1));
  return { inner, border: popCount(shr(index, inner)) };
}

function checkHashes(proof: Uint8Array[], what: string): void {
  if (!Array.isArray(proof)) throw new TypeError(`${what}: proof must be an array of hashes`);
  for (let i = 0; i < proof.length; i++) {
    const h = proof[i];
    if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) {
      throw new VerifierError('PROOF_INVALID', `${what}: proof hash ${i} is not ${HASH_SIZE} bytes`, { position: i });
    }
  }
}

function chainInner(seed: Uint8Array, proof: Uint8Array[], index: number): Uint8Array {
  for (let i = 0; i < proof.length; i++) {
    const h = proof[i]!;
    seed = bitAt(index, i) === 0 ? hashChildren(seed, h) : hashChildren(h, seed);
  }
  return seed;
}

function chainInnerRight(seed: Uint8Array, proof: Uint8Array[], index: number): Uint8Array {
  for (let i = 0; i < proof.length; i++) if (bitAt(index, i) === 1) seed = hashChildren(proof[i]!, seed);
  return seed;
}

function chainBorderRight(seed: Uint8Array, proof: Uint8Array[]): Uint8Array {
  for (const h of proof) seed = hashChildren(h, seed);
  return seed;
}

/**
 * The root that `proof` yields for `leafHash` at `index` in a tree of `size`.
 * Throws VerifierError PROOF_SIZE / PROOF_INVALID on a proof of the wrong shape.
 */
export function rootFromInclusionProof(
  proof: Uint8Array[],
  index: number,
  size: number,
  leafHash: Uint8Array,
): Uint8Array {
  if (!isUint53(index) || !isUint53(size) || index >= size) {
    throw new VerifierError('PROOF_SIZE', `inclusion: index ${index} is not below size ${size}`, { index, size });
  }
  if (!(leafHash instanceof Uint8Array) || leafHash.length !== HASH_SIZE) {
    throw new VerifierError('PROOF_INVALID', 'inclusion: leaf hash is not 32 bytes', { index, size });
  }
  checkHashes(proof, 'inclusion');
  const { inner, border } = decompose(index, size);
  if (proof.length !== inner + border) {
    throw new VerifierError('PROOF_SIZE', `inclusion: proof has ${proof.length} hashes, want ${inner + border}`, {
      index,
      size,
      got: proof.length,
      want: inner + border,
    });
  }
  const res = chainInner(leafHash, proof.slice(0, inner), index);
  return chainBorderRight(res, proof.slice(inner));
}

/** Checks that `leafHash` is at `index` in the tree of `size` with `root`. Throws VerifierError. */
export function checkInclusion(
  proof: Uint8Array[],
  index: number,
  size: number,
  leafHash: Uint8Array,
  root: Uint8Array,
): void {
  const got = rootFromInclusionProof(proof, index, size, leafHash);
  if (!(root instanceof Uint8Array) || !bytesEqual(got, root)) {
    throw new VerifierError(
      'ROOT_MISMATCH',
      `inclusion: proof for index ${index} does not lead to the root of size ${size}`,
      {
        index,
        size,
        leafHash,
        expectedRoot: root,
        computedRoot: got,
      },
    );
  }
}

function inconsistent(
  msg: string,
  proof: Uint8Array[],
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
): VerifierError {
  return new VerifierError('INCONSISTENT', msg, { oldSize, newSize, oldRoot, newRoot, proof: proof.map(toBase64) });
}

/**
 * Checks that the tree (`oldSize`, `oldRoot`) is a prefix of (`newSize`, `newRoot`).
 * Throws VerifierError; INCONSISTENT carries both sizes and both roots.
 */
export function checkConsistency(
  proof: Uint8Array[],
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
): void {
  if (!isUint53(oldSize) || !isUint53(newSize) || oldSize > newSize) {
    throw new VerifierError('PROOF_SIZE', `consistency: old size ${oldSize} is not ≤ new size ${newSize}`, {
      oldSize,
      newSize,
    });
  }
  if (oldSize === 0) {
    throw new VerifierError('PROOF_SIZE', 'consistency: old size 0 proves nothing', { oldSize, newSize });
  }
  checkHashes(proof, 'consistency');
  if (oldSize === newSize) {
    if (proof.length !== 0)
      throw new VerifierError('PROOF_SIZE', 'consistency: equal sizes need an empty proof', {
        oldSize,
        newSize,
        got: proof.length,
        want: 0,
      });
    if (!bytesEqual(oldRoot, newRoot))
      throw inconsistent('consistency: equal sizes with different roots', proof, oldSize, newSize, oldRoot, newRoot);
    return;
  }
  const { hash1, hash2 } = chainConsistency(proof, oldSize, newSize, oldRoot)!;
  if (!bytesEqual(hash1, oldRoot) || !bytesEqual(hash2, newRoot)) {
    throw inconsistent(
      `consistency: proof from ${oldSize} to ${newSize} does not match the roots`,
      proof,
      oldSize,
      newSize,
      oldRoot,
      newRoot,
    );
  }
}

/**
 * The old and new roots a consistency proof (0 < oldSize < newSize, hashes checked) yields,
 * after checking its length (PROOF_SIZE). When oldSize is a power of two the proof starts from
 * the old root itself: without `oldRoot` there is nothing to chain (null).
 */
function chainConsistency(
  proof: Uint8Array[],
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array | null,
): { hash1: Uint8Array; hash2: Uint8Array } | null {
  const { inner: fullInner, border } = decompose(oldSize - 1, newSize);
  const shift = trailingZeros(oldSize);
  const inner = fullInner - shift;
  const oldIsPerfect = oldSize === 2 ** shift;
  const start = oldIsPerfect ? 0 : 1;
  if (proof.length !== start + inner + border) {
    throw new VerifierError(
      'PROOF_SIZE',
      `consistency: proof has ${proof.length} hashes, want ${start + inner + border}`,
      { oldSize, newSize, got: proof.length, want: start + inner + border },
    );
  }
  const seed = oldIsPerfect ? oldRoot : proof[0]!;
  if (seed === null) return null;
  const rest = proof.slice(start);
  const mask = shr(oldSize - 1, shift);
  return {
    hash1: chainBorderRight(chainInnerRight(seed, rest.slice(0, inner), mask), rest.slice(inner)),
    hash2: chainBorderRight(chainInner(seed, rest.slice(0, inner), mask), rest.slice(inner)),
  };
}

/**
 * Checks what can be checked of a consistency proof from a tree known only by its size (one a
 * verifier elsewhere holds) to (`newSize`, `newRoot`): sizes, hashes and length — and, unless
 * `oldSize` is a power of two (the proof then starts from the old root, which only its holder
 * has), that it leads to `newRoot` (INCONSISTENT). Returns the old root the proof implies, or
 * null when it cannot say. The holder must still run checkConsistency with its root.
 */
export function checkConsistencyToRoot(
  proof: Uint8Array[],
  oldSize: number,
  newSize: number,
  newRoot: Uint8Array,
): Uint8Array | null {
  if (!isUint53(oldSize) || !isUint53(newSize) || oldSize > newSize) {
    throw new VerifierError('PROOF_SIZE', `consistency: old size ${oldSize} is not ≤ new size ${newSize}`, {
      oldSize,
      newSize,
    });
  }
  if (oldSize === 0)
    throw new VerifierError('PROOF_SIZE', 'consistency: old size 0 proves nothing', { oldSize, newSize });
  checkHashes(proof, 'consistency');
  if (oldSize === newSize) {
    if (proof.length !== 0)
      throw new VerifierError('PROOF_SIZE', 'consistency: equal sizes need an empty proof', {
        oldSize,
        newSize,
        got: proof.length,
        want: 0,
      });
    return newRoot;
  }
  const chained = chainConsistency(proof, oldSize, newSize, null);
  if (chained === null) return null;
  if (!bytesEqual(chained.hash2, newRoot)) {
    throw new VerifierError(
      'INCONSISTENT',
      `consistency: proof from ${oldSize} to ${newSize} does not lead to the new root`,
      { oldSize, newSize, newRoot, proof: proof.map(toBase64) },
    );
  }
  return chained.hash1;
}
