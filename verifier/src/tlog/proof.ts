/**
 * RFC 6962 / RFC 9162 Merkle proofs: the public surface (prove from a HashReader, check
 * against roots, an in-memory tree). See prove.ts, verify.ts and memory-tree.ts.
 */
export { type HashReader, rangeHash, treeHash, subtreeHashesForAppend, proveInclusion, proveConsistency } from './prove.ts';
export { rootFromInclusionProof, checkInclusion, checkConsistency, checkConsistencyToRoot } from './verify.ts';
export { MemoryTree } from './memory-tree.ts';
