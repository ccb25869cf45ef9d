/**
 * C2SP tlog-tiles v0.1.0 tile math (height 8): which tiles a tree publishes, reading and
 * building tile data, and verifying tiles against a checkpoint. Hash i of tile (L, N) is the
 * stored hash at level 8·L, index 256·N + i, i.e. MTH of leaves
 * [(256·N + i)·256^L, (256·N + i + 1)·256^L). The partial tile at level L of a tree of size s
 * has floor(s / 256^L) mod 256 hashes; partial tiles never feed the level above.
 */
import { VerifierError } from '../errors.ts';
import { bytesEqual, concatBytes } from '../encoding/bytes.ts';
import { HASH_SIZE, hashChildren } from './hash.ts';
import { isUint53, splitPoint } from './bits.ts';
import { type HashReader, rangeHash } from './prove.ts';
import { TILE_HEIGHT, TILE_WIDTH, tilePath, type Tile } from './tile-path.ts';
import type { Checkpoint } from './checkpoint.ts';

/** Number of hashes at stored level 8·level in a tree of `size` leaves. */
function hashesAtTileLevel(size: number, level: number): number {
  return Math.floor(size / TILE_WIDTH ** level);
}

/** The width tile (level, index) has in a tree of `size`, or 0 if the tree has no such tile. */
export function tileWidthInTree(level: number, index: number, size: number): number {
  const n = hashesAtTileLevel(size, level);
  const full = Math.floor(n / TILE_WIDTH);
  if (index < full) return TILE_WIDTH;
  return index === full ? n % TILE_WIDTH : 0;
}

function tilesAtLevel(level: number, fromIndex: number, n: number, out: Tile[]): void {
  const full = Math.floor(n / TILE_WIDTH);
  for (let i = fromIndex; i < full; i++) out.push({ level, index: i, width: TILE_WIDTH });
  if (n % TILE_WIDTH > 0) out.push({ level, index: full, width: n % TILE_WIDTH });
}

/** Every hash tile (full ones and the partial right edge of each level) a tree of `size` publishes, bottom level first. O(size/256). */
export function tilesForSize(size: number): Tile[] {
  if (!isUint53(size)) throw new RangeError(`size ${size} is not a safe non-negative integer`);
  const out: Tile[] = [];
  for (let level = 0; hashesAtTileLevel(size, level) > 0; level++)
    tilesAtLevel(level, 0, hashesAtTileLevel(size, level), out);
  return out;
}

/** Every entry bundle (as level-0 tiles) a tree of `size` publishes. */
export function entryBundlesForSize(size: number): Tile[] {
  return newEntryBundles(0, size);
}

/**
 * The hash tiles that are new or changed (wider) when a tree grows from `oldSize` to
 * `newSize`: per level, the old partial tile (now wider or full), new full tiles, and the new
 * partial tile at its final width only.
 */
export function newTiles(oldSize: number, newSize: number): Tile[] {
  if (!isUint53(oldSize) || !isUint53(newSize) || oldSize > newSize)
    throw new RangeError(`newTiles: need 0 ≤ ${oldSize} ≤ ${newSize}`);
  const out: Tile[] = [];
  for (let level = 0; hashesAtTileLevel(newSize, level) > 0; level++) {
    const oldN = hashesAtTileLevel(oldSize, level);
    const newN = hashesAtTileLevel(newSize, level);
    if (oldN !== newN) tilesAtLevel(level, Math.floor(oldN / TILE_WIDTH), newN, out);
  }
  return out;
}

/** The entry bundles that are new or changed when a tree grows from `oldSize` to `newSize`. */
export function newEntryBundles(oldSize: number, newSize: number): Tile[] {
  if (!isUint53(oldSize) || !isUint53(newSize) || oldSize > newSize)
    throw new RangeError(`newEntryBundles: need 0 ≤ ${oldSize} ≤ ${newSize}`);
  const out: Tile[] = [];
  if (oldSize !== newSize) tilesAtLevel(0, Math.floor(oldSize / TILE_WIDTH), newSize, out);
  return out;
}

/** The bytes of hash tile `t`: its W hashes read from a store of stored hashes. */
export function readTileData(t: Tile, read: HashReader): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < t.width; i++) parts.push(read(t.level * TILE_HEIGHT, t.index * TILE_WIDTH + i));
  return concatBytes(...parts);
}

function tileHashes(t: Tile, data: Uint8Array): Uint8Array[] {
  if (!(data instanceof Uint8Array) || data.length !== t.width * HASH_SIZE) {
    throw new VerifierError(
      'TILE_MISMATCH',
      `tile ${tilePath(t)} has ${data?.length} bytes, want ${t.width * HASH_SIZE}`,
      { path: tilePath(t) },
    );
  }
  const out: Uint8Array[] = [];
  for (let i = 0; i < t.width; i++) out.push(data.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE));
  return out;
}

/** MTH over consecutive tile hashes [i0, i1) (each covering the same power-of-two leaf count). */
function foldHashes(h: Uint8Array[], i0: number, i1: number): Uint8Array {
  if (i1 - i0 === 1) return h[i0]!;
  const k = splitPoint(i1 - i0);
  return hashChildren(foldHashes(h, i0, i0 + k), foldHashes(h, i0 + k, i1));
}

/**
 * A HashReader for the tree of `size` that reads hashes out of tile data fetched with
 * `getTile` (called with the width the tile has in that tree; results are cached per
 * reader). It does not authenticate tiles: check the proofs built from it against a
 * verified checkpoint (or checkTile each tile). Throws RangeError for a node outside the
 * tree, TILE_MISMATCH for tile data of the wrong length.
 */
export function tileHashReader(size: number, getTile: (t: Tile) => Uint8Array): HashReader {
  const cache = new Map<string, Uint8Array[]>();
  return (level, index) => {
    if (!isUint53(index) || !Number.isInteger(level) || level < 0 || (index + 1) * 2 ** level > size) {
      throw new RangeError(`tileHashReader: no complete subtree at level ${level} index ${index} in size ${size}`);
    }
    const tl = Math.floor(level / TILE_HEIGHT);
    const span = 2 ** (level % TILE_HEIGHT);
    const start = index * span;
    const t = { level: tl, index: Math.floor(start / TILE_WIDTH), width: 0 };
    t.width = tileWidthInTree(tl, t.index, size);
    const key = tilePath(t);
    let hashes = cache.get(key);
    if (hashes === undefined) {
      hashes = tileHashes(t, getTile({ ...t }));
      cache.set(key, hashes);
    }
    const i0 = start % TILE_WIDTH;
    return foldHashes(hashes, i0, i0 + span);
  };
}

function noReader(): never {
  throw new TypeError('checkTile: this tile does not cover the whole tree; pass a HashReader for the other hashes');
}

/**
 * Verifies hash tile `t` with bytes `data` against a checkpoint: recomputes the root from
 * the tile's hashes plus the fewest other hashes (from `read`, e.g. a tileHashReader over
 * other, unverified tiles) and compares it with the checkpoint root. Any width up to the
 * one the checkpoint implies is accepted. Throws TILE_MISMATCH (evidence: path, size, roots).
 */
export function checkTile(t: Tile, data: Uint8Array, checkpoint: Checkpoint, read: HashReader = noReader): void {
  const path = tilePath(t);
  const size = checkpoint.size;
  const n = hashesAtTileLevel(size, t.level);
  if (t.index * TILE_WIDTH + t.width > n)
    throw new VerifierError('TILE_MISMATCH', `tile ${path} is not in a tree of size ${size}`, { path, size });
  const hashes = tileHashes(t, data);
  const unit = TILE_WIDTH ** t.level;
  const covLo = t.index * TILE_WIDTH * unit;
  const covHi = covLo + t.width * unit;
  let used = 0;
  const mth = (lo: number, hi: number): Uint8Array => {
    if (hi <= covLo || lo >= covHi || hi - lo < unit) return rangeHash(lo, hi, read);
    if (lo >= covLo && hi <= covHi && (lo - covLo) % unit === 0 && (hi - covLo) % unit === 0) {
      used += (hi - lo) / unit;
      return foldHashes(hashes, (lo - covLo) / unit, (hi - covLo) / unit);
    }
    const k = splitPoint(hi - lo);
    return hashChildren(mth(lo, lo + k), mth(lo + k, hi));
  };
  const root = mth(0, size);
  if (used !== t.width || !bytesEqual(root, checkpoint.rootHash)) {
    throw new VerifierError('TILE_MISMATCH', `tile ${path} does not match the checkpoint of size ${size}`, {
      path,
      size,
      expectedRoot: checkpoint.rootHash,
      computedRoot: root,
    });
  }
}
