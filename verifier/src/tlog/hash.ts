/**
 * RFC 6962 §2.1 / RFC 9162 §2.1.1 Merkle tree hashing with SHA-256:
 *   MTH({})  = SHA-256("")
 *   leaf(d)  = SHA-256(0x00 ‖ d)
 *   node(l,r)= SHA-256(0x01 ‖ l ‖ r)
 */
import { createSha256 } from '../crypto/provider.ts';

export const HASH_SIZE = 32;

const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = new Uint8Array([0x01]);

/** A plain Uint8Array view (Node's digests are Buffers; callers compare and store Uint8Arrays). */
function plain(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createSha256();
  for (const p of parts) h.update(p);
  return plain(h.digest());
}

/** The root of the empty tree, SHA-256("") (not x/mod's all-zero hash). */
export const EMPTY_ROOT: Uint8Array = sha256();

/** RFC 6962 leaf hash of one log entry. */
export function hashLeaf(entry: Uint8Array): Uint8Array {
  return plain(createSha256().update(LEAF_PREFIX).update(entry).digest());
}

/** RFC 6962 interior node hash. */
export function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  return plain(createSha256().update(NODE_PREFIX).update(left).update(right).digest());
}
