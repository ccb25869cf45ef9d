/**
 * C2SP tlog-proof@v1: the example of signed-notes.json, format/parse round trips, and
 * verification failures (wrong leaf, origin, key, quorum, freshness, tampering).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseTlogProof, verifyTlogProof, noteVerifier, isVerifierError } from '../index.ts';
import {
  formatTlogProof,
  generateNoteKey,
  fromHex,
  toBase64,
  MemoryTree,
  proveInclusion,
  formatCheckpoint,
  signNote,
  noteSigner,
  utf8,
} from '../build.ts';

const VEC = resolve(import.meta.dirname, '../../testdata/tlog');
const notes = JSON.parse(readFileSync(resolve(VEC, 'signed-notes.json'), 'utf8'));
const ex = notes.tlogProof;
const logV = noteVerifier(notes.testKeys.log.vkey);
const origin = notes.testKeys.log.name;
const policy = { witnesses: [notes.testKeys.witness.vkey], threshold: 1 };

test('the tlog-proof example verifies, with its witness cosignature', () => {
  const r = verifyTlogProof(ex.proof, {
    leaf: fromHex(ex.leafInputHex),
    logVerifier: logV,
    origin,
    witnessPolicy: policy,
    now: 1700000100,
    maxAgeSeconds: 3600,
  });
  assert.equal(r.index, 5);
  assert.equal(r.checkpoint.size, 8);
  assert.deepEqual(r.cosigners, [{ name: 'witness.example.com/w1', timestamp: 1700000000 }]);
  const p = parseTlogProof(ex.proof);
  assert.equal(formatTlogProof(p), ex.proof);
  assert.equal(p.proof.length, 3);
});

test('verification failures are coded', () => {
  const base = { logVerifier: logV, origin, now: 1700000100 };
  const leaf = fromHex(ex.leafInputHex);
  assert.throws(
    () => verifyTlogProof(ex.proof, { ...base, leaf: utf8('other') }),
    (e) => isVerifierError(e, 'ROOT_MISMATCH') && typeof e.evidence.checkpoint === 'string',
  );
  assert.throws(
    () => verifyTlogProof(ex.proof, { ...base, leaf, origin: 'example.com/other' }),
    (e) => isVerifierError(e, 'CHECKPOINT_ORIGIN'),
  );
  assert.throws(
    () => verifyTlogProof(ex.proof, { ...base, leaf, logVerifier: noteVerifier(generateNoteKey(origin).vkey) }),
    (e) => isVerifierError(e, 'NOTE_UNVERIFIED'),
  );
  assert.throws(
    () => verifyTlogProof(ex.proof, { ...base, leaf, witnessPolicy: { ...policy, maxAgeSeconds: 10 } }),
    (e) => isVerifierError(e, 'WITNESS_POLICY'),
  );
  assert.throws(
    () => verifyTlogProof(ex.proof, { ...base, leaf, witnessPolicy: policy, maxAgeSeconds: 10 }),
    (e) => isVerifierError(e, 'CHECKPOINT_STALE'),
  );
  assert.throws(
    () => verifyTlogProof(ex.proof.replace('index 5', 'index 4'), { ...base, leaf }),
    (e) => isVerifierError(e, 'ROOT_MISMATCH'),
  );
  assert.throws(
    () => verifyTlogProof(ex.proof.replace('index 5', 'index 8'), { ...base, leaf }),
    (e) => isVerifierError(e, 'PROOF_SIZE'),
  );
  const p = parseTlogProof(ex.proof);
  assert.throws(
    () => verifyTlogProof(formatTlogProof({ ...p, proof: p.proof.slice(1) }), { ...base, leaf }),
    (e) => isVerifierError(e, 'PROOF_SIZE'),
  );
  const flipped = p.proof.map((h) => h.slice());
  flipped[1]![0]! ^= 1;
  assert.throws(
    () => verifyTlogProof(formatTlogProof({ ...p, proof: flipped }), { ...base, leaf }),
    (e) => isVerifierError(e, 'ROOT_MISMATCH'),
  );
  assert.throws(
    () => verifyTlogProof(ex.proof.replace('\n8\n', '\n9\n'), { ...base, leaf }),
    (e) => isVerifierError(e, 'NOTE_BAD_SIGNATURE'),
  );
});

test('malformed proofs are TLOG_PROOF_MALFORMED (or the checkpoint codes)', () => {
  const cases = [
    '',
    'c2sp.org/tlog-proof@v2\nindex 5\n\n' + notes.checkpoints.size8,
    ex.proof.replace('index 5', 'index 05'),
    ex.proof.replace('index 5', 'index -5'),
    ex.proof.replace('index 5', 'idx 5'),
    ex.proof.replace('index 5\n', ''),
    ex.proof.replace('vBoGQ7', 'vBoG!7'),
    ex.proof.replace('vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=', 'AAAA'),
    ex.proof.replace('c2sp.org/tlog-proof@v1\n', 'c2sp.org/tlog-proof@v1\nextra !!\n'),
    ex.proof.replace('c2sp.org/tlog-proof@v1\n', 'c2sp.org/tlog-proof@v1\nextra \n'),
    ex.proof.split('\n\n')[0],
    'c2sp.org/tlog-proof@v1\nindex 5\n' +
      'vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=\n'.repeat(64) +
      '\n' +
      notes.checkpoints.size8,
    ex.proof.replace('index 5', 'index 9007199254740992'),
  ];
  for (const c of cases)
    assert.throws(
      () => parseTlogProof(c),
      (e) => isVerifierError(e, 'TLOG_PROOF_MALFORMED'),
      JSON.stringify(c.slice(0, 60)),
    );
  assert.throws(
    () => parseTlogProof('c2sp.org/tlog-proof@v1\nindex 5\n\nnot a note'),
    (e) => isVerifierError(e, 'NOTE_MALFORMED'),
  );
  assert.throws(
    () => parseTlogProof('c2sp.org/tlog-proof@v1\nindex 5\n\nhello\n\n— a AQIDBAU=\n'),
    (e) => isVerifierError(e, 'CHECKPOINT_MALFORMED'),
  );
});

test('a log-produced proof with extra data round-trips and verifies', () => {
  const log = generateNoteKey('log.keycast.test');
  const tree = new MemoryTree();
  for (let i = 0; i < 1000; i++) tree.append(utf8(`release ${i}`));
  const cp = signNote(
    formatCheckpoint({ origin: 'log.keycast.test', size: 1000, rootHash: tree.root(), extensions: [] }),
    [noteSigner(log.skey)],
  );
  const text = formatTlogProof({
    index: 777,
    extra: utf8('context'),
    proof: proveInclusion(777, 1000, tree.hashReader()),
    checkpoint: cp,
  });
  assert.ok(text.startsWith('c2sp.org/tlog-proof@v1\nextra ' + toBase64(utf8('context')) + '\nindex 777\n'));
  const r = verifyTlogProof(text, {
    leaf: utf8('release 777'),
    logVerifier: noteVerifier(log.vkey),
    origin: 'log.keycast.test',
  });
  assert.equal(r.index, 777);
  assert.deepEqual(r.extra, utf8('context'));
  assert.deepEqual(r.cosigners, []);
});
