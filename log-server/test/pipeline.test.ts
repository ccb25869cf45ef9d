/**
 * The sequencer's pipelined commits (src/sequencer.ts `loop`): a batch is queued on the writer
 * behind the one committing. These tests hold commits at a gate to force that, then check
 * that nothing is acknowledged before its own commit, that no smaller batch is queued behind
 * one in flight (each batch costs a signature and an fsync), that indexes stay gapless when a commit
 * fails with a batch queued behind it, that a commit the writer made but reported as failed
 * stops the sequencer (fail closed), and that revocations never ride behind an uncommitted
 * batch (checkRevocations reads committed storage only). And the writer thread's group
 * commit (src/storage/writer-worker.ts): queued commits joined in one transaction still answer
 * each one, and a failing member does not take its predecessors down with it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkInclusion, openCheckpoint } from '#verifier';
import { bytesEqual, hashLeaf, treeHash } from '#verifier/build';
import { LogError } from '../src/errors.ts';
import { createLog, DB_FILE, KEY_FILE, startLog } from '../src/log.ts';
import type { Log } from '../src/log.ts';
import { loadLogKey, readKeyFile } from '../src/keys.ts';
import type { AdmittedEntry, Integrated, LogWriter } from '../src/ports.ts';
import { openSqliteStorage } from '../src/storage/sqlite.ts';
import type { SqliteStorage } from '../src/storage/sqlite.ts';
import { SqliteWorkerWriter, syncWriter } from '../src/storage/writer.ts';
import { HashCache } from '../src/tree.ts';
import { extendTree } from '../src/sequencer.ts';
import { inclusionProof } from '../src/proofs.ts';
import { ORIGIN, rawLeafPolicy } from './helpers.ts';

type Outcome = 'ok' | 'fail' | 'fail-after-commit';
type Batch = Parameters<LogWriter['commitBatch']>[0];

/** A writer that holds every commit until the test lets it through, in the order issued. */
class GatedWriter implements LogWriter {
  private readonly base: LogWriter;
  readonly queue: Array<{ batch: Batch; resolve: () => void; reject: (e: unknown) => void }> = [];
  maxQueued = 0;
  open = false;

  constructor(private readonly storage: SqliteStorage) {
    this.base = syncWriter(storage);
  }

  commitBatch(batch: Batch): Promise<void> {
    const p = new Promise<void>((resolve, reject) => this.queue.push({ batch, resolve, reject }));
    this.maxQueued = Math.max(this.maxQueued, this.queue.length);
    if (this.open) this.release('ok');
    return p;
  }

  /** Lets the oldest held commit through with `outcome`. */
  release(outcome: Outcome): void {
    const c = this.queue.shift();
    if (!c) throw new Error('no commit is waiting');
    if (outcome === 'fail') {
      c.reject(new LogError('STORAGE_FAILED', 'disk full (test)', {}));
      return;
    }
    try {
      this.storage.commitBatch(c.batch);
    } catch (e) {
      c.reject(e);
      return;
    }
    if (outcome === 'fail-after-commit') c.reject(new LogError('STORAGE_FAILED', 'writer lost (test)', {}));
    else c.resolve();
  }

  /** Lets everything through from now on. */
  openGate(): void {
    this.open = true;
    while (this.queue.length > 0) this.release('ok');
  }

  setCosigned = (note: string, cosigned: string) => this.base.setCosigned(note, cosigned);
  setPublishedSize = (size: number) => this.base.setPublishedSize(size);
  close = () => this.base.close();
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function gatedLog(t: { after: (fn: () => unknown) => void }): Promise<{ log: Log; writer: GatedWriter }> {
  const dir = mkdtempSync(join(tmpdir(), 'kc-pipe-'));
  createLog(dir, ORIGIN);
  const storage = openSqliteStorage(join(dir, DB_FILE));
  const key = loadLogKey(readKeyFile(join(dir, KEY_FILE)), storage.vkey, storage.origin);
  const writer = new GatedWriter(storage);
  const log = await startLog(storage, key, { policy: rawLeafPolicy }, writer);
  t.after(async () => {
    writer.openGate();
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { log, writer };
}

function entry(text: string, extra: Partial<AdmittedEntry> = {}): AdmittedEntry {
  return { leaf: Buffer.from(text), kind: 'release', replayKey: Buffer.from(text).toString('hex'), ...extra };
}

function submit(log: Log, e: AdmittedEntry): Promise<Integrated> {
  return log.sequencer.submit(e, hashLeaf(e.leaf));
}

/** Settles every promise, remembering which resolved. */
async function settle<T>(ps: Array<Promise<T>>): Promise<PromiseSettledResult<T>[]> {
  return Promise.allSettled(ps);
}

/** Every acknowledgement's checkpoint verifies and proves its entry; the store's tree is whole. */
function checkAcks(log: Log, acks: Integrated[]): void {
  for (const a of acks) {
    const cp = openCheckpoint(a.checkpoint.note, log.key.verifier, log.key.origin).checkpoint;
    const proof = inclusionProof(a.index, cp.size, cp.size, log.hashes.read);
    checkInclusion(proof, a.index, cp.size, a.leafHash, cp.rootHash);
  }
  const stored = log.storage.latestCheckpoint()!;
  const cp = openCheckpoint(stored.note, log.key.verifier, log.key.origin).checkpoint;
  assert.equal(log.storage.entryCount(), cp.size);
  assert.ok(bytesEqual(treeHash(cp.size, log.hashes.read), cp.rootHash));
  for (const a of acks) {
    assert.ok(bytesEqual(log.storage.entry(a.index)!.leafHash, a.leafHash), `entry ${a.index} is the acknowledged one`);
  }
}

test('a batch is queued behind the one committing, and nothing is acknowledged before its own commit', async (t) => {
  const { log, writer } = await gatedLog(t);
  const first = [0, 1].map((i) => submit(log, entry(`a-${i}`)));
  await until('the first commit', () => writer.queue.length === 1);
  const second = [0, 1, 2].map((i) => submit(log, entry(`b-${i}`)));
  await until('a second commit queued behind the first', () => writer.queue.length === 2);
  let acked = 0;
  for (const p of [...first, ...second]) void p.then(() => acked++);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(acked, 0, 'nothing acknowledged while both commits are held');
  assert.equal(log.sequencer.current.size, 0);
  writer.release('ok');
  const a = await Promise.all(first);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(acked, 2, 'the second batch waits for its own commit');
  assert.equal(log.sequencer.current.size, 2);
  writer.release('ok');
  const b = await Promise.all(second);
  assert.deepEqual(
    [...a, ...b].map((r) => r.index),
    [0, 1, 2, 3, 4],
  );
  assert.equal(a[0]!.checkpoint.size, 2);
  assert.equal(b[0]!.checkpoint.size, 5);
  assert.equal(writer.maxQueued, 2);
  checkAcks(log, [...a, ...b]);
});

test('a failed commit refuses the batch queued behind it too, and the next entries take the same indexes', async (t) => {
  const { log, writer } = await gatedLog(t);
  const ok = await (async () => {
    const p = submit(log, entry('base'));
    await until('the base commit', () => writer.queue.length === 1);
    writer.release('ok');
    return p;
  })();
  assert.equal(ok.index, 0);
  const first = [0, 1].map((i) => submit(log, entry(`x-${i}`)));
  await until('the first commit', () => writer.queue.length === 1);
  const second = [0, 1, 2].map((i) => submit(log, entry(`y-${i}`)));
  await until('a commit queued behind it', () => writer.queue.length === 2);
  writer.release('fail');
  writer.release('ok'); // its compare-and-swap expects the failed batch's checkpoint: refused
  const r = await settle([...first, ...second]);
  for (const s of r) {
    assert.equal(s.status, 'rejected');
    assert.equal(
      (s as PromiseRejectedResult).reason.code,
      'STORAGE_FAILED',
      'the first failure is what every entry hears',
    );
  }
  assert.equal(log.storage.latestCheckpoint()!.size, 1);
  assert.equal(log.sequencer.current.size, 1);
  // not fatal: the same entries are taken again, at the next indexes, with no gap
  writer.openGate();
  const again = await Promise.all([...[0, 1].map((i) => submit(log, entry(`x-${i}`))), submit(log, entry('y-0'))]);
  assert.deepEqual(
    again.map((a) => [a.index, a.duplicate]),
    [
      [1, false],
      [2, false],
      [3, false],
    ],
  );
  checkAcks(log, [ok, ...again]);
});

test('a commit the writer made but reported failed stops the sequencer: nothing behind it is acknowledged', async (t) => {
  const { log, writer } = await gatedLog(t);
  const first = [0].map((i) => submit(log, entry(`p-${i}`)));
  await until('the first commit', () => writer.queue.length === 1);
  const second = [0].map((i) => submit(log, entry(`q-${i}`)));
  await until('a commit queued behind it', () => writer.queue.length === 2);
  writer.release('fail-after-commit');
  writer.release('ok'); // commits: the store now holds a checkpoint the sequencer never saw acknowledged
  const r = await settle([...first, ...second]);
  assert.ok(r.every((s) => s.status === 'rejected'));
  assert.equal((r[1] as PromiseRejectedResult).reason.code, 'CHECKPOINT_CONFLICT');
  await assert.rejects(submit(log, entry('later')), (e: LogError) => e.code === 'CHECKPOINT_CONFLICT');
  assert.equal(log.sequencer.current.size, 0, 'the sequencer serves what it acknowledged, nothing past it');
});

test('no smaller batch is queued behind a commit: it waits until the pool holds as many entries as the batch in flight', async (t) => {
  const { log, writer } = await gatedLog(t);
  const first = [0, 1, 2].map((i) => submit(log, entry(`s-${i}`)));
  await until('the first commit', () => writer.queue.length === 1);
  const second = [submit(log, entry('t-0')), submit(log, entry('t-1'))];
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(writer.queue.length, 1, 'two entries wait behind a batch of three');
  second.push(submit(log, entry('t-2')));
  await until('the second batch queued', () => writer.queue.length === 2);
  writer.openGate();
  assert.deepEqual(
    (await Promise.all([...first, ...second])).map((r) => [r.index, r.checkpoint.size]),
    [
      [0, 3],
      [1, 3],
      [2, 3],
      [3, 6],
      [4, 6],
      [5, 6],
    ],
  );
});

test('a revocation waits for the batch in flight: it may name an entry of that batch, and a release behind it of the revoked PCR0 is refused', async (t) => {
  const { log, writer } = await gatedLog(t);
  const pcr0 = 'a'.repeat(96);
  const release = submit(log, entry('rel-0', { pcr0 }));
  await until('the release commit', () => writer.queue.length === 1);
  // index 0 is the release's, though it is not committed yet
  const revocation = submit(log, entry('rev-0', { kind: 'revocation', revokes: { index: 0, pcr0 } }));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(writer.queue.length, 1, 'the revocation is not queued behind an uncommitted batch');
  writer.release('ok');
  assert.equal((await release).index, 0);
  await until('the revocation commit', () => writer.queue.length === 1);
  const again = submit(log, entry('rel-1', { pcr0 }));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(writer.queue.length, 1, 'nothing is queued behind a revocation in flight');
  writer.openGate();
  assert.equal((await revocation).index, 1);
  await assert.rejects(again, (e: LogError) => e.code === 'MEASUREMENT_REVOKED');
  assert.equal(log.sequencer.current.size, 2);
});

test('the writer thread joins queued commits into one transaction and answers each; a failing one is refused alone', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kc-group-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  createLog(dir, ORIGIN);
  const path = join(dir, DB_FILE);
  const storage = openSqliteStorage(path);
  const key = loadLogKey(readKeyFile(join(dir, KEY_FILE)), storage.vkey, storage.origin);
  const hashes = new HashCache(storage);
  // a new writer thread is still loading when the batches are posted: it finds them all queued
  let writer = new SqliteWorkerWriter(path);
  t.after(async () => {
    await writer.close();
    storage.close();
  });
  // three chained batches, joined; then one that does not chain
  let cp = storage.latestCheckpoint()!;
  let read = hashes.read;
  const batches: Batch[] = [];
  for (let b = 0; b < 3; b++) {
    const entries = [0, 1].map((i) => {
      const leaf = Buffer.from(`g-${b}-${i}`);
      return { index: cp.size + i, leaf, leafHash: hashLeaf(leaf), kind: 'release' as const, replayKey: `k${b}${i}` };
    });
    const t2 = extendTree(cp.size, entries, read, key);
    batches.push({ expected: cp.note, next: t2.next, entries, hashes: t2.hashes });
    cp = t2.next;
    read = t2.read;
  }
  const r = await settle(batches.map((b) => writer.commitBatch(b)));
  assert.deepEqual(
    r.map((s) => s.status),
    ['fulfilled', 'fulfilled', 'fulfilled'],
  );
  // a batch whose compare-and-swap names an older checkpoint: refused, nothing written
  const leaf = Buffer.from('stale');
  const e6 = { index: 6, leaf, leafHash: hashLeaf(leaf), kind: 'release' as const, replayKey: 'stale' };
  const t6 = extendTree(6, [e6], read, key);
  const stale = { expected: batches[0]!.next.note, next: t6.next, entries: [e6], hashes: t6.hashes };
  await assert.rejects(writer.commitBatch(stale), (e: LogError) => e.code === 'CHECKPOINT_CONFLICT');
  assert.equal(storage.latestCheckpoint()!.note, batches[2]!.next.note);
  assert.equal(storage.entryCount(), 6);
  assert.ok(
    bytesEqual(
      treeHash(6, new HashCache(storage).read),
      openCheckpoint(cp.note, key.verifier, key.origin).checkpoint.rootHash,
    ),
  );
  // a joint transaction that fails on a later member commits the earlier ones alone
  await writer.close();
  writer = new SqliteWorkerWriter(path);
  const more: Batch[] = [];
  let cp2 = storage.latestCheckpoint()!;
  let read2 = new HashCache(storage).read;
  for (let b = 0; b < 2; b++) {
    const leaf = Buffer.from(`h-${b}`);
    // the second batch reuses a revoked index that is UNIQUE in storage: its insert fails
    const e = {
      index: cp2.size,
      leaf,
      leafHash: hashLeaf(leaf),
      kind: 'revocation' as const,
      replayKey: `r${b}`,
      revokes: { index: 0, pcr0: 'f'.repeat(96) },
    };
    const t2 = extendTree(cp2.size, [e], read2, key);
    more.push({ expected: cp2.note, next: t2.next, entries: [e], hashes: t2.hashes });
    cp2 = t2.next;
    read2 = t2.read;
  }
  const r2 = await settle(more.map((b) => writer.commitBatch(b)));
  assert.deepEqual(
    r2.map((s) => s.status),
    ['fulfilled', 'rejected'],
  );
  assert.equal(storage.latestCheckpoint()!.note, more[0]!.next.note);
  assert.equal(storage.entryCount(), 7);
});
