/**
 * C2SP tlog-checkpoint v1.0.0: the test-key checkpoints and the real sum.golang.org and
 * Rekor v2 checkpoints of testdata/tlog, and canonical-form rejections.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  parseCheckpoint,
  openCheckpoint,
  noteVerifier,
  isVerifierError,
  checkInclusion,
  checkCheckpointConsistency,
  type Checkpoint,
} from '../index.ts';
import {
  formatCheckpoint,
  fromBase64,
  toBase64,
  hashLeaf,
  proveConsistency,
  MemoryTree,
  EMPTY_ROOT,
  utf8,
} from '../build.ts';

const VEC = resolve(import.meta.dirname, '../../testdata/tlog');
const load = (n: string) => JSON.parse(readFileSync(resolve(VEC, n), 'utf8'));
const notes = load('signed-notes.json');
const real = load('real-checkpoints.json');

test('the test-key checkpoints open and parse (sizes 4, 6, 8, extension line, cosigned)', () => {
  const v = noteVerifier(notes.testKeys.log.vkey);
  const origin = notes.testKeys.log.name;
  for (const [k, size] of [
    ['size4', 4],
    ['size6', 6],
    ['size8', 8],
    ['size8Cosigned', 8],
  ] as const) {
    const { checkpoint } = openCheckpoint(notes.checkpoints[k], v, origin);
    assert.equal(checkpoint.size, size);
    assert.equal(checkpoint.origin, origin);
    assert.deepEqual(checkpoint.extensions, []);
  }
  const ext = openCheckpoint(notes.checkpoints.size8WithExtensionLine, v, origin).checkpoint;
  assert.deepEqual(ext.extensions, ['extension line one']);
  assert.equal(toBase64(ext.rootHash), 'XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=');
});

test('real sum.golang.org checkpoints verify with the pinned key', () => {
  const v = noteVerifier(real.goSumdb.verifierKey);
  assert.equal(real.goSumdb.checkpoints.length, 3);
  for (const c of real.goSumdb.checkpoints) {
    const { checkpoint } = openCheckpoint(c.note, v, 'go.sum database tree');
    assert.equal(checkpoint.size, c.treeSize);
    assert.equal(toBase64(checkpoint.rootHash), c.rootB64);
  }
});

test('real Rekor v2 checkpoints verify, and the real Rekor v2 entries are included', () => {
  const v = noteVerifier(real.rekorV2.derivedVerifierKey);
  assert.equal(real.rekorV2.checkpoints.length, 3);
  for (const c of real.rekorV2.checkpoints) {
    assert.equal(openCheckpoint(c.note, v, real.rekorV2.keyName).checkpoint.origin, 'log2025-1.rekor.sigstore.dev');
  }
  for (const e of real.rekorV2.transparencyLogEntries) {
    const { checkpoint } = openCheckpoint(e.checkpointEnvelope, v);
    const leaf = hashLeaf(fromBase64(e.canonicalizedBodyB64));
    assert.equal(toBase64(leaf), e.leafHashB64);
    checkInclusion(e.inclusionProofHashesB64.map(fromBase64), e.logIndex, checkpoint.size, leaf, checkpoint.rootHash);
  }
});

test('a wrong origin is CHECKPOINT_ORIGIN with both origins as evidence', () => {
  const v = noteVerifier(notes.testKeys.log.vkey);
  assert.throws(
    () => openCheckpoint(notes.checkpoints.size8, v, 'example.com/other'),
    (e) =>
      isVerifierError(e, 'CHECKPOINT_ORIGIN') &&
      e.evidence.expected === 'example.com/other' &&
      e.evidence.got === notes.testKeys.log.name,
  );
});

test('format/parse round trip and canonical-form rejections', () => {
  const c = {
    origin: 'example.com/log',
    size: 20852163,
    rootHash: new Uint8Array(32).fill(7),
    extensions: ['ext a', 'ext b'],
  };
  const text = formatCheckpoint(c);
  assert.equal(text, `example.com/log\n20852163\n${toBase64(c.rootHash)}\next a\next b\n`);
  assert.deepEqual(parseCheckpoint(text), c);
  const root = toBase64(c.rootHash);
  for (const bad of [
    'o\n1\n' + root,
    'o\n01\n' + root + '\n',
    'o\n+1\n' + root + '\n',
    'o\n-1\n' + root + '\n',
    'o\n1.0\n' + root + '\n',
    'o\n9007199254740992\n' + root + '\n',
    'o\n1\n' + root.slice(0, -1) + '\n',
    'o\n1\nAAAA\n',
    '\n1\n' + root + '\n',
    'o\n1\n' + root + '\n\n',
    'o\n1\n',
    'o\n1 \n' + root + '\n',
    'o\n١\n' + root + '\n',
  ]) {
    assert.throws(
      () => parseCheckpoint(bad),
      (e) => isVerifierError(e, 'CHECKPOINT_MALFORMED'),
      JSON.stringify(bad),
    );
  }
  assert.equal(parseCheckpoint(`o\n0\n${root}\n`).size, 0);
  assert.equal(parseCheckpoint(`o\n9007199254740991\n${root}\n`).size, 2 ** 53 - 1);
});

test('checkpoint consistency: extension passes; fork, rollback, other log and bad size-0 checkpoints carry both checkpoints', () => {
  const v = noteVerifier(notes.testKeys.log.vkey);
  const c4 = openCheckpoint(notes.checkpoints.size4, v).checkpoint;
  const c8 = openCheckpoint(notes.checkpoints.size8, v).checkpoint;
  const tree = new MemoryTree();
  for (const h of ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'])
    tree.append(Buffer.from(h, 'hex'));
  const proof = proveConsistency(4, 8, tree.hashReader());
  checkCheckpointConsistency(proof, c4, c8);
  checkCheckpointConsistency([], c8, c8);
  const empty: Checkpoint = { origin: c8.origin, size: 0, rootHash: EMPTY_ROOT, extensions: [] };
  checkCheckpointConsistency([], empty, c8);
  const notesEv = { older: notes.checkpoints.size4, newer: notes.checkpoints.size8 };
  const fork: Checkpoint = { ...c8, rootHash: hashLeaf(utf8('fork')) };
  assert.throws(
    () => checkCheckpointConsistency(proof, c4, fork, notesEv),
    (e) =>
      isVerifierError(e, 'INCONSISTENT') &&
      e.evidence.older === notes.checkpoints.size4 &&
      e.evidence.newer === notes.checkpoints.size8 &&
      e.evidence.oldSize === 4,
  );
  assert.throws(
    () => checkCheckpointConsistency([], c8, fork),
    (e) => isVerifierError(e, 'INCONSISTENT') && typeof e.evidence.older === 'string',
  );
  assert.throws(
    () => checkCheckpointConsistency(proof, c8, c4),
    (e) => isVerifierError(e, 'CHECKPOINT_STALE'),
  );
  assert.throws(
    () => checkCheckpointConsistency(proof, c4, { ...c8, origin: 'other' }),
    (e) => isVerifierError(e, 'CHECKPOINT_ORIGIN'),
  );
  assert.throws(
    () => checkCheckpointConsistency([], { ...empty, rootHash: c4.rootHash }, c8),
    (e) => isVerifierError(e, 'INCONSISTENT'),
  );
  assert.throws(
    () => checkCheckpointConsistency(proof, empty, c8),
    (e) => isVerifierError(e, 'PROOF_SIZE'),
  );
  assert.throws(
    () => checkCheckpointConsistency(proof.slice(1), c4, c8),
    (e) => isVerifierError(e, 'PROOF_SIZE'),
  );
});
