/**
 * c2sp.org/tlog-tiles reads: hash tiles and entry bundles cut from stored state, checked
 * against the current tree size so the log never serves a tile no checkpoint implies.
 *
 * Hash tile (L, N, W) = stored Merkle hashes at level 8·L, indexes [256·N, 256·N + W).
 * Entry bundle (N, W) = leaves [256·N, 256·N + W), uint16-length-prefixed (encodeEntryBundle).
 * Both are immutable for a given path, so they are cached (a small insertion-order LRU).
 */
import { encodeEntryBundle, parseTilePath, TILE_HEIGHT, TILE_WIDTH } from '#verifier/build';
import type { Tile } from '#verifier/build';
import { LogError } from './errors.ts';
import type { LogStorage } from './ports.ts';

const CACHE_MAX = 4096;

export interface TileBody {
  body: Buffer;
  entries: boolean;
}

export class TileReader {
  /** Tile bytes as Buffers, ready to send (immutable for their path). */
  private readonly cache = new Map<string, Buffer>();

  constructor(private readonly storage: LogStorage) {}

  /** The hash tile's bytes, or TILE_NOT_FOUND if tree `size` does not contain it. */
  hashTile(t: Tile, size: number): Buffer {
    checkInTree(t, size);
    return this.cached(`h/${t.level}/${t.index}/${t.width}`, () =>
      this.storage.readHashes(t.level * TILE_HEIGHT, t.index * TILE_WIDTH, t.width),
    );
  }

  /** The entry bundle's bytes, or TILE_NOT_FOUND if tree `size` does not contain it. */
  entryBundle(index: number, width: number, size: number): Buffer {
    checkInTree({ level: 0, index, width }, size);
    return this.cached(`e/${index}/${width}`, () => encodeEntryBundle(this.storage.leaves(index * TILE_WIDTH, width)));
  }

  /** Serves a request path below the log prefix (`tile/…`); TILE_PATH_INVALID for a bad path. */
  read(path: string, size: number): TileBody {
    const { tile, entries } = parseTilePath(path);
    return { body: entries ? this.entryBundle(tile.index, tile.width, size) : this.hashTile(tile, size), entries };
  }

  private cached(key: string, make: () => Uint8Array): Buffer {
    const hit = this.cache.get(key);
    if (hit) return hit;
    const made = make();
    const body = Buffer.isBuffer(made) ? made : Buffer.from(made.buffer, made.byteOffset, made.byteLength);
    if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, body);
    return body;
  }
}

/** A tile is in a tree of `size` iff its last hash exists: 256·N + W ≤ ⌊size / 256^L⌋. */
function checkInTree(t: Tile, size: number): void {
  const available = Math.floor(size / TILE_WIDTH ** t.level);
  if (t.index * TILE_WIDTH + t.width > available) {
    throw new LogError('TILE_NOT_FOUND', 'no such tile in the current tree', {
      level: t.level,
      index: t.index,
      width: t.width,
      size,
    });
  }
}
