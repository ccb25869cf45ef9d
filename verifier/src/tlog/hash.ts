/**
 * RFC 6962 §2.1 / RFC 9162 §2.1.1 Merkle tree hashing with SHA-256:
 *   MTH({})  = SHA-256("")
 *   leaf(d)  = SHA-256(0x00 ‖ d)
 *   node(l,r)= SHA-256(0x01 ‖ l ‖ r)
 * Each hash is one sha256Digest call over the assembled input: a proof check is a few dozen
 * 65-byte hashes, where a Hash object per node costs more than the hashing.
 */
import { createSha256, sha256Digest } from '../crypto/provider.ts';

export const HASH_SIZE = 32;

/** A plain Uint8Array view (Node's digests are Buffers; callers compare and store Uint8Arrays). */
function plain(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return sha256Digest(parts[0]!);
  const h = createSha256();
  for (const p of parts) h.update(p);
  return plain(h.digest());
}

/** The root of the empty tree, SHA-256("") (not x/mod's all-zero hash). */
export const EMPTY_ROOT: Uint8Array = sha256();

/** RFC 6962 leaf hash of one log entry. */
export function hashLeaf(entry: Uint8Array): Uint8Array {
  const input = new Uint8Array(1 + entry.length); // input[0] = 0x00, the leaf prefix
  input.set(entry, 1);
  return sha256Digest(input);
}

/** 0x01 ‖ left ‖ right, reused: hashing is synchronous and copies its input. */
const node = new Uint8Array(1 + 2 * HASH_SIZE);
node[0] = 0x01;

/** RFC 6962 interior node hash. */
export function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE)
    return plain(createSha256().update(node.subarray(0, 1)).update(left).update(right).digest());
  node.set(left, 1);
  node.set(right, 1 + HASH_SIZE);
  return sha256Digest(node);
}
