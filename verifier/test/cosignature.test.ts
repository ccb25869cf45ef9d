/**
 * C2SP tlog-cosignature v1.0.1 (cosignature/v1): the worked example of signed-notes.json,
 * sign/verify round trips, and the k-of-n witness policy with freshness.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  cosignatureVerifier,
  checkWitnessPolicy,
  noteVerifier,
  openNote,
  openCheckpoint,
  isVerifierError,
} from '../index.ts';
import {
  cosignatureSigner,
  cosignatureVerifierKey,
  generateNoteKey,
  noteSigner,
  signNote,
  signatureLines,
  formatSignerKey,
  fromHex,
  utf8,
  keyIdHex,
} from '../build.ts';

const VEC = resolve(import.meta.dirname, '../../testdata/tlog');
const notes = JSON.parse(readFileSync(resolve(VEC, 'signed-notes.json'), 'utf8'));
const W = notes.testKeys.witness;
const cosigned: string = notes.checkpoints.size8Cosigned;
const body = cosigned.split('\n\n')[0] + '\n';

test('the worked cosignature verifies with timestamp 1700000000, and the log signature still opens', () => {
  const v = cosignatureVerifier(W.vkey);
  assert.equal(keyIdHex(v.keyId), W.keyIdHex);
  const opened = openNote(cosigned, [v]);
  assert.equal(opened.sigs.length, 1);
  assert.equal(v.timestamp, 1700000000);
  assert.equal(openCheckpoint(cosigned, noteVerifier(notes.testKeys.log.vkey)).checkpoint.size, 8);
  assert.ok(notes.cosignature.signedMessage.startsWith('cosignature/v1\ntime 1700000000\n'));
});

test('re-signing with the witness seed at the same timestamp reproduces the vector line', () => {
  const skey = formatSignerKey(W.name, 0x04, fromHex(W.seedHex));
  assert.equal(cosignatureVerifierKey(skey), W.vkey);
  const s = cosignatureSigner(skey, () => 1700000000);
  assert.equal(signatureLines(body, [s]), notes.cosignature.signatureLine + '\n');
  // a type-0x01 skey of the same seed gives the same cosigner
  const s1 = cosignatureSigner(formatSignerKey(W.name, 0x01, fromHex(W.seedHex)), () => 1700000000);
  assert.equal(signatureLines(body, [s1]), notes.cosignature.signatureLine + '\n');
});

test('a cosignature over different text, a changed timestamp, or a truncated signature does not verify', () => {
  const v = cosignatureVerifier(W.vkey);
  const sig = openNote(cosigned, [v]).sigs[0]!.sig;
  assert.equal(v.verify(utf8(body.replace('\n8\n', '\n9\n')), sig), false);
  const ts = sig.slice();
  ts[7]! ^= 1;
  assert.equal(v.verify(utf8(body), ts), false);
  assert.equal(v.verify(utf8(body), sig.subarray(0, 71)), false);
  assert.equal(v.verify(utf8(body), new Uint8Array(72).fill(0xff)), false);
  assert.throws(
    () => cosignatureVerifier(notes.testKeys.log.vkey),
    (e) => isVerifierError(e, 'KEY_MALFORMED'),
  );
});

function setup(n: number, times: number[]) {
  const log = generateNoteKey('log.example');
  const ws = Array.from({ length: n }, (_, i) => generateNoteKey(`w${i}.example`));
  const text = 'log.example\n3\n' + Buffer.alloc(32, 1).toString('base64') + '\n';
  let note = signNote(text, [noteSigner(log.skey)]);
  ws.forEach((w, i) => {
    if (times[i] !== undefined && times[i]! >= 0)
      note += signatureLines(text, [cosignatureSigner(w.skey, () => times[i]!)]);
  });
  return { note, vkeys: ws.map((w) => cosignatureVerifierKey(w.skey)), text };
}

test('witness policy: k of n fresh cosigners pass; too few, stale, or future ones fail with evidence', () => {
  const now = 1_800_000_000;
  const { note, vkeys } = setup(4, [now - 10, now - 100, now - 5000, -1]);
  const ok = checkWitnessPolicy(note, { witnesses: vkeys, threshold: 2, maxAgeSeconds: 600, now });
  assert.deepEqual(
    ok.cosigners.map((c) => c.name),
    ['w0.example', 'w1.example'],
  );
  assert.equal(checkWitnessPolicy(note, { witnesses: vkeys, threshold: 3, now }).cosigners.length, 3);
  try {
    checkWitnessPolicy(note, { witnesses: vkeys, threshold: 3, maxAgeSeconds: 600, now });
    assert.fail('accepted');
  } catch (e) {
    assert.ok(isVerifierError(e, 'WITNESS_POLICY'));
    assert.deepEqual(
      (e.evidence.stale as Array<{ name: string }>).map((s) => s.name),
      ['w2.example'],
    );
    assert.deepEqual(e.evidence.missing, ['w3.example']);
  }
  const fut = setup(1, [now + 3600]);
  assert.throws(
    () => checkWitnessPolicy(fut.note, { witnesses: fut.vkeys, threshold: 1, now }),
    (e) => isVerifierError(e, 'WITNESS_POLICY') && (e.evidence.future as unknown[]).length === 1,
  );
  assert.equal(checkWitnessPolicy(note, { witnesses: vkeys, threshold: 0, now }).cosigners.length, 3);
  assert.throws(() => checkWitnessPolicy(note, { witnesses: vkeys, threshold: 5, now }), RangeError);
});

test('witness policy: a forged cosignature from a policy witness is COSIGNATURE_INVALID; duplicates count once', () => {
  const now = 1_800_000_000;
  const { note, vkeys } = setup(2, [now, now]);
  const lines = note.split('\n');
  const forged = lines.map((l) => (l.startsWith('— w1.example ') ? l.slice(0, -6) + 'AAAAA=' : l)).join('\n');
  assert.throws(
    () => checkWitnessPolicy(forged, { witnesses: vkeys, threshold: 1, now }),
    (e) => isVerifierError(e, 'COSIGNATURE_INVALID') && e.evidence.name === 'w1.example',
  );
  const w0line = lines.find((l) => l.startsWith('— w0.example '))!;
  const dup = note + w0line + '\n' + w0line + '\n';
  assert.throws(
    () => checkWitnessPolicy(dup.replace(/— w1\.example .*\n/, ''), { witnesses: vkeys, threshold: 2, now }),
    (e) => isVerifierError(e, 'WITNESS_POLICY'),
  );
  assert.throws(
    () => checkWitnessPolicy('garbage', { witnesses: vkeys, threshold: 1, now }),
    (e) => isVerifierError(e, 'NOTE_MALFORMED'),
  );
});

test('tlog-witness add-checkpoint bodies of the vectors parse, check, and cosign to the expected line', async () => {
  const { checkCheckpointConsistency, openCheckpoint: open } = await import('../index.ts');
  const { parseAddCheckpoint, formatAddCheckpoint } = await import('../build.ts');
  const logV = noteVerifier(notes.testKeys.log.vkey);
  const [first, second] = notes.tlogWitnessAddCheckpoint;
  const a = parseAddCheckpoint(first.requestBody);
  assert.equal(a.oldSize, 0);
  assert.deepEqual(a.proof, []);
  assert.equal(open(a.checkpoint, logV).checkpoint.size, 4);
  assert.equal(formatAddCheckpoint(a), first.requestBody);
  const b = parseAddCheckpoint(second.requestBody);
  assert.equal(b.oldSize, 6);
  const older = open(notes.checkpoints.size6, logV).checkpoint;
  const newer = open(b.checkpoint, logV).checkpoint;
  checkCheckpointConsistency(b.proof, older, newer);
  const skey = formatSignerKey(W.name, 0x04, fromHex(W.seedHex));
  const text = b.checkpoint.slice(0, b.checkpoint.indexOf('\n\n') + 1);
  assert.equal(
    signatureLines(text, [cosignatureSigner(skey, () => 1700000000)]),
    second.expectedCosignatureLineIfTimestampIs1700000000 + '\n',
  );
  for (const body of [
    '',
    'old 0\n',
    'old 01\n\nx',
    'old -1\n\nx',
    'new 0\n\nx',
    'old 6\nAAAA\n\nx',
    'old 6\n!!\n\nx',
    'old 0\n\n',
    `old 0\n${'DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=\n'.repeat(64)}\nx`,
  ]) {
    assert.throws(
      () => parseAddCheckpoint(body),
      (e) => isVerifierError(e, 'MALFORMED'),
      JSON.stringify(body.slice(0, 30)),
    );
  }
});

test('a verifier key string, once imported, is still judged by its type: a note key is no cosignature key and back', () => {
  const k = generateNoteKey('typed.example');
  const cvkey = cosignatureVerifierKey(k.skey);
  for (let round = 0; round < 2; round++) {
    // The second round runs on the keys imported (and kept) by the first.
    assert.equal(noteVerifier(k.vkey).name, 'typed.example');
    assert.equal(cosignatureVerifier(cvkey).name, 'typed.example');
    assert.throws(
      () => cosignatureVerifier(k.vkey),
      (e: unknown) => isVerifierError(e) && e.code === 'KEY_MALFORMED' && /cosignature\/v1/.test(e.message),
    );
    assert.throws(
      () => noteVerifier(cvkey),
      (e: unknown) => isVerifierError(e) && e.code === 'KEY_MALFORMED' && /note verifier/.test(e.message),
    );
  }
  // Verifiers built from one kept key keep their own state: timestamps do not leak between them.
  const signer = cosignatureSigner(k.skey, () => 1_700_000_000);
  const body = utf8('typed.example\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n');
  const a = cosignatureVerifier(cvkey);
  const b = cosignatureVerifier(cvkey);
  assert.equal(a.verify(body, signer.sign(body)), true);
  assert.equal(a.timestamp, 1_700_000_000);
  assert.equal(b.timestamp, undefined);
});
