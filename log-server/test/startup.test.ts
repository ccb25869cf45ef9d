/**
 * Fail-closed startup and the checkpoint compare-and-swap: the log refuses to open when its key,
 * database and last checkpoint disagree, and a second writer can never move the checkpoint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { generateNoteKey } from '#verifier/build';
import { createLog, openLog, KEY_FILE, DB_FILE } from '../src/log.ts';
import { openSqliteStorage } from '../src/storage/sqlite.ts';
import { isLogError } from '../src/errors.ts';
import { HTTP_STATUS } from '../src/http/errors.ts';
import { ORIGIN, leafBundle, rawLeafPolicy } from './helpers.ts';
import { addEntry } from '../src/add.ts';

function freshLog(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-startup-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  createLog(dir, ORIGIN);
  return dir;
}

async function withEntries(dir: string, n: number): Promise<void> {
  const log = await openLog(dir, { policy: rawLeafPolicy });
  await Promise.all(Array.from({ length: n }, (_, i) => addEntry(log, leafBundle(`s-${i}`))));
  await log.close();
}

async function refuses(dir: string, code: string, why: string): Promise<void> {
  await assert.rejects(openLog(dir, { policy: rawLeafPolicy }), (e) => isLogError(e) && e.code === code, why);
}

test('init writes a 0600 key, refuses to overwrite, and a reopened log keeps its entries', async (t) => {
  const dir = freshLog(t);
  assert.equal(statSync(join(dir, KEY_FILE)).mode & 0o777, 0o600);
  assert.throws(
    () => createLog(dir, ORIGIN),
    (e) => isLogError(e, 'DATA_EXISTS'),
  );
  await withEntries(dir, 5);
  const log = await openLog(dir, { policy: rawLeafPolicy });
  assert.equal(log.sequencer.current.size, 5);
  assert.equal((await addEntry(log, leafBundle('s-2'))).index, 2);
  assert.equal((await addEntry(log, leafBundle('s-5'))).index, 5);
  await log.close();
});

test('a missing database or key refuses to start', async (t) => {
  const dir = freshLog(t);
  rmSync(join(dir, KEY_FILE));
  await refuses(dir, 'DATA_MISSING', 'no key');
  await refuses(join(dir, 'nothing-here'), 'DATA_MISSING', 'no database');
});

test('a key that is not the log key, or readable by others, refuses to start', async (t) => {
  const dir = freshLog(t);
  rmSync(join(dir, KEY_FILE));
  writeFileSync(join(dir, KEY_FILE), generateNoteKey(ORIGIN).skey, { mode: 0o600 });
  await refuses(dir, 'STARTUP_MISMATCH', 'other key, same name');
  rmSync(join(dir, KEY_FILE));
  writeFileSync(join(dir, KEY_FILE), generateNoteKey('other.origin/x').skey, { mode: 0o600 });
  await refuses(dir, 'STARTUP_MISMATCH', 'other name');
  chmodSync(join(dir, KEY_FILE), 0o644);
  await refuses(dir, 'KEY_INVALID', 'world-readable key');
});

test('a checkpoint, entry or hash tampered in the database refuses to start', async (t) => {
  const cases: Array<[string, string]> = [
    ["UPDATE checkpoint SET note = replace(note, '\n4\n', '\n3\n')", 'checkpoint text edited (signature breaks)'],
    ['DELETE FROM entries WHERE idx = 3', 'an acknowledged entry removed'],
    [
      'UPDATE hashes SET hash = zeroblob(32) WHERE level = 2 AND idx = 0',
      'a stored subtree hash on the right edge replaced',
    ],
    ["UPDATE entries SET leaf = X'00' WHERE idx = 3", 'the last leaf replaced'],
    ["UPDATE checkpoint SET cosigned = 'x'", 'served checkpoint unrelated to the signed one'],
  ];
  for (const [sql, why] of cases) {
    const dir = freshLog(t);
    await withEntries(dir, 4);
    const db = new Database(join(dir, DB_FILE));
    db.exec(sql);
    db.close();
    await refuses(dir, 'STARTUP_MISMATCH', why);
  }
});

test('the checkpoint only moves by compare-and-swap: a stale writer changes nothing', async (t) => {
  const dir = freshLog(t);
  await withEntries(dir, 2);
  const a = openSqliteStorage(join(dir, DB_FILE));
  const b = openSqliteStorage(join(dir, DB_FILE));
  t.after(() => {
    a.close();
    b.close();
  });
  const cp = a.latestCheckpoint()!;
  const next = { size: 2, note: cp.note, cosigned: cp.note };
  a.commitBatch({
    expected: cp.note,
    next: { ...next, note: cp.note + 'x', cosigned: cp.note + 'x' },
    entries: [],
    hashes: [],
  });
  assert.throws(
    () => b.commitBatch({ expected: cp.note, next, entries: [], hashes: [] }),
    (e) => isLogError(e, 'CHECKPOINT_CONFLICT'),
  );
  assert.throws(
    () =>
      b.commitBatch({
        expected: cp.note,
        next,
        entries: [{ index: 2, leaf: new Uint8Array([1]), leafHash: new Uint8Array(32).fill(7), kind: 'release' }],
        hashes: [],
      }),
    (e) => isLogError(e, 'CHECKPOINT_CONFLICT'),
  );
  assert.equal(b.entryCount(), 2, 'the conflicting batch wrote no entry');
});

test('pushback: a full pool refuses with PUSHBACK instead of queueing without bound', async (t) => {
  const dir = freshLog(t);
  const log = await openLog(dir, { policy: rawLeafPolicy, poolMax: 2 });
  t.after(() => log.close());
  const first = [addEntry(log, leafBundle('a')), addEntry(log, leafBundle('b'))];
  await assert.rejects(addEntry(log, leafBundle('c')), (e) => isLogError(e, 'PUSHBACK') && HTTP_STATUS[e.code] === 503);
  await Promise.all(first);
  assert.equal((await addEntry(log, leafBundle('c'))).index, 2);
});
