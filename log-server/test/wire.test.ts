/**
 * Small pieces of the log's hot paths: a commit batch packed for the writer thread unpacks
 * to the same batch (every field, optional ones absent or present); proof hashes encode to
 * the same base64 as one at a time (and are remembered); a right-edge memo belongs to one size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { packBatch, unpackBatch, type CommitBatch } from '../src/storage/batch-wire.ts';
import { HashCache } from '../src/tree.ts';
import { inclusionProof } from '../src/proofs.ts';
import { MemoryTree, proveInclusion } from '#verifier/build';
import type { LogStorage } from '../src/ports.ts';

test('packBatch → unpackBatch gives back the batch, with one transferable buffer', () => {
  const batch: CommitBatch = {
    expected: 'old note\n',
    next: { size: 3, note: 'new\n', cosigned: 'new\n— w x\n' },
    entries: [
      {
        index: 0,
        leaf: randomBytes(1500),
        leafHash: randomBytes(32),
        kind: 'release',
        replayKey: 'aa'.repeat(32),
        pcr0: 'b'.repeat(96),
        eifSha256: 'c'.repeat(64),
        commit: 'd'.repeat(40),
      },
      { index: 1, leaf: randomBytes(0), leafHash: randomBytes(32), kind: 'rebuild' },
      {
        index: 2,
        leaf: randomBytes(700),
        leafHash: randomBytes(32),
        kind: 'revocation',
        replayKey: 'ee'.repeat(32),
        pcr0: 'f'.repeat(96),
        revokes: { index: 0, pcr0: 'f'.repeat(96) },
      },
    ].map((e) => ({
      ...e,
      leaf: new Uint8Array(e.leaf),
      leafHash: new Uint8Array(e.leafHash),
    })) as CommitBatch['entries'],
    hashes: [
      { level: 0, index: 2, hash: new Uint8Array(randomBytes(32)) },
      { level: 1, index: 0, hash: new Uint8Array(randomBytes(32)) },
    ],
  };
  const packed = packBatch(batch);
  assert.ok(packed.bytes instanceof ArrayBuffer);
  const back = unpackBatch(structuredClone(packed, { transfer: [packed.bytes] }));
  assert.equal(packed.bytes.byteLength, 0, 'the buffer was transferred');
  assert.deepEqual(back.expected, batch.expected);
  assert.deepEqual(back.next, batch.next);
  assert.equal(back.entries.length, 3);
  back.entries.forEach((e, i) => {
    const want = batch.entries[i]!;
    assert.deepEqual(
      { ...e, leaf: [...e.leaf], leafHash: [...e.leafHash] },
      { ...want, leaf: [...want.leaf], leafHash: [...want.leafHash] },
    );
  });
  assert.deepEqual(
    back.hashes.map((h) => ({ ...h, hash: [...h.hash] })),
    batch.hashes.map((h) => ({ ...h, hash: [...h.hash] })),
  );
  assert.throws(
    () => packBatch({ ...batch, entries: [{ ...batch.entries[0]!, leafHash: new Uint8Array(31) }] }),
    RangeError,
  );
});

test('HashCache.base64 equals per-hash base64 and remembers each hash object', () => {
  const cache = new HashCache({} as LogStorage);
  const hs = Array.from({ length: 17 }, () => new Uint8Array(randomBytes(32)));
  const want = hs.map((h) => Buffer.from(h).toString('base64'));
  assert.deepEqual(cache.base64(hs), want);
  assert.deepEqual(cache.base64(hs), want, 'from the memo');
  const view = new Uint8Array(randomBytes(64)).subarray(16, 48);
  assert.equal(cache.base64([view])[0], Buffer.from(view).toString('base64'), 'a view encodes only its own bytes');
  assert.deepEqual(cache.base64([]), []);
});

test('a proof memo is per size: asking for another size starts a new one', () => {
  const cache = new HashCache({} as LogStorage);
  const a = cache.proofMemo(10);
  a.edge.set(8, new Uint8Array(32));
  assert.equal(cache.proofMemo(10), a);
  const b = cache.proofMemo(11);
  assert.notEqual(b, a);
  assert.equal(b.edge.size + b.upper.size, 0);
});

test('inclusionProof with a memo equals proveInclusion for every index of sizes around 256-leaf blocks, in any order', () => {
  const t = new MemoryTree();
  for (let i = 0; i < 1300; i++) t.append(new TextEncoder().encode(`leaf ${i}`));
  const read = t.hashReader();
  for (const size of [1, 255, 256, 257, 511, 512, 513, 768, 1000, 1024, 1025, 1300]) {
    const cache = new HashCache({} as LogStorage);
    const order = Array.from({ length: size }, (_, i) => (i * 7919) % size); // scattered, so memo entries are reused across blocks
    for (const index of order) {
      assert.deepEqual(
        inclusionProof(index, size, size, read, cache.proofMemo(size)),
        proveInclusion(index, size, read),
        `${index}/${size}`,
      );
    }
    if (size > 512) assert.ok(cache.proofMemo(size).upper.size > 0, 'full blocks were memoised');
  }
  // a memo for another size is ignored, not misused
  const other = new HashCache({} as LogStorage).proofMemo(999);
  assert.deepEqual(inclusionProof(300, 1000, 1000, read, other), proveInclusion(300, 1000, read));
});
