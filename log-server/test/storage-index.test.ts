/**
 * The SQLite storage's derived lookup indexes: lookups find entries before indexing catches
 * up (the unindexed tail is scanned) and after; indexing is idempotent; the first entry with a
 * replay key wins; a database from before the split (lookup indexes on the entries table) is
 * upgraded on open, its old indexes dropped and every entry indexed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSqliteStorage, openSqliteStorage } from '../src/storage/sqlite.ts';
import type { StoredEntry } from '../src/ports.ts';

const hex = (n: number, c: string) => c.repeat(n);
const entry = (index: number, over: Partial<StoredEntry> = {}): StoredEntry => ({
  index,
  leaf: new Uint8Array([index]),
  leafHash: new Uint8Array(32).fill(index),
  kind: 'release',
  replayKey: hex(64, (index % 16).toString(16)),
  pcr0: hex(96, 'a'),
  eifSha256: hex(63, 'e') + (index % 10),
  commit: hex(39, 'c') + (index % 10),
  ...over,
});

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'kc-idx-'));
}

test('lookups see committed entries before and after indexPending; the first replay key wins', () => {
  const dir = tmp();
  try {
    const s = createSqliteStorage(join(dir, 'log.db'), { origin: 'o', vkey: 'v' });
    s.commitBatch({
      expected: null,
      next: { size: 3, note: 'n1', cosigned: 'n1' },
      entries: [entry(0), entry(1), entry(2, { kind: 'rebuild' })],
      hashes: [],
    });
    const check = () => {
      assert.equal(s.indexOfReplayKey(hex(64, '1')), 1);
      assert.equal(s.indexOfReplayKey(hex(64, '9')), null);
      assert.equal(s.findRelease('pcr0', hex(96, 'a')), 1, 'the newest release, not the rebuild');
      assert.equal(s.findRelease('eifSha256', hex(63, 'e') + '0'), 0);
      assert.equal(s.findRelease('commit', hex(39, 'c') + '2'), null, 'rebuilds are not releases');
    };
    check(); // from the tail
    s.indexPending();
    check(); // from the index
    s.indexPending();
    check(); // idempotent
    // A second entry with replay key of entry 1 (a bug elsewhere) must not move the answer.
    s.commitBatch({
      expected: 'n1',
      next: { size: 4, note: 'n2', cosigned: 'n2' },
      entries: [entry(3, { replayKey: hex(64, '1') })],
      hashes: [],
    });
    assert.equal(s.indexOfReplayKey(hex(64, '1')), 1);
    s.indexPending();
    assert.equal(s.indexOfReplayKey(hex(64, '1')), 1);
    assert.equal(s.findRelease('pcr0', hex(96, 'a')), 3);
    s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('indexing in steps: commits between the steps are never marked indexed unless they were, and lookups stay right throughout', () => {
  const dir = tmp();
  try {
    const s = createSqliteStorage(join(dir, 'log.db'), { origin: 'o', vkey: 'v' });
    s.commitBatch({
      expected: null,
      next: { size: 2, note: 'n1', cosigned: 'n1' },
      entries: [entry(0), entry(1)],
      hashes: [],
    });
    const steps = s.indexPendingSteps();
    assert.ok(steps.length >= 2);
    const db = new Database(join(dir, 'log.db'), { readonly: true });
    const indexed = () => Number(db.prepare(`SELECT value FROM meta WHERE key = 'indexed_size'`).pluck().get());
    const all = () => {
      for (let i = 0; i < s.entryCount(); i++) {
        assert.equal(s.indexOfReplayKey(hex(64, i.toString(16))), i);
        assert.equal(s.findRelease('eifSha256', hex(63, 'e') + i), i);
      }
    };
    steps[0]!();
    // a commit lands between two steps (the writer thread runs queued commits first)
    s.commitBatch({
      expected: 'n1',
      next: { size: 4, note: 'n2', cosigned: 'n2' },
      entries: [entry(2), entry(3)],
      hashes: [],
    });
    all();
    for (const step of steps.slice(1)) {
      step();
      all();
    }
    assert.equal(indexed(), 2, 'the mark covers what was there when the round began, not the later commit');
    for (const step of s.indexPendingSteps()) step();
    assert.equal(indexed(), 4);
    all();
    assert.deepEqual(s.indexPendingSteps(), [], 'nothing left to index');
    db.close();
    s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a database from before the split is upgraded on open: old indexes dropped, every entry indexed', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'log.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec(`
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL, note TEXT NOT NULL, cosigned TEXT NOT NULL);
CREATE TABLE entries (
  idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL, leaf_hash BLOB NOT NULL UNIQUE, replay_key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
  pcr0 TEXT, eif TEXT, commit_sha TEXT, revokes INTEGER);
CREATE INDEX entries_pcr0 ON entries (pcr0) WHERE pcr0 IS NOT NULL;
CREATE INDEX entries_eif ON entries (eif) WHERE eif IS NOT NULL;
CREATE INDEX entries_commit ON entries (commit_sha) WHERE commit_sha IS NOT NULL;
CREATE UNIQUE INDEX entries_revokes ON entries (revokes) WHERE revokes IS NOT NULL;
CREATE TABLE hashes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID;
INSERT INTO meta VALUES ('origin', 'o'), ('vkey', 'v'), ('published_size', '0');
INSERT INTO checkpoint VALUES (1, 2, 'n', 'n');`);
    const ins = db.prepare('INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)');
    for (const e of [entry(0), entry(1)])
      ins.run(e.index, e.leaf, e.leafHash, e.replayKey, e.kind, e.pcr0, e.eifSha256, e.commit);
    db.close();
    const s = openSqliteStorage(path);
    assert.equal(s.indexOfReplayKey(hex(64, '0')), 0);
    assert.equal(s.findRelease('pcr0', hex(96, 'a')), 1);
    s.close();
    const raw = new Database(path, { readonly: true });
    const names = (
      raw.prepare(`SELECT name FROM sqlite_master WHERE type = 'index'`).all() as Array<{ name: string }>
    ).map((r) => r.name);
    for (const old of ['entries_pcr0', 'entries_eif', 'entries_commit']) assert.ok(!names.includes(old), old);
    assert.equal(raw.prepare(`SELECT COUNT(*) FROM replay_keys`).pluck().get(), 2);
    assert.equal(raw.prepare(`SELECT value FROM meta WHERE key = 'indexed_size'`).pluck().get(), '2');
    raw.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
