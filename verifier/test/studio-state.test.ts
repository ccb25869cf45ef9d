/**
 * The studio's memory and counting, without a network: the checkpoint store (atomic files under
 * the state directory, nothing half-written), the memory check over a LogClient whose fetch is an
 * in-memory log (a fork is LOG_INCONSISTENT with both notes and nothing is saved; a smaller tree
 * is CHECKPOINT_STALE), and the rebuild endorsements a release needs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LogClient,
  decodeLeaf,
  endorsementsOf,
  isVerifierError,
  parseBundle,
  parseTrustedKey,
  requireEndorsements,
} from '../index.ts';
import {
  MemoryTree,
  encodeLeaf,
  formatCheckpoint,
  generateNoteKey,
  noteSigner,
  proveConsistency,
  signNote,
  toBase64,
  utf8,
} from '../build.ts';
import { FileCheckpointStore, MemoryCheckpointStore, defaultStateDir } from '../cli/state.ts';
import { currentCheckpoint } from '../cli/memory.ts';
import { makeBundle, newKey, rebuildStatement, releasePredicate, releaseStatement } from './release-fixtures.ts';

const ORIGIN = 'log.keycast.test/memory';
const key = generateNoteKey(ORIGIN);

test('FileCheckpointStore: nothing → null; save is atomic (no temp file left) and per log key; default dir from XDG', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-state-'));
  const store = new FileCheckpointStore(dir);
  assert.equal(store.load(key.vkey), null);
  store.save(key.vkey, 'one\n');
  store.save(key.vkey, 'two\n');
  assert.equal(store.load(key.vkey), 'two\n');
  const other = generateNoteKey(ORIGIN);
  assert.equal(store.load(other.vkey), null, 'same origin, another key: another log');
  const files = readdirSync(join(dir, 'checkpoints'));
  assert.deepEqual(files.length, 1);
  assert.match(files[0]!, /^log\.keycast\.test_memory\.[0-9a-f]{16}$/);
  assert.equal(readFileSync(join(dir, 'checkpoints', files[0]!), 'utf8'), 'two\n');
  assert.equal(defaultStateDir({ XDG_STATE_HOME: '/x/state' }), '/x/state/keycast');
  assert.match(defaultStateDir({ XDG_STATE_HOME: 'relative' }), /\.local\/state\/keycast$/);
});

/** An in-memory log serving checkpoint and consistency proofs, as the LogClient reads them. */
function memoryLog(leaves: string[]): { tree: MemoryTree; note: () => string; fetch: typeof fetch } {
  const tree = new MemoryTree();
  for (const l of leaves) tree.append(utf8(l));
  const note = () =>
    signNote(formatCheckpoint({ origin: ORIGIN, size: tree.size, rootHash: tree.root(), extensions: [] }), [
      noteSigner(key.skey),
    ]);
  const f = (async (input: string | URL) => {
    const u = new URL(String(input));
    if (u.pathname === '/checkpoint')
      return new Response(note(), { headers: { 'content-type': 'text/plain; charset=utf-8' } });
    if (u.pathname === '/proof/consistency') {
      const o = Number(u.searchParams.get('old'));
      const n = Number(u.searchParams.get('new'));
      return Response.json({ old: o, new: n, hashes: proveConsistency(o, n, tree.hashReader()).map(toBase64) });
    }
    return new Response('{}', { status: 404, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return { tree, note, fetch: f };
}

const client = (f: typeof fetch) =>
  new LogClient({ url: 'http://127.0.0.1:1/', fetch: f, logKey: key.vkey, retries: 0 });

test('currentCheckpoint: remembers, demands consistency, refuses a fork or a rollback without saving', async () => {
  const store = new MemoryCheckpointStore();
  const honest = memoryLog(['a', 'b']);
  const first = await currentCheckpoint(client(honest.fetch), store, key.vkey);
  assert.equal(first.previous, null);
  assert.equal(store.load(key.vkey), honest.note());
  honest.tree.append(utf8('c'));
  const second = await currentCheckpoint(client(honest.fetch), store, key.vkey);
  assert.equal(second.previous?.size, 2);
  assert.equal(store.load(key.vkey), honest.note());
  const saved = store.load(key.vkey)!;

  const fork = memoryLog(['a', 'x', 'c', 'd']);
  await assert.rejects(
    currentCheckpoint(client(fork.fetch), store, key.vkey),
    (e: unknown) =>
      isVerifierError(e, 'LOG_INCONSISTENT') && e.evidence.older === saved && e.evidence.newer === fork.note(),
  );
  const sameSize = memoryLog(['a', 'x', 'c']);
  await assert.rejects(currentCheckpoint(client(sameSize.fetch), store, key.vkey), (e: unknown) =>
    isVerifierError(e, 'LOG_INCONSISTENT'),
  );
  const behind = memoryLog(['a']);
  await assert.rejects(
    currentCheckpoint(client(behind.fetch), store, key.vkey),
    (e: unknown) => isVerifierError(e, 'CHECKPOINT_STALE') && e.evidence.newer === saved,
  );
  assert.equal(store.load(key.vkey), saved, 'nothing unverified saved');
});

test('endorsementsOf / requireEndorsements: distinct pinned rebuilders with the same PCRs naming this release', () => {
  const publisher = newKey();
  const [r1, r2, stranger] = [newKey(), newKey(), newKey()];
  const leaf = (statement: Record<string, unknown>, k: typeof publisher) =>
    decodeLeaf(encodeLeaf(parseBundle(makeBundle(statement, k)), parseTrustedKey(k.pem)));
  const release = { index: 0, entry: leaf(releaseStatement(), publisher) };
  const otherPcrs = {
    ...rebuildStatement(),
    predicate: {
      ...releasePredicate({ measurements: { pcr0: '0'.repeat(96), pcr1: '9'.repeat(96), pcr2: '2'.repeat(96) } }),
      release: { logIndex: 0 },
    },
  };
  const otherRelease = { ...rebuildStatement(), predicate: { ...releasePredicate(), release: { logIndex: 7 } } };
  const entries = [
    { index: 1, entry: leaf(rebuildStatement(), r1) },
    { index: 2, entry: leaf({ ...rebuildStatement(), predicate: { ...releasePredicate() } }, r1) }, // same key again
    { index: 3, entry: leaf(rebuildStatement(), stranger) }, // not pinned
    { index: 4, entry: leaf(otherPcrs, r2) }, // PCR1 differs
    { index: 5, entry: leaf(otherRelease, r2) }, // names another release
  ];
  const pinned = [parseTrustedKey(r1.pem), parseTrustedKey(r2.pem)];
  assert.deepEqual(endorsementsOf(release, entries, pinned), [{ index: 1, rebuilder: pinned[0]!.spkiSha256 }]);
  assert.equal(requireEndorsements(release, entries, pinned, 1).length, 1);
  assert.throws(
    () => requireEndorsements(release, entries, pinned, 2),
    (e: unknown) => isVerifierError(e, 'REBUILDS_MISSING') && e.evidence.found === 1,
  );
  const good = [
    ...entries,
    { index: 6, entry: leaf({ ...rebuildStatement(), predicate: { ...releasePredicate() } }, r2) },
  ];
  assert.equal(requireEndorsements(release, good, pinned, 2).length, 2);
});
