/**
 * C2SP signed-note v1.0.0 against testdata/tlog/signed-notes.json (key IDs, the
 * accept/reject cases, the spec and x/mod examples) and attacker-side malformed input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { noteVerifier, openNote, parseVerifierKey, isVerifierError } from '../index.ts';
import {
  generateNoteKey,
  noteSigner,
  signNote,
  splitNote,
  verifierKeyId,
  keyIdHex,
  parseSignerKey,
  formatSignerKey,
  fromHex,
  toHex,
  MAX_SIGNATURES,
  formatSignatureLine,
  utf8,
} from '../build.ts';

const VEC = resolve(import.meta.dirname, '../../testdata/tlog');
const notes = JSON.parse(readFileSync(resolve(VEC, 'signed-notes.json'), 'utf8'));
const logKey = notes.testKeys.log;

test('key IDs of types 0x01 and 0x04 match the vectors, and every vkey parses with its ID', () => {
  for (const k of notes.keyIds) {
    const type = k.signatureType.startsWith('0x04') ? 0x04 : 0x01;
    assert.equal(keyIdHex(verifierKeyId(k.name, type, fromHex(k.publicKeyHex))), k.keyIdHex, k.name);
    const v = parseVerifierKey(k.vkey);
    assert.equal(v.name, k.name);
    assert.equal(keyIdHex(v.keyId), k.keyIdHex);
    assert.equal(toHex(v.publicKey), k.publicKeyHex);
  }
});

test('vkeys whose base64 contains + split only at the first two +', () => {
  const v = noteVerifier('sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8');
  assert.equal(v.name, 'sum.golang.org');
  assert.equal(v.keyId, 0x033de0ae);
  assert.equal(parseVerifierKey(notes.testKeys.witness.vkey).type, 0x04);
});

test('every signed-note accept/reject case gives the expected verdict', () => {
  assert.ok(notes.noteCases.length >= 10);
  for (const c of notes.noteCases) {
    const verifiers = c.verifierKeys.map(noteVerifier);
    if (c.wantValid) {
      const n = openNote(c.note, verifiers);
      assert.ok(n.sigs.length >= 1, c.desc);
      assert.ok(c.note.startsWith(n.text), c.desc);
      const bytes = openNote(utf8(c.note), verifiers);
      assert.equal(bytes.text, n.text);
    } else {
      assert.throws(
        () => openNote(c.note, verifiers),
        (e) => isVerifierError(e) && e.code.startsWith('NOTE_'),
        c.desc,
      );
    }
  }
});

test('reject cases carry the right codes', () => {
  const v = noteVerifier(logKey.vkey);
  const byDesc = (p: string) => notes.noteCases.find((c: { desc: string }) => c.desc.startsWith(p)).note;
  assert.throws(
    () => openNote(byDesc('text tampered'), [v]),
    (e) => isVerifierError(e, 'NOTE_BAD_SIGNATURE') && e.evidence.name === logKey.name,
  );
  assert.throws(
    () => openNote(byDesc('signed only by an unknown key'), [v]),
    (e) => isVerifierError(e, 'NOTE_UNVERIFIED'),
  );
  assert.throws(
    () => openNote(byDesc('known name+keyID but corrupted'), [v]),
    (e) => isVerifierError(e, 'NOTE_BAD_SIGNATURE'),
  );
  assert.throws(
    () => openNote(byDesc('missing blank line'), [v]),
    (e) => isVerifierError(e, 'NOTE_MALFORMED'),
  );
});

test('the published test skey re-signs the log checkpoint byte for byte (Ed25519 is deterministic)', () => {
  const s = noteSigner(logKey.skey);
  assert.equal(keyIdHex(s.keyId), logKey.keyIdHex);
  const text = notes.checkpoints.size8.split('\n\n')[0] + '\n';
  assert.equal(signNote(text, [s]), notes.checkpoints.size8);
  assert.equal(formatSignerKey(logKey.name, 0x01, fromHex(logKey.seedHex)), logKey.skey);
});

test('generateNoteKey round-trips: sign then open; another key is unknown; skey never leaks in errors', () => {
  const a = generateNoteKey('example.org/a');
  const b = generateNoteKey('example.org/b');
  assert.match(a.skey, /^PRIVATE\+KEY\+example\.org\/a\+[0-9a-f]{8}\+/);
  const note = signNote('hello\nworld\n', [noteSigner(a.skey), noteSigner(b.skey)]);
  const opened = openNote(note, [noteVerifier(a.vkey)]);
  assert.equal(opened.text, 'hello\nworld\n');
  assert.deepEqual(
    opened.unverified.map((u) => u.name),
    ['example.org/b'],
  );
  const broken = a.skey.slice(0, -6) + 'AAAAA=';
  try {
    parseSignerKey(broken);
    assert.fail('accepted');
  } catch (e) {
    assert.ok(isVerifierError(e, 'KEY_MALFORMED'));
    assert.ok(!JSON.stringify(e.toJSON()).includes(broken.split('+')[4]!.slice(0, 20)));
    assert.ok(!e.message.includes('PRIVATE'));
  }
});

test('at least 16 signatures are accepted, more than MAX_SIGNATURES refused', () => {
  const keys = Array.from({ length: 16 }, (_, i) => generateNoteKey(`w${i}.example`));
  const note = signNote(
    'text\n',
    keys.map((k) => noteSigner(k.skey)),
  );
  assert.equal(
    openNote(
      note,
      keys.map((k) => noteVerifier(k.vkey)),
    ).sigs.length,
    16,
  );
  const filler = Array.from(
    { length: MAX_SIGNATURES },
    (_, i) => formatSignatureLine(`x${i}`, i, new Uint8Array(64)) + '\n',
  ).join('');
  assert.throws(
    () => openNote(note + filler, [noteVerifier(keys[0]!.vkey)]),
    (e) => isVerifierError(e, 'NOTE_MALFORMED'),
  );
});

test('duplicate signatures are dropped; unknown duplicates are listed once', () => {
  const k = generateNoteKey('dup.example');
  const note = signNote('t\n', [noteSigner(k.skey)]);
  const sigLine = note.slice(3);
  const opened = openNote(note + sigLine + '— other.example AQIDBAU=\n— other.example AQIDBAU=\n', [
    noteVerifier(k.vkey),
  ]);
  assert.equal(opened.sigs.length, 1);
  assert.equal(opened.unverified.length, 1);
});

test('malformed notes from the attacker side: coded errors only', () => {
  const k = generateNoteKey('m.example');
  const v = noteVerifier(k.vkey);
  const good = signNote('a\nb\n', [noteSigner(k.skey)]);
  const cases: Array<string | Uint8Array> = [
    '',
    '\n\n',
    'a\n\n',
    good.replace('\u2014', '-'),
    good.replace('a\nb', 'a\tb'),
    good.slice(0, -1),
    good.replace(/ [A-Za-z0-9+/=]+\n$/, ' !!!\n'),
    good.replace(/ [A-Za-z0-9+/=]+\n$/, ' AQID\n'),
    good.replace(/ [A-Za-z0-9+/=]+\n$/, '\n'),
    good + 'trailing',
    good.replace('a\nb', 'a\u0000b'),
    Uint8Array.from([0x61, 0x0a, 0x0a, 0xff, 0x0a]),
    'x'.repeat(2_000_000),
    good.replace('m.example', 'm example'),
    good.replace('a\nb', 'a\ud800b'),
  ];
  for (const c of cases) {
    assert.throws(
      () => openNote(c, [v]),
      (e) => isVerifierError(e),
      JSON.stringify(String(c).slice(0, 40)),
    );
  }
  assert.throws(
    () => signNote('no newline', [noteSigner(k.skey)]),
    (e) => isVerifierError(e, 'NOTE_MALFORMED'),
  );
  assert.throws(
    () => signNote('ctl\x01\n', [noteSigner(k.skey)]),
    (e) => isVerifierError(e, 'NOTE_MALFORMED'),
  );
  assert.equal(splitNote(good).signatures.length, 1);
});

test('malformed keys: coded KEY_MALFORMED', () => {
  for (const vkey of [
    '',
    'name',
    'name+0000000',
    'name+zzzzzzzz+AQ==',
    'na me+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k',
    'example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k',
    'example.com/foo+530d903a+',
    'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2',
  ]) {
    assert.throws(
      () => noteVerifier(vkey),
      (e) => isVerifierError(e, 'KEY_MALFORMED'),
      vkey,
    );
  }
  assert.throws(
    () => noteVerifier(notes.testKeys.witness.vkey),
    (e) => isVerifierError(e, 'KEY_MALFORMED'),
  );
  for (const skey of ['', 'PRIVATE+KEY+', 'PRIVATE+KEY+n+00000000+AQ==', 'PRIVATE+KEY+n+00000000']) {
    assert.throws(
      () => noteSigner(skey),
      (e) => isVerifierError(e, 'KEY_MALFORMED'),
    );
  }
});
