/**
 * The Go checksum database's pre-C2SP tile paths (golang.org/x/mod/sumdb/tlog tile.go
 * Tile.Path / ParseTilePath): `tile/<H>/<L>/<N>[.p/<W>]` with the tile height H (1..30) in
 * the path, and `tile/<H>/data/<N>[.p/<W>]` for record-data tiles (level -1 here). The
 * index encoding is the same as C2SP's; widths run 1..2^H. For reading sum.golang.org-style
 * logs; Keycast's own log uses the C2SP paths of tile-path.ts.
 */
import { VerifierError } from '../errors.ts';
import { encodeTileIndex } from './tile-path.ts';

/** A sumdb tile; `level` -1 is a data tile. */
export interface SumdbTile {
  height: number;
  level: number;
  index: number;
  width: number;
}

/** `tile/<H>/<L|data>/<N>[.p/<W>]`. Throws RangeError for an invalid tile. */
export function sumdbTilePath(t: SumdbTile): string {
  if (!Number.isInteger(t.height) || t.height < 1 || t.height > 30) throw new RangeError(`sumdb tile height ${t.height} out of range`);
  if (!Number.isInteger(t.level) || t.level < -1 || t.level > 63) throw new RangeError(`sumdb tile level ${t.level} out of range`);
  const full = 2 ** t.height;
  if (!Number.isInteger(t.width) || t.width < 1 || t.width > full) throw new RangeError(`sumdb tile width ${t.width} out of range`);
  const level = t.level === -1 ? 'data' : String(t.level);
  return `tile/${t.height}/${level}/${encodeTileIndex(t.index)}${t.width === full ? '' : `.p/${t.width}`}`;
}

const RE = /^tile\/([1-9][0-9]?)\/(data|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([1-9][0-9]{0,9}))?$/;

/** Parses a sumdb tile path strictly (only the spelling sumdbTilePath produces). Throws TILE_PATH_INVALID. */
export function parseSumdbTilePath(path: string): SumdbTile {
  const invalid = (reason: string) => new VerifierError('TILE_PATH_INVALID', `invalid sumdb tile path: ${reason}`, { path: String(path).slice(0, 200), reason });
  if (typeof path !== 'string' || path.length > 128) throw invalid('too long or not a string');
  const m = RE.exec(path);
  if (!m) throw invalid('not tile/<H>/<L>/<N>[.p/<W>]');
  const height = Number(m[1]);
  const t = {
    height,
    level: m[2] === 'data' ? -1 : Number(m[2]),
    index: Number(m[3]!.replace(/x|\//g, '')),
    width: m[4] === undefined ? 2 ** height : Number(m[4]),
  };
  let canonical: string;
  try {
    canonical = sumdbTilePath(t);
  } catch {
    throw invalid('height, level, index or width out of range');
  }
  if (canonical !== path) throw invalid('non-canonical');
  return t;
}
