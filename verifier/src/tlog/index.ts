/**
 * The tlog barrel: RFC 6962 / RFC 9162 Merkle proofs (prove.ts, verify.ts, memory-tree.ts) and C2SP
 * tlog-tiles v0.1.0 (https://c2sp.org/tlog-tiles): paths (tile-path.ts), tile math and verification
 * (tile-math.ts), entry bundles (entry-bundle.ts). Modules inside verifier/ import from here or from
 * the file itself.
 */
export {
  type HashReader,
  rangeHash,
  treeHash,
  subtreeHashesForAppend,
  proveInclusion,
  proveConsistency,
} from './prove.ts';
export { rootFromInclusionProof, checkInclusion, checkConsistency, checkConsistencyToRoot } from './verify.ts';
export { MemoryTree } from './memory-tree.ts';
export {
  TILE_HEIGHT,
  TILE_WIDTH,
  MAX_TILE_LEVEL,
  type Tile,
  encodeTileIndex,
  tilePath,
  entriesPath,
  parseTilePath,
} from './tile-path.ts';
export {
  tileWidthInTree,
  tilesForSize,
  entryBundlesForSize,
  newTiles,
  newEntryBundles,
  readTileData,
  tileHashReader,
  checkTile,
} from './tile-math.ts';
export { MAX_ENTRY_SIZE, encodeEntryBundle, decodeEntryBundle, checkEntryBundle } from './entry-bundle.ts';
