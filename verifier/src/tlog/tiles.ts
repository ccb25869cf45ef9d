/**
 * C2SP tlog-tiles v0.1.0 (https://c2sp.org/tlog-tiles): the public surface — paths
 * (tile-path.ts), tile math and verification (tile-math.ts), entry bundles (entry-bundle.ts).
 */
export { TILE_HEIGHT, TILE_WIDTH, MAX_TILE_LEVEL, type Tile, encodeTileIndex, tilePath, entriesPath, parseTilePath } from './tile-path.ts';
export { tileWidthInTree, tilesForSize, entryBundlesForSize, newTiles, newEntryBundles, readTileData, tileHashReader, checkTile } from './tile-math.ts';
export { MAX_ENTRY_SIZE, encodeEntryBundle, decodeEntryBundle, checkEntryBundle } from './entry-bundle.ts';
