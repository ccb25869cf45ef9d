/**
 * C2SP tlog-tiles v0.1.0 (https://c2sp.org/tlog-tiles) paths:
 *   hash tiles    tile/<L>/<N>[.p/<W>]      L in 0..63, W in 1..255 (no suffix for 256)
 *   entry bundles tile/entries/<N>[.p/<W>]
 * <N> is split into 3-digit zero-padded groups, all but the last prefixed with "x":
 * 1234067 → x001/x234/067, 1000 → x001/000. Parsing is strict: the only accepted spelling
 * of a tile is the one tilePath produces.
 */
import { VerifierError } from '../errors.ts';

export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
/** Largest tile level (the spec's 0..63). */
export const MAX_TILE_LEVEL = 63;

/**
 * A tile: `level` L holds hashes of stored-hash level 8·L; `index` N counts tiles from the
 * left; `width` W (1..256) is how many hashes (or, for entry bundles, entries) it holds.
 * Tile (L, N, W) holds the hashes [256·N, 256·N + W) of level 8·L.
 */
export interface Tile {
  level: number;
  index: number;
  width: number;
}

/** The <N> path segments of a tile index. */
export function encodeTileIndex(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`tile index ${n} is not a safe non-negative integer`);
  let s = String(n % 1000).padStart(3, '0');
  for (n = Math.floor(n / 1000); n > 0; n = Math.floor(n / 1000)) s = `x${String(n % 1000).padStart(3, '0')}/${s}`;
  return s;
}

function checkTile(t: Tile): void {
  if (!Number.isInteger(t.level) || t.level < 0 || t.level > MAX_TILE_LEVEL)
    throw new RangeError(`tile level ${t.level} out of range`);
  if (!Number.isInteger(t.width) || t.width < 1 || t.width > TILE_WIDTH)
    throw new RangeError(`tile width ${t.width} out of range`);
  if (
    !Number.isSafeInteger(t.index) ||
    t.index < 0 ||
    t.index * TILE_WIDTH ** (t.level + 1) > Number.MAX_SAFE_INTEGER
  ) {
    throw new RangeError(`tile index ${t.index} at level ${t.level} starts beyond 2^53 leaves`);
  }
}

function suffix(width: number): string {
  return width === TILE_WIDTH ? '' : `.p/${width}`;
}

/** `tile/<L>/<N>[.p/<W>]`. Throws RangeError for an invalid tile (incl. one starting beyond 2^53 leaves). */
export function tilePath(t: Tile): string {
  checkTile(t);
  return `tile/${t.level}/${encodeTileIndex(t.index)}${suffix(t.width)}`;
}

/** `tile/entries/<N>[.p/<W>]`. Throws RangeError for an invalid bundle. */
export function entriesPath(index: number, width: number): string {
  checkTile({ level: 0, index, width });
  return `tile/entries/${encodeTileIndex(index)}${suffix(width)}`;
}

const PATH_RE = /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/;

function invalid(path: string, reason: string): VerifierError {
  return new VerifierError('TILE_PATH_INVALID', `invalid tile path: ${reason}`, { path: path.slice(0, 200), reason });
}

/**
 * Parses a tile or entry-bundle path. Entry bundles come back as level 0 with
 * `entries: true`. Throws TILE_PATH_INVALID for anything but the canonical spelling of a
 * tile whose first leaf is below 2^53.
 */
export function parseTilePath(path: string): { tile: Tile; entries: boolean } {
  if (typeof path !== 'string' || path.length > 128) throw invalid(String(path), 'too long or not a string');
  const m = PATH_RE.exec(path);
  if (!m) throw invalid(path, 'not tile/<L>/<N>[.p/<W>]');
  const entries = m[1] === 'entries';
  const level = entries ? 0 : Number(m[1]);
  const index = Number(m[2]!.replace(/x|\//g, ''));
  const width = m[3] === undefined ? TILE_WIDTH : Number(m[3]);
  if (level > MAX_TILE_LEVEL || (m[3] !== undefined && width >= TILE_WIDTH))
    throw invalid(path, 'level or width out of range');
  if (!Number.isSafeInteger(index) || index * TILE_WIDTH ** (level + 1) > Number.MAX_SAFE_INTEGER)
    throw invalid(path, 'tile beyond 2^53 leaves');
  const tile = { level, index, width };
  const canonical = entries ? entriesPath(index, width) : tilePath(tile);
  if (canonical !== path) throw invalid(path, 'non-canonical index');
  return { tile, entries };
}
