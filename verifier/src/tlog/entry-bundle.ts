/**
 * C2SP tlog-tiles entry bundles: a sequence of entries, each a big-endian uint16 length
 * followed by that many bytes; at most 256 entries, each at most 65,535 bytes.
 */
import { VerifierError } from '../errors.ts';
import { bytesEqual } from '../encoding/bytes.ts';
import { HASH_SIZE, hashLeaf } from './hash.ts';
import { TILE_WIDTH } from './tile-path.ts';

export const MAX_ENTRY_SIZE = 0xffff;

/** Encodes entries as a bundle. Throws RangeError for > 256 entries or an entry > 65,535 bytes. */
export function encodeEntryBundle(entries: Uint8Array[]): Uint8Array {
  if (entries.length > TILE_WIDTH)
    throw new RangeError(`entry bundle of ${entries.length} entries exceeds ${TILE_WIDTH}`);
  let n = 0;
  for (const e of entries) {
    if (e.length > MAX_ENTRY_SIZE) throw new RangeError(`entry of ${e.length} bytes exceeds ${MAX_ENTRY_SIZE}`);
    n += 2 + e.length;
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const e of entries) {
    out[off] = e.length >>> 8;
    out[off + 1] = e.length & 0xff;
    out.set(e, off + 2);
    off += 2 + e.length;
  }
  return out;
}

/**
 * Decodes a bundle strictly: no truncated entry, no trailing bytes, at most 256 entries and
 * exactly `width` when given. Throws VerifierError MALFORMED (TILE_MISMATCH for a count
 * other than `width`).
 */
export function decodeEntryBundle(bytes: Uint8Array, width?: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let off = 0;
  while (off < bytes.length) {
    if (out.length === TILE_WIDTH)
      throw new VerifierError('MALFORMED', `entry bundle holds more than ${TILE_WIDTH} entries`, { offset: off });
    if (off + 2 > bytes.length)
      throw new VerifierError('MALFORMED', 'entry bundle: truncated length prefix', { offset: off });
    const len = (bytes[off]! << 8) | bytes[off + 1]!;
    if (off + 2 + len > bytes.length)
      throw new VerifierError('MALFORMED', 'entry bundle: truncated entry', { offset: off, length: len });
    out.push(bytes.slice(off + 2, off + 2 + len));
    off += 2 + len;
  }
  if (width !== undefined && out.length !== width) {
    throw new VerifierError('TILE_MISMATCH', `entry bundle holds ${out.length} entries, want ${width}`, {
      got: out.length,
      want: width,
    });
  }
  return out;
}

/**
 * Decodes a bundle and checks each entry's leaf hash against the level-0 hash tile with the
 * same index and width (itself verified with checkTile). Returns the entries.
 */
export function checkEntryBundle(bundle: Uint8Array, levelZeroTile: Uint8Array): Uint8Array[] {
  const width = levelZeroTile.length / HASH_SIZE;
  if (!Number.isInteger(width))
    throw new VerifierError('TILE_MISMATCH', 'level-0 tile length is not a multiple of 32', {
      length: levelZeroTile.length,
    });
  const entries = decodeEntryBundle(bundle, width);
  entries.forEach((e, i) => {
    if (!bytesEqual(hashLeaf(e), levelZeroTile.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE))) {
      throw new VerifierError('TILE_MISMATCH', `entry ${i} of the bundle does not match its leaf hash`, {
        position: i,
      });
    }
  });
  return entries;
}
