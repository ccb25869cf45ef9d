/**
 * An in-memory RFC 6962 tree: every complete-subtree hash, kept in arrays per level. For
 * tests, tools and small logs; a real log keeps the same hashes in durable storage.
 */
import { hashLeaf } from './hash.ts';
import { type HashReader, subtreeHashesForAppend, treeHash } from './prove.ts';

export class MemoryTree {
  /** levels[l][i] = hash of the complete subtree at level l, index i. */
  private readonly levels: Uint8Array[][] = [[]];
  private readonly entries: Uint8Array[] = [];

  /** Number of leaves. */
  get size(): number {
    return this.levels[0]!.length;
  }

  /** Appends one entry; returns its index. */
  append(entry: Uint8Array): number {
    this.entries.push(entry.slice());
    return this.store(hashLeaf(entry));
  }

  /** Appends a leaf by its hash (the entry itself is not kept); returns its index. */
  appendLeafHash(leafHash: Uint8Array): number {
    this.entries.push(new Uint8Array(0));
    return this.store(leafHash);
  }

  private store(leafHash: Uint8Array): number {
    const index = this.size;
    for (const { level, index: i, hash } of subtreeHashesForAppend(index, leafHash, this.hashReader())) {
      (this.levels[level] ??= [])[i] = hash;
    }
    return index;
  }

  /** The entry at `index` as appended (empty if only its hash was appended). */
  entry(index: number): Uint8Array {
    const e = this.entries[index];
    if (e === undefined) throw new RangeError(`MemoryTree: no entry ${index}`);
    return e;
  }

  /** A HashReader over the stored hashes; throws RangeError for unknown nodes. */
  hashReader(): HashReader {
    return (level, index) => {
      const h = this.levels[level]?.[index];
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
