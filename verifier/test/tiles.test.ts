/**
 * C2SP tlog-tiles: paths (tile-paths.json), the layouts of tiles-70000.json (every tile's
 * bytes by SHA-256, roots, proofs read back out of tiles), tile verification against a
 * checkpoint, and entry bundles.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  tileHashReader,
  checkTile,
  checkEntryBundle,
  checkInclusion,
  isVerifierError,
  type Checkpoint,
} from '../index.ts';
import {
  MemoryTree,
  tilePath,
  entriesPath,
  parseTilePath,
  encodeTileIndex,
  tilesForSize,
  entryBundlesForSize,
  newTiles,
  newEntryBundles,
  readTileData,
  encodeEntryBundle,
  decodeEntryBundle,
  proveInclusion,
  proveConsistency,
  sha256,
  toHex,
  toBase64,
  fromBase64,
  utf8,
  type Tile,
} from '../build.ts';

const VEC = resolve(import.meta.dirname, '../../testdata/tlog');
const load = (n: string) => JSON.parse(readFileSync(resolve(VEC, n), 'utf8'));
const paths = load('tile-paths.json');
const big = load('tiles-70000.json');

const tree = new MemoryTree();
for (let i = 0; i < 70000; i++) tree.append(utf8(`entry-${i}`));
const read = tree.hashReader();

function bundle(t: Tile): Uint8Array {
  return encodeEntryBundle(Array.from({ length: t.width }, (_, i) => tree.entry(t.index * 256 + i)));
}

test('index encoding and c2sp paths match the vectors, and parse back', () => {
  for (const e of paths.indexEncoding) assert.equal(encodeTileIndex(e.index), e.encoded);
  for (const p of paths.c2spPaths) {
    const entries = p.level === -1;
    assert.equal(entries ? entriesPath(p.index, p.width) : tilePath(p), p.path);
    assert.deepEqual(parseTilePath(p.path), {
      tile: { level: entries ? 0 : p.level, index: p.index, width: p.width },
      entries,
    });
  }
});

test('non-canonical and out-of-range tile paths are TILE_PATH_INVALID', () => {
  const bad = [
    'tile/0/x000/001',
    'tile/0/1',
    'tile/0/0001',
    'tile/00/000',
    'tile/64/000',
    'tile/0/000.p/0',
    'tile/0/000.p/256',
    'tile/0/000.p/01',
    'tile/0/000.p/',
    'tile/0/000/',
    '/tile/0/000',
    'tile/0/x001',
    'tile/-1/000',
    'tile/entries/000.p/300',
    'tile/data/000',
    'tile/8/0/001',
    ...paths.goSumdbInvalidPaths,
    'tile/0/000 ',
    'tile/0/x999/x999/x999/x999/x999/999',
    `tile/0/${'x001/'.repeat(40)}000`,
    'tile/1/x281/x474/x976/x710/656',
    'tile/0/ 00',
  ];
  for (const p of bad)
    assert.throws(
      () => parseTilePath(p),
      (e) => isVerifierError(e, 'TILE_PATH_INVALID'),
      p,
    );
});

test('every tree size in tiles-70000.json: root, tile counts, partial tiles and bundles byte for byte, all paths', () => {
  const full = new Map<string, string>(
    big.fullTiles.map((t: { path: string; sha256Hex: string }) => [t.path, t.sha256Hex]),
  );
  for (const t of big.trees) {
    const size = t.treeSize;
    assert.equal(toBase64(tree.root(size)), t.rootB64, `root ${size}`);
    const tiles = tilesForSize(size);
    const bundles = entryBundlesForSize(size);
    assert.equal(tiles.filter((x) => x.width === 256).length, t.fullHashTileCount, `full tiles ${size}`);
    assert.equal(bundles.filter((x) => x.width === 256).length, t.fullEntryBundleCount, `full bundles ${size}`);
    const published = new Map<string, Uint8Array>();
    for (const x of tiles) published.set(tilePath(x), readTileData(x, read));
    for (const x of bundles) published.set(entriesPath(x.index, x.width), bundle(x));
    for (const p of t.partialTilesAndBundles) {
      const got = published.get(p.path);
      assert.ok(got, `${size}: missing ${p.path}`);
      assert.equal(toHex(sha256(got)), p.sha256Hex, p.path);
      if (p.contentHex) assert.equal(toHex(got), p.contentHex, p.path);
    }
    for (const [p, bytes] of published) if (full.has(p)) assert.equal(toHex(sha256(bytes)), full.get(p), p);
    if (t.allPaths?.length) assert.deepEqual([...published.keys()].sort(), [...t.allPaths].sort(), `paths ${size}`);
  }
  const fullCount = [...full.keys()].length;
  assert.equal(fullCount, 547);
});

test('proofs read out of tiles equal the vectors and verify', () => {
  const store = new Map<string, Uint8Array>();
  for (const x of tilesForSize(70000)) store.set(tilePath(x), readTileData(x, read));
  for (const x of tilesForSize(65537)) store.set(tilePath(x), readTileData(x, read));
  const fetched: string[] = [];
  const getTile = (t: Tile) => {
    fetched.push(tilePath(t));
    const d = store.get(tilePath(t));
    if (!d) throw new Error(`no tile ${tilePath(t)}`);
    return d;
  };
  for (const p of big.inclusionProofs) {
    if (p.treeSize !== 70000 && p.treeSize !== 65537) continue;
    const r = tileHashReader(p.treeSize, getTile);
    const proof = proveInclusion(p.leafIndex, p.treeSize, r);
    assert.deepEqual(proof.map(toBase64), p.proofB64, `incl ${p.leafIndex}/${p.treeSize}`);
    checkInclusion(proof, p.leafIndex, p.treeSize, fromBase64(p.leafHashB64), fromBase64(p.rootB64));
  }
  for (const p of big.consistencyProofs) {
    if (p.size2 !== 70000 || p.size1 === p.size2) continue;
    assert.deepEqual(
      proveConsistency(p.size1, p.size2, tileHashReader(70000, getTile)).map(toBase64),
      p.proofB64,
      `cons ${p.size1}`,
    );
  }
  assert.ok(fetched.length > 0);
});

test('newTiles lists exactly the tiles that change, with only the final partial width', () => {
  assert.deepEqual(newTiles(0, 1), [{ level: 0, index: 0, width: 1 }]);
  assert.deepEqual(newTiles(255, 256), [
    { level: 0, index: 0, width: 256 },
    { level: 1, index: 0, width: 1 },
  ]);
  assert.deepEqual(newTiles(256, 257), [{ level: 0, index: 1, width: 1 }]);
  assert.deepEqual(newTiles(5, 5), []);
  assert.deepEqual(newEntryBundles(250, 600), [
    { level: 0, index: 0, width: 256 },
    { level: 0, index: 1, width: 256 },
    { level: 0, index: 2, width: 88 },
  ]);
  for (const [a, b] of [
    [0, 70000],
    [1000, 65537],
    [65535, 65536],
    [300, 70000],
  ] as const) {
    const after = new Map(tilesForSize(b).map((t) => [tilePath(t), t]));
    const before = new Set(tilesForSize(a).map(tilePath));
    const changed = [...after.keys()].filter((p) => !before.has(p));
    assert.deepEqual(newTiles(a, b).map(tilePath).sort(), changed.sort(), `${a}->${b}`);
  }
});

test('checkTile accepts every tile of size 70000 and 513 against its checkpoint and rejects any tampered hash', () => {
  for (const size of [513, 70000]) {
    const cp: Checkpoint = { origin: 'o', size, rootHash: tree.root(size), extensions: [] };
    const store = new Map<string, Uint8Array>();
    for (const x of tilesForSize(size)) store.set(tilePath(x), readTileData(x, read));
    const other = tileHashReader(size, (t) => store.get(tilePath(t))!);
    const sample = tilesForSize(size).filter((_, i, a) => i < 3 || i > a.length - 5);
    for (const t of sample) {
      const data = store.get(tilePath(t))!;
      checkTile(t, data, cp, other);
      const bad = data.slice();
      bad[bad.length - 1]! ^= 1;
      assert.throws(
        () => checkTile(t, bad, cp, other),
        (e) => isVerifierError(e, 'TILE_MISMATCH'),
        tilePath(t),
      );
      assert.throws(
        () => checkTile(t, data.subarray(32), cp, other),
        (e) => isVerifierError(e, 'TILE_MISMATCH'),
      );
    }
    assert.throws(
      () => checkTile({ level: 0, index: 999, width: 256 }, new Uint8Array(8192), cp, other),
      (e) => isVerifierError(e, 'TILE_MISMATCH'),
    );
  }
  const small: Checkpoint = { origin: 'o', size: 3, rootHash: tree.root(3), extensions: [] };
  checkTile({ level: 0, index: 0, width: 3 }, readTileData({ level: 0, index: 0, width: 3 }, read), small);
  // an older, narrower partial tile is still consistent with a newer checkpoint
  const cp: Checkpoint = { origin: 'o', size: 70000, rootHash: tree.root(70000), extensions: [] };
  const store = new Map([...tilesForSize(70000)].map((t) => [tilePath(t), readTileData(t, read)]));
  checkTile(
    { level: 0, index: 273, width: 50 },
    readTileData({ level: 0, index: 273, width: 50 }, read),
    cp,
    tileHashReader(70000, (t) => store.get(tilePath(t))!),
  );
});

test('entry bundles: round trip, verification against the level-0 tile, strict decoding', () => {
  const entries = [new Uint8Array(0), utf8('a'), new Uint8Array(65535).fill(1)];
  const enc = encodeEntryBundle(entries);
  assert.deepEqual(decodeEntryBundle(enc), entries);
  assert.deepEqual(decodeEntryBundle(new Uint8Array(0)), []);
  const t = { level: 0, index: 273, width: 112 };
  const got = checkEntryBundle(bundle(t), readTileData(t, read));
  assert.equal(new TextDecoder().decode(got[0]), 'entry-69888');
  const wrong = encodeEntryBundle([utf8('entry-69889'), ...got.slice(1)]);
  assert.throws(
    () => checkEntryBundle(wrong, readTileData(t, read)),
    (e) => isVerifierError(e, 'TILE_MISMATCH'),
  );
  for (const b of [Uint8Array.of(0), Uint8Array.of(0, 2, 1), enc.subarray(0, enc.length - 1)]) {
    assert.throws(
      () => decodeEntryBundle(b),
      (e) => isVerifierError(e, 'MALFORMED'),
    );
  }
  assert.throws(
    () => decodeEntryBundle(new Uint8Array(2 * 257)),
    (e) => isVerifierError(e, 'MALFORMED'),
  );
  assert.throws(
    () => decodeEntryBundle(enc, 2),
    (e) => isVerifierError(e, 'TILE_MISMATCH'),
  );
  assert.throws(() => encodeEntryBundle([new Uint8Array(65536)]), RangeError);
});
