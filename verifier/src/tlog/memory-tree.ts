/**
 * An in-memory RFC 6962 tree: every complete-subtree hash, kept in one flat record list per
 * level (~64 bytes a leaf in all, so a receipt over 100,000 deliveries stays small). For tests,
 * tools, receipts and small logs; a real log keeps the same hashes in durable storage.
 */
import { RecordList } from '../encoding/record-list.ts';
import { HASH_SIZE, hashLeaf } from './hash.ts';
import { type HashReader, subtreeHashesForAppend, treeHash } from './prove.ts';

export class MemoryTree {
  /** levels[l] holds the hash of the complete subtree at level l, index i, as record i. */
  private readonly levels: RecordList[] = [new RecordList(HASH_SIZE)];
  /** entries appended whole, by index (hash-only appends leave a hole) */
  private readonly entries = new Map<number, Uint8Array>();

  /** Number of leaves. */
  get size(): number {
    return this.levels[0]!.length;
  }

  /** Appends one entry; returns its index. */
  append(entry: Uint8Array): number {
    this.entries.set(this.size, entry.slice());
    return this.store(hashLeaf(entry));
  }

  /** Appends a leaf by its hash (the entry itself is not kept); returns its index. */
  appendLeafHash(leafHash: Uint8Array): number {
    if (leafHash.length !== HASH_SIZE) throw new RangeError(`MemoryTree: a leaf hash is ${HASH_SIZE} bytes`);
    return this.store(leafHash);
  }

  private store(leafHash: Uint8Array): number {
    const index = this.size;
    for (const { level, index: i, hash } of subtreeHashesForAppend(index, leafHash, this.hashReader())) {
      (this.levels[level] ??= new RecordList(HASH_SIZE)).set(i, hash);
    }
    return index;
  }

  /** The entry at `index` as appended (empty if only its hash was appended). */
  entry(index: number): Uint8Array {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.size)
      throw new RangeError(`MemoryTree: no entry ${index}`);
    return this.entries.get(index) ?? new Uint8Array(0);
  }

  /** A HashReader over the stored hashes; throws RangeError for unknown nodes. */
  hashReader(): HashReader {
    return (level, index) => {
      const h = this.levels[level]?.get(index);
      if (h === undefined) throw new RangeError(`MemoryTree: no hash at level ${level} index ${index}`);
      return h;
    };
  }

  /** The root of the tree's first `size` leaves (default: all of them). */
  root(size: number = this.size): Uint8Array {
    if (size > this.size) throw new RangeError(`MemoryTree: size ${size} exceeds ${this.size}`);
    return treeHash(size, this.hashReader());
  }
}
