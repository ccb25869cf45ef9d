/**
 * The log's view of its Merkle tree (RFC 6962 via #verifier): a HashReader over stored subtree
 * hashes with a bounded cache, plus an overlay for the hashes a batch is about to commit.
 *
 * A tlog-tiles hash tile at tile level L holds the stored hashes of Merkle level 8·L
 * (c2sp.org/tlog-tiles: hash i of tile n at level l is MTH of 256^l leaves), so tiles are read
 * straight out of the same table.
 */
import type { HashReader } from '#verifier/build';
import type { LogStorage, StoredHash } from './ports.ts';
import type { ProofMemo } from './proofs.ts';

const CACHE_MAX = 1 << 18;

/** Reads stored hashes through a cache. Stored hashes are immutable, so caching is always safe. */
export class HashCache {
  private readonly cache = new Map<number, Uint8Array>();

  constructor(private readonly storage: LogStorage) {}

  /** Throws if the hash is absent (the HashReader contract): the caller asked beyond the tree. */
  readonly read: HashReader = (level, index) => {
    const key = index * 64 + level;
    let h = this.cache.get(key);
    if (h === undefined) {
      h = this.storage.readHash(level, index);
      if (h === undefined) throw new RangeError(`no stored hash at level ${level} index ${index}`);
      if (this.cache.size >= CACHE_MAX) this.cache.clear();
      this.cache.set(key, h);
    }
    return h;
  };

  private memo: ProofMemo = { size: -1, edge: new Map(), upper: new Map() };
  private readonly b64 = new WeakMap<Uint8Array, string>();

  /**
   * Base64 of hashes handed out by `read` or a memo, remembered per hash object: proofs
   * repeat the same upper-level hashes, so most are encoded once rather than per answer.
   */
  base64(hashes: Uint8Array[]): string[] {
    const out = new Array<string>(hashes.length);
    for (let i = 0; i < hashes.length; i++) {
      const h = hashes[i]!;
      let s = this.b64.get(h);
      if (s === undefined) this.b64.set(h, (s = Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString('base64')));
      out[i] = s;
    }
    return out;
  }

  /**
   * What proofs at `size` share (proofs.ts inclusionProof): the right-edge range hashes and the
   * part of each 256-leaf block's proofs above the block. Kept for the last size asked.
   */
  proofMemo(size: number): ProofMemo {
    if (this.memo.size !== size) this.memo = { size, edge: new Map(), upper: new Map() };
    return this.memo;
  }

  /** Seeds the cache with hashes just committed (saves re-reading them for proofs). */
  remember(hashes: StoredHash[]): void {
    if (this.cache.size + hashes.length >= CACHE_MAX) this.cache.clear();
    for (const h of hashes) this.cache.set(h.index * 64 + h.level, h.hash);
  }
}

/** A reader that sees `pending` hashes (not yet committed) on top of `base`. */
export function overlayReader(base: HashReader, pending: Map<number, Uint8Array>): HashReader {
  return (level, index) => pending.get(index * 64 + level) ?? base(level, index);
}

export function overlayKey(level: number, index: number): number {
  return index * 64 + level;
}
