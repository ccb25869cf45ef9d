/**
 * The log over real HTTP on loopback: concurrent appends, dedup, tiles, proofs, lookups and
 * revocation, all checked with the verifier's own primitives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkConsistency,
  checkEntryBundle,
  checkInclusion,
  checkTile,
  noteVerifier,
  openCheckpoint,
  tileHashReader,
  verifyTlogProof,
} from '#verifier';
import { entriesPath, fromBase64, hashLeaf, tilePath, tilesForSize } from '#verifier/build';
import type { Checkpoint } from '#verifier';
import type { Tile } from '#verifier/build';
import { MemoryObjectStore } from '../src/objectstore/memory.ts';
import { ORIGIN, leafBundle, post, startTestLog } from './helpers.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createLog } from '../src/log.ts';
import { SeenKeys } from '../src/seen.ts';

async function checkpointOf(url: string, vkey: string): Promise<{ note: string; cp: Checkpoint }> {
  const r = await fetch(`${url}/checkpoint`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.match(r.headers.get('cache-control') ?? '', /max-age=[0-9]\b/);
  const note = await r.text();
  return { note, cp: openCheckpoint(note, noteVerifier(vkey), ORIGIN).checkpoint };
}

test('concurrent appends are each acknowledged with a proof that verifies against a signed checkpoint', async (t) => {
  const store = new MemoryObjectStore();
  const l = await startTestLog({ objectStore: store });
  t.after(() => l.close());
  const N = 240;
  const results = await Promise.all(
    Array.from({ length: 24 }, async (_, c) => {
      const out = [];
      for (let i = c; i < N; i += 24) out.push({ i, r: await post(l.url, leafBundle(`entry-${i}`)) });
      return out;
    }),
  );
  const flat = results.flat();
  const seen = new Set<number>();
  for (const { i, r } of flat) {
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const tle = r.json.transparencyLogEntry;
    const leaf = Buffer.from(`entry-${i}`);
    assert.equal(Buffer.from(fromBase64(tle.canonicalizedBody)).toString(), `entry-${i}`);
    assert.equal(tle.logIndex, String(r.json.index));
    const { checkpoint } = openCheckpoint(tle.inclusionProof.checkpoint.envelope, noteVerifier(l.vkey), ORIGIN);
    assert.equal(String(checkpoint.size), tle.inclusionProof.treeSize);
    checkInclusion(
      tle.inclusionProof.hashes.map(fromBase64),
      r.json.index,
      checkpoint.size,
      hashLeaf(leaf),
      checkpoint.rootHash,
    );
    seen.add(r.json.index);
  }
  assert.equal(seen.size, N);
  assert.deepEqual(
    [...seen].sort((a, b) => a - b),
    Array.from({ length: N }, (_, i) => i),
  );

  const { cp } = await checkpointOf(l.url, l.vkey);
  assert.equal(cp.size, N);
  // Every tile the checkpoint implies is served, verifies against it, and was mirrored to the store before the checkpoint.
  const tiles = new Map<string, Uint8Array>();
  for (const tile of tilesForSize(N)) {
    const r = await fetch(`${l.url}/${tilePath(tile)}`);
    assert.equal(r.status, 200, tilePath(tile));
    assert.equal(r.headers.get('content-type'), 'application/octet-stream');
    assert.equal(r.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    tiles.set(tilePath(tile), new Uint8Array(await r.arrayBuffer()));
  }
  const read = tileHashReader(N, (tile: Tile) => tiles.get(tilePath(tile))!);
  for (const tile of tilesForSize(N)) checkTile(tile, tiles.get(tilePath(tile))!, cp, read);
  const level0 = tilesForSize(N).filter((x) => x.level === 0);
  for (const tile of level0) {
    const r = await fetch(`${l.url}/${entriesPath(tile.index, tile.width)}`);
    assert.equal(r.status, 200);
    const entries = checkEntryBundle(new Uint8Array(await r.arrayBuffer()), tiles.get(tilePath(tile))!);
    assert.equal(entries.length, tile.width);
  }
  const cpAt = store.history.lastIndexOf('checkpoint');
  for (const tile of tilesForSize(N)) {
    const at = store.history.indexOf(tilePath(tile));
    assert.ok(at >= 0 && at < cpAt, `${tilePath(tile)} uploaded before the checkpoint`);
    assert.deepEqual(await store.get(tilePath(tile)), tiles.get(tilePath(tile)));
  }
});

test('duplicates are recognised across a restart (the in-memory filter is rebuilt from storage)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-log-'));
  try {
    createLog(dir, ORIGIN);
    const first = await startTestLog({ dir });
    const a = await post(first.url, leafBundle('kept'));
    const b = await post(first.url, leafBundle('also kept'));
    await first.close();
    const second = await startTestLog({ dir });
    try {
      const again = await post(second.url, leafBundle('kept'));
      assert.equal(again.json.duplicate, true);
      assert.equal(again.json.index, a.json.index);
      assert.equal((await post(second.url, leafBundle('also kept'))).json.index, b.json.index);
      assert.equal((await post(second.url, leafBundle('new'))).json.index, 2);
    } finally {
      await second.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the seen-keys filter never forgets a key it was given (no false negatives)', () => {
  const s = new SeenKeys();
  const keys = Array.from({ length: 5000 }, () => randomBytes(32).toString('hex'));
  for (const k of keys) s.add(k);
  for (const k of keys) assert.equal(s.mightContain(k), true);
  let hits = 0;
  for (let i = 0; i < 5000; i++) if (s.mightContain(randomBytes(32).toString('hex'))) hits++;
  assert.ok(hits < 5, `false positives should be rare: ${hits}/5000`);
  s.add('not hex at all');
  assert.equal(s.mightContain('not hex at all'), true, 'any key that was added is found');
});

test('a duplicate submission returns the existing index and stores nothing new', async (t) => {
  const l = await startTestLog();
  t.after(() => l.close());
  const a = await post(l.url, leafBundle('same'));
  await post(l.url, leafBundle('other'));
  const [b, c] = await Promise.all([post(l.url, leafBundle('same')), post(l.url, leafBundle('same'))]);
  assert.equal(a.status, 200);
  assert.equal(b.json.index, a.json.index);
  assert.equal(c.json.index, a.json.index);
  assert.equal(b.json.duplicate, true);
  assert.equal(b.json.leafHash, a.json.leafHash);
  assert.equal(l.log.storage.entryCount(), 2);
  // Concurrent first submissions of one entry also collapse to one index.
  const many = await Promise.all(Array.from({ length: 10 }, () => post(l.url, leafBundle('burst'))));
  assert.equal(new Set(many.map((m) => m.json.index)).size, 1);
  assert.equal(l.log.storage.entryCount(), 3);
});

test('inclusion and consistency proof routes verify; bad numbers and ranges are coded 4xx', async (t) => {
  const l = await startTestLog();
  t.after(() => l.close());
  for (let i = 0; i < 20; i++) await post(l.url, leafBundle(`p-${i}`));
  const mid = await checkpointOf(l.url, l.vkey);
  for (let i = 20; i < 37; i++) await post(l.url, leafBundle(`p-${i}`));
  const end = await checkpointOf(l.url, l.vkey);
  const inc = await (await fetch(`${l.url}/proof/inclusion?index=7&size=${end.cp.size}`)).json();
  checkInclusion(inc.hashes.map(fromBase64), 7, end.cp.size, hashLeaf(Buffer.from('p-7')), end.cp.rootHash);
  const con = await (await fetch(`${l.url}/proof/consistency?old=${mid.cp.size}&new=${end.cp.size}`)).json();
  checkConsistency(con.hashes.map(fromBase64), mid.cp.size, end.cp.size, mid.cp.rootHash, end.cp.rootHash);

  const cases: Array<[string, number, string]> = [
    ['/proof/inclusion?index=07&size=37', 400, 'NON_CANONICAL_NUMBER'],
    ['/proof/inclusion?index=1&size=+37', 400, 'NON_CANONICAL_NUMBER'],
    ['/proof/inclusion?index=37&size=37', 400, 'OUT_OF_RANGE'],
    ['/proof/inclusion?index=1&size=38', 400, 'OUT_OF_RANGE'],
    ['/proof/inclusion?index=1', 400, 'MALFORMED_REQUEST'],
    ['/proof/inclusion?index=1&size=3&x=1', 400, 'MALFORMED_REQUEST'],
    ['/proof/inclusion?index=1&index=2&size=3', 400, 'MALFORMED_REQUEST'],
    ['/proof/inclusion?index=1&size=99999999999999999999', 400, 'NON_CANONICAL_NUMBER'],
    ['/proof/consistency?old=0&new=5', 400, 'OUT_OF_RANGE'],
    ['/proof/consistency?old=6&new=5', 400, 'OUT_OF_RANGE'],
    ['/proof/consistency?old=1e3&new=5', 400, 'NON_CANONICAL_NUMBER'],
    ['/entry/99999999999999999999', 400, 'NON_CANONICAL_NUMBER'],
    ['/entry/999999999999999999999', 400, 'MALFORMED_REQUEST'],
    ['/entry/-1', 400, 'NON_CANONICAL_NUMBER'],
    ['/entry/37', 404, 'NOT_FOUND'],
    ['/tile/0/1', 404, 'TILE_PATH_INVALID'],
    ['/tile/0/x000/001', 404, 'TILE_PATH_INVALID'],
    ['/tile/0/001', 404, 'TILE_NOT_FOUND'],
    ['/tile/0/000.p/0', 404, 'TILE_PATH_INVALID'],
    ['/tile/0/001.p/5', 404, 'TILE_NOT_FOUND'],
    ['/tile/0/000', 404, 'TILE_NOT_FOUND'],
    ['/tile/0/000.p/38', 404, 'TILE_NOT_FOUND'],
    ['/tile/1/000.p/1', 404, 'TILE_NOT_FOUND'],
    ['/tile/entries/000.p/38', 404, 'TILE_NOT_FOUND'],
    ['/lookup/pcr0/abc', 400, 'MALFORMED_REQUEST'],
    ['/nope', 404, 'NOT_FOUND'],
  ];
  for (const [path, status, code] of cases) {
    const r = await fetch(l.url + path);
    const body = await r.json();
    assert.equal(r.status, status, `${path}: ${JSON.stringify(body)}`);
    assert.equal(body.code, code, path);
  }
  const ok = await fetch(`${l.url}/tile/0/000.p/37`);
  assert.equal(ok.status, 200);
  assert.equal((await ok.arrayBuffer()).byteLength, 37 * 32);
});

test('lookups by PCR0, EIF digest and commit return status and a tlog-proof; revocation flips the status', async (t) => {
  const l = await startTestLog();
  t.after(() => l.close());
  const pcr0 = 'ab'.repeat(48);
  const eif = 'cd'.repeat(32);
  const commit = 'ef'.repeat(20);
  await post(l.url, leafBundle('filler'));
  const rel = await post(l.url, leafBundle('release-1', { kind: 'release', pcr0, eif, commit }));
  assert.equal(rel.status, 200);
  for (const path of [`pcr0/${pcr0}`, `eif/${eif}`, `commit/${commit}`, `pcr0/${pcr0.toUpperCase()}`]) {
    const r = await fetch(`${l.url}/lookup/${path}`);
    assert.equal(r.status, 200, path);
    const body = await r.json();
    assert.equal(body.index, rel.json.index);
    assert.equal(body.status, 'active');
    const leaf = fromBase64(body.entry);
    const v = verifyTlogProof(body.proof, { leaf, logVerifier: noteVerifier(l.vkey), origin: ORIGIN });
    assert.equal(v.index, rel.json.index);
  }
  const missing = await fetch(`${l.url}/lookup/pcr0/${'00'.repeat(48)}`);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).code, 'NOT_FOUND');

  // A revocation must name the right PCR0 of an integrated release.
  const wrong = await post(
    l.url,
    leafBundle('revoke-wrong', { kind: 'revocation', revokes: { index: rel.json.index, pcr0: '11'.repeat(48) } }),
  );
  assert.equal(wrong.status, 422);
  assert.equal(wrong.json.code, 'REVOCATION_TARGET');
  const notRelease = await post(
    l.url,
    leafBundle('revoke-filler', { kind: 'revocation', revokes: { index: 0, pcr0 } }),
  );
  assert.equal(notRelease.json.code, 'REVOCATION_TARGET');
  const rev = await post(
    l.url,
    leafBundle('revoke-1', { kind: 'revocation', revokes: { index: rel.json.index, pcr0 } }),
  );
  assert.equal(rev.status, 200);
  const again = await post(
    l.url,
    leafBundle('revoke-2', { kind: 'revocation', revokes: { index: rel.json.index, pcr0 } }),
  );
  assert.equal(again.json.code, 'REVOCATION_TARGET');
  const after = await (await fetch(`${l.url}/lookup/pcr0/${pcr0}`)).json();
  assert.equal(after.status, 'revoked');
  assert.equal(after.revokedBy, rev.json.index);
  const entry = await (await fetch(`${l.url}/entry/${rel.json.index}`)).json();
  assert.deepEqual(entry, {
    index: rel.json.index,
    leaf: Buffer.from('release-1').toString('base64'),
    kind: 'release',
    status: 'revoked',
    revokedBy: rev.json.index,
  });
  assert.equal(l.log.storage.entryCount(), 3);
});
