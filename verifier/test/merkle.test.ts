/**
 * RFC 6962 / RFC 9162 hashing and proofs against testdata/tlog (the 8-leaf tree and
 * the 196 transparency-dev/merkle probes), plus exhaustive checks over every tree up to 128.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkInclusion, checkConsistency, checkConsistencyToRoot, isVerifierError } from '../index.ts';
import {
  EMPTY_ROOT,
  hashLeaf,
  hashChildren,
  MemoryTree,
  treeHash,
  proveInclusion,
  proveConsistency,
  subtreeHashesForAppend,
  rangeHash,
  fromBase64,
  fromHex,
  toHex,
} from '../build.ts';

const VEC = resolve(import.meta.dirname, '../../testdata/tlog');
const load = (name: string) => JSON.parse(readFileSync(resolve(VEC, name), 'utf8'));
const b64 = (s: string) => fromBase64(s);
/** Probe byte strings are base64 but not always 32 bytes (placeholders); decode leniently. */
const raw = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

const eightLeaf = load('rfc6962-8leaf.json');
function eightTree(): MemoryTree {
  const t = new MemoryTree();
  for (const h of eightLeaf.leafInputsHex as string[]) t.append(fromHex(h));
  return t;
}

test('hashes: empty root, leaf and node hashes of the RFC 6962 8-leaf tree', () => {
  assert.equal(toHex(EMPTY_ROOT), eightLeaf.emptyRootHex);
  const leaves = (eightLeaf.leafInputsHex as string[]).map((h) => hashLeaf(fromHex(h)));
  assert.deepEqual(leaves.map(toHex), eightLeaf.leafHashesHex);
  assert.equal(toHex(hashChildren(leaves[0]!, leaves[1]!)), eightLeaf.nodeHashesHexByLevel[1][0]);
});

test('roots of sizes 0..8 match', () => {
  const t = eightTree();
  for (const r of eightLeaf.roots) assert.equal(toHex(t.root(r.treeSize)), r.rootHex, `size ${r.treeSize}`);
  assert.equal(toHex(t.root()), '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328');
});

test('every inclusion proof of the 8-leaf tree: produced identically and verifies', () => {
  const t = eightTree();
  assert.equal(eightLeaf.inclusionProofs.length, 36);
  for (const p of eightLeaf.inclusionProofs) {
    const proof = proveInclusion(p.leafIndex, p.treeSize, t.hashReader());
    assert.deepEqual(
      proof.map((h) => Buffer.from(h).toString('base64')),
      p.proofB64,
    );
    checkInclusion(proof, p.leafIndex, p.treeSize, b64(p.leafHashB64), b64(p.rootB64));
  }
});

test('every consistency proof of the 8-leaf tree: produced identically and verifies', () => {
  const t = eightTree();
  assert.equal(eightLeaf.consistencyProofs.length, 36);
  for (const p of eightLeaf.consistencyProofs) {
    const proof = proveConsistency(p.size1, p.size2, t.hashReader());
    assert.deepEqual(
      proof.map((h) => Buffer.from(h).toString('base64')),
      p.proofB64,
      `${p.size1}->${p.size2}`,
    );
    checkConsistency(proof, p.size1, p.size2, b64(p.root1B64), b64(p.root2B64));
  }
});

test('all 98 transparency-dev/merkle inclusion probes give the expected verdict', () => {
  const { probes } = load('merkle-inclusion-probes.json');
  assert.equal(probes.length, 98);
  for (const p of probes) {
    const run = () => checkInclusion((p.proof ?? []).map(raw), p.leafIdx, p.treeSize, raw(p.leafHash), raw(p.root));
    if (p.wantErr) assert.throws(run, (e) => isVerifierError(e), `${p.source}: ${p.desc}`);
    else assert.doesNotThrow(run, `${p.source}: ${p.desc}`);
  }
});

test('all 98 transparency-dev/merkle consistency probes give the expected verdict', () => {
  const { probes } = load('merkle-consistency-probes.json');
  assert.equal(probes.length, 98);
  for (const p of probes) {
    const run = () => checkConsistency((p.proof ?? []).map(raw), p.size1, p.size2, raw(p.root1), raw(p.root2));
    if (p.wantErr) assert.throws(run, (e) => isVerifierError(e), `${p.source}: ${p.desc}`);
    else assert.doesNotThrow(run, `${p.source}: ${p.desc}`);
  }
});

test('edge cases are coded: index ≥ size, size 0, sizes beyond 2^53, equal sizes', () => {
  const t = eightTree();
  const leaf = hashLeaf(new Uint8Array());
  assert.throws(
    () => checkInclusion([], 0, 0, leaf, EMPTY_ROOT),
    (e) => isVerifierError(e, 'PROOF_SIZE'),
  );
  assert.throws(
    () => checkInclusion([], 8, 8, leaf, t.root()),
    (e) => isVerifierError(e, 'PROOF_SIZE'),
  );
  assert.throws(
    () => checkInclusion([], 2 ** 53, 2 ** 53 + 2, leaf, t.root()),
    (e) => isVerifierError(e, 'PROOF_SIZE'),
  );
  assert.throws(
    () => checkConsistency([], 0, 8, EMPTY_ROOT, t.root()),
    (e) => isVerifierError(e, 'PROOF_SIZE'),
  );
  assert.throws(
    () => checkConsistency([], 0, 0, EMPTY_ROOT, EMPTY_ROOT),
    (e) => isVerifierError(e, 'PROOF_SIZE'),
  );
  checkConsistency([], 8, 8, t.root(), t.root());
  assert.throws(
    () => checkConsistency([], 7, 8, t.root(8), t.root(8)),
    (e) => isVerifierError(e, 'PROOF_SIZE'),
  );
  assert.throws(() => proveInclusion(8, 8, t.hashReader()), RangeError);
  assert.throws(() => proveConsistency(0, 8, t.hashReader()), RangeError);
  assert.deepEqual(proveConsistency(8, 8, t.hashReader()), []);
  assert.deepEqual(treeHash(0, t.hashReader()), EMPTY_ROOT);
});

test('an inconsistency carries both sizes and both roots as evidence', () => {
  const t = eightTree();
  const proof = proveConsistency(3, 8, t.hashReader());
  const badOld = t.root(4);
  try {
    checkConsistency(proof, 3, 8, badOld, t.root(8));
    assert.fail('accepted');
  } catch (e) {
    assert.ok(isVerifierError(e, 'INCONSISTENT'));
    assert.equal(e.evidence.oldSize, 3);
    assert.equal(e.evidence.newSize, 8);
    assert.deepEqual(e.evidence.oldRoot, badOld);
    assert.deepEqual(e.evidence.newRoot, t.root(8));
    assert.equal(JSON.parse(JSON.stringify(e)).evidence.oldRoot, toHex(badOld));
  }
});

test('subtreeHashesForAppend lists the leaf and each completed parent', () => {
  const t = eightTree();
  const got = subtreeHashesForAppend(7, hashLeaf(fromHex(eightLeaf.leafInputsHex[7])), eightTreeReader(7));
  assert.deepEqual(
    got.map((x) => [x.level, x.index]),
    [
      [0, 7],
      [1, 3],
      [2, 1],
      [3, 0],
    ],
  );
  assert.deepEqual(got[3]!.hash, t.root(8));
  assert.equal(subtreeHashesForAppend(4, new Uint8Array(32), t.hashReader()).length, 1);
});

function eightTreeReader(size: number) {
  const t = new MemoryTree();
  for (const h of (eightLeaf.leafInputsHex as string[]).slice(0, size)) t.append(fromHex(h));
  return t.hashReader();
}

function mutations(proof: Uint8Array[]): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  for (let i = 0; i < proof.length; i++) {
    const m = proof.map((h) => h.slice());
    const h = m[i]!;
    h[i % 32] = h[i % 32]! ^ 0x01;
    out.push(m);
  }
  return out;
}

test('exhaustive: every inclusion proof in every tree of size 1..128 verifies; every single-hash mutation is rejected', () => {
  const t = new MemoryTree();
  for (let i = 0; i < 128; i++) t.append(new TextEncoder().encode(`leaf ${i}`));
  const read = t.hashReader();
  let checked = 0;
  for (let size = 1; size <= 128; size++) {
    const root = t.root(size);
    for (let index = 0; index < size; index++) {
      const leaf = read(0, index);
      const proof = proveInclusion(index, size, read);
      checkInclusion(proof, index, size, leaf, root);
      for (const m of mutations(proof)) {
        assert.throws(
          () => checkInclusion(m, index, size, leaf, root),
          (e) => isVerifierError(e, 'ROOT_MISMATCH'),
        );
        checked++;
      }
      if (size > 1)
        assert.throws(
          () => checkInclusion(proof, (index + 1) % size, size, leaf, root),
          (e) => isVerifierError(e),
        );
    }
  }
  assert.ok(checked > 40000);
});

test('proveInclusion with a right-edge memo gives the same proofs, every index of every size 1..128, whatever the order', () => {
  const t = new MemoryTree();
  for (let i = 0; i < 128; i++) t.append(new TextEncoder().encode(`leaf ${i}`));
  const read = t.hashReader();
  let memoised = 0;
  for (let size = 1; size <= 128; size++) {
    const memo = new Map<number, Uint8Array>();
    // descending, so early proofs fill the memo that later ones read
    for (let index = size - 1; index >= 0; index--)
      assert.deepEqual(proveInclusion(index, size, read, memo), proveInclusion(index, size, read), `${index}/${size}`);
    memoised += memo.size;
    for (const [start, h] of memo) assert.deepEqual(h, rangeHash(start, size, read), `memo entry ${start}..${size}`);
  }
  assert.ok(memoised > 100);
});

test('exhaustive: every consistency proof (m, n) with 1 ≤ m ≤ n ≤ 128 verifies; every single-hash mutation is rejected', () => {
  const t = new MemoryTree();
  for (let i = 0; i < 128; i++) t.append(new TextEncoder().encode(`leaf ${i}`));
  const read = t.hashReader();
  const roots = Array.from({ length: 129 }, (_, n) => t.root(n));
  let checked = 0;
  for (let n = 1; n <= 128; n++) {
    for (let m = 1; m <= n; m++) {
      const proof = proveConsistency(m, n, read);
      checkConsistency(proof, m, n, roots[m]!, roots[n]!);
      for (const bad of mutations(proof)) {
        assert.throws(
          () => checkConsistency(bad, m, n, roots[m]!, roots[n]!),
          (e) => isVerifierError(e, 'INCONSISTENT'),
        );
        checked++;
      }
      if (m < n)
        assert.throws(
          () => checkConsistency(proof, m, n, roots[m]!, roots[n - 1]!),
          (e) => isVerifierError(e),
        );
    }
  }
  assert.ok(checked > 40000);
});

test('a consistency proof from a tree known only by its size: leads to the new root and names the old one, unless the old size is a power of two', () => {
  const t = new MemoryTree();
  for (let i = 0; i < 64; i++) t.append(new TextEncoder().encode(`leaf ${i}`));
  const read = t.hashReader();
  const roots = Array.from({ length: 65 }, (_, n) => t.root(n));
  const perfect = (m: number) => (m & (m - 1)) === 0;
  for (let n = 1; n <= 64; n++) {
    for (let m = 1; m <= n; m++) {
      const proof = proveConsistency(m, n, read);
      const old = checkConsistencyToRoot(proof, m, n, roots[n]!);
      if (m < n && perfect(m)) assert.equal(old, null, `${m} → ${n}`);
      else assert.deepEqual(old, roots[m], `${m} → ${n}`);
      if (m < n && !perfect(m)) {
        for (const bad of mutations(proof))
          assert.throws(
            () => checkConsistencyToRoot(bad, m, n, roots[n]!),
            (e) => isVerifierError(e, 'INCONSISTENT'),
          );
        assert.throws(
          () => checkConsistencyToRoot(proof, m, n, roots[n - 1]!),
          (e) => isVerifierError(e, 'INCONSISTENT'),
        );
      }
      if (m < n)
        assert.throws(
          () => checkConsistencyToRoot(proof.slice(1), m, n, roots[n]!),
          (e) => isVerifierError(e, 'PROOF_SIZE'),
        );
    }
  }
  assert.throws(
    () => checkConsistencyToRoot([], 0, 3, roots[3]!),
    (e) => isVerifierError(e, 'PROOF_SIZE'),
  );
  assert.throws(
    () => checkConsistencyToRoot([], 4, 3, roots[3]!),
    (e) => isVerifierError(e, 'PROOF_SIZE'),
  );
  assert.throws(
    () => checkConsistencyToRoot([new Uint8Array(5)], 3, 5, roots[5]!),
    (e) => isVerifierError(e, 'PROOF_INVALID'),
  );
});
