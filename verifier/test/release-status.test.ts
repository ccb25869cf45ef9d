/**
 * The log's signed release-status statement: round trip, canonical form, signature, and the
 * gate's requirement that it speak for exactly the proven tree and say "active".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  openReleaseStatus,
  requireActiveStatus,
  noteVerifier,
  parseCheckpoint,
  isVerifierError,
  type ReleaseStatus,
  type Checkpoint,
} from '../index.ts';
import { formatReleaseStatus, parseReleaseStatus, signReleaseStatus, generateNoteKey, noteSigner } from '../build.ts';

const log = generateNoteKey('log.example/keycast');
const other = generateNoteKey('log.example/keycast');
const root = new Uint8Array(32).fill(7);
const pcr0 = 'ab'.repeat(48);
const base: ReleaseStatus = {
  origin: 'log.example/keycast',
  treeSize: 10,
  rootHash: root,
  index: 3,
  pcr0,
  status: { state: 'active' },
};
const cp: Checkpoint = { origin: 'log.example/keycast', size: 10, rootHash: root, extensions: [] };

test('a signed status round-trips through sign and open with the log key', () => {
  const note = signReleaseStatus(base, noteSigner(log.skey));
  const s = openReleaseStatus(note, noteVerifier(log.vkey), 'log.example/keycast');
  assert.deepEqual(s, base);
  const revoked = { ...base, status: { state: 'revoked' as const, revokedBy: 7 } };
  assert.deepEqual(
    openReleaseStatus(signReleaseStatus(revoked, noteSigner(log.skey)), noteVerifier(log.vkey)),
    revoked,
  );
});

test('a status signed by another key, or for another origin, is refused', () => {
  const note = signReleaseStatus(base, noteSigner(other.skey));
  assert.throws(
    () => openReleaseStatus(note, noteVerifier(log.vkey)),
    (e) => isVerifierError(e) && e.code.startsWith('NOTE_'),
  );
  const good = signReleaseStatus(base, noteSigner(log.skey));
  assert.throws(
    () => openReleaseStatus(good, noteVerifier(log.vkey), 'other.example/log'),
    (e) => isVerifierError(e, 'CHECKPOINT_ORIGIN'),
  );
});

test('non-canonical or impossible statements are STATUS_MALFORMED', () => {
  const text = formatReleaseStatus(base);
  const bad = [
    text.replace('keycast.dev/release-status/v1', 'keycast.dev/release-status/v2'),
    text.replace('\n10\n', '\n010\n'),
    text.replace('\n3\n', '\n10\n'), // index outside the tree
    text.replace(pcr0, pcr0.toUpperCase()),
    text.replace('active', 'Active'),
    text.replace('active', 'revoked 2'), // revocation before the release
    text.replace('active', 'revoked 10'), // revocation outside the tree
    text + 'extra\n',
    text.slice(0, -1),
  ];
  for (const t of bad)
    assert.throws(
      () => parseReleaseStatus(t),
      (e) => isVerifierError(e, 'STATUS_MALFORMED'),
      t,
    );
});

test('a status never parses as a checkpoint of the same log', () => {
  assert.throws(() => parseCheckpoint(formatReleaseStatus(base)));
});

test('requireActiveStatus: the proven tree, the same release, and active', () => {
  requireActiveStatus(base, cp, { index: 3, pcr0 });
  assert.throws(
    () => requireActiveStatus({ ...base, treeSize: 9 }, cp, { index: 3, pcr0 }),
    (e) => isVerifierError(e, 'STATUS_TREE_MISMATCH'),
  );
  assert.throws(
    () => requireActiveStatus({ ...base, rootHash: new Uint8Array(32) }, cp, { index: 3, pcr0 }),
    (e) => isVerifierError(e, 'STATUS_TREE_MISMATCH'),
  );
  assert.throws(
    () => requireActiveStatus(base, cp, { index: 4, pcr0 }),
    (e) => isVerifierError(e, 'STATUS_MISMATCH'),
  );
  assert.throws(
    () => requireActiveStatus(base, cp, { index: 3, pcr0: 'cd'.repeat(48) }),
    (e) => isVerifierError(e, 'STATUS_MISMATCH'),
  );
  assert.throws(
    () => requireActiveStatus({ ...base, status: { state: 'revoked', revokedBy: 5 } }, cp, { index: 3, pcr0 }),
    (e) => isVerifierError(e, 'RELEASE_REVOKED'),
  );
});
