/**
 * Worker thread body for SqliteWorkerWriter: one SQLite connection (WAL, synchronous=FULL)
 * that performs the log's writes in the order received and reports each one's outcome.
 *
 * Group commit: the sequencer may queue a batch behind the one being committed (sequencer.ts
 * `loop`). Commits found queued when the thread picks up a commit are chained (each one's
 * expected checkpoint is the previous one's next) and written in ONE transaction with one
 * fsync, each answered once that transaction is durable. If the joint transaction fails, they
 * are committed one by one instead, so each gets exactly the outcome it would have had alone.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { isLogError } from '../errors.ts';
import type { LogError } from '../errors.ts';
import { openSqliteStorage } from './sqlite.ts';
import { type CommitBatch, unpackBatch, type PackedBatch } from './batch-wire.ts';

const storage = openSqliteStorage((workerData as { path: string }).path);

type Message = { id: number; op: 'commitBatch' | 'setCosigned' | 'setPublishedSize'; args: unknown[] };

/** Most commits written in one transaction. */
const GROUP_MAX = 16;

parentPort!.on('message', (m: Message) => {
  if (m.op !== 'commitBatch') {
    answer(m.id, () => run(m));
    return;
  }
  const commits: Message[] = [m];
  let after: Message | undefined;
  while (commits.length < GROUP_MAX) {
    const next = receiveMessageOnPort(parentPort!)?.message as Message | undefined;
    if (next === undefined) break;
    if (next.op === 'commitBatch') commits.push(next);
    else {
      after = next;
      break;
    }
  }
  commitAll(commits);
  if (after) {
    const a = after;
    answer(a.id, () => run(a));
  }
});

function run(m: Message): void {
  if (m.op === 'commitBatch') storage.commitBatch(unpackBatch(m.args[0] as PackedBatch));
  else if (m.op === 'setCosigned') storage.setCosigned(m.args[0] as string, m.args[1] as string);
  else storage.setPublishedSize(m.args[0] as number);
}

/** Commits `ms` (commitBatch messages, in order): jointly when they chain, else one by one. */
function commitAll(ms: Message[]): void {
  const batches = ms.map((m) => unpackBatch(m.args[0] as PackedBatch));
  const chained = batches.every((b, i) => i === 0 || b.expected === batches[i - 1]!.next.note);
  let joint = false;
  if (ms.length > 1 && chained) {
    try {
      storage.commitBatch(join(batches));
      joint = true;
    } catch {
      // committed one by one below: each gets its own outcome
    }
  }
  let entries = 0;
  ms.forEach((m, i) => {
    const ok = joint || answer(m.id, () => storage.commitBatch(batches[i]!));
    if (joint) parentPort!.postMessage({ id: m.id });
    if (ok) entries += batches[i]!.entries.length;
  });
  if (entries > 0) afterCommit(entries);
}

/** Chained batches as one: every entry and hash, from the first's expected checkpoint to the last's next. */
function join(bs: CommitBatch[]): CommitBatch {
  return {
    expected: bs[0]!.expected,
    next: bs.at(-1)!.next,
    entries: bs.flatMap((b) => b.entries),
    hashes: bs.flatMap((b) => b.hashes),
  };
}

/** Runs `fn` and posts its outcome for request `id`; returns whether it succeeded. */
function answer(id: number, fn: () => void): boolean {
  try {
    fn();
    parentPort!.postMessage({ id });
    return true;
  } catch (e) {
    const error = isLogError(e)
      ? { log: true, code: e.code, message: e.message, evidence: (e as LogError).toJSON().evidence }
      : { log: false, code: 'STORAGE_FAILED', message: (e as Error).message, evidence: {} };
    parentPort!.postMessage({ id, error });
    return false;
  }
}

// The lookup indexes are derived data, kept off the acknowledged path: they are folded in once
// INDEX_EVERY entries have piled up, or when commits pause for INDEX_IDLE_MS, so a busy log
// pays one indexing round per many batches. Bigger rounds share B-tree pages between more
// keys (measured at 30k entries: ~90 µs per entry in rounds of 512, ~33 in rounds of 2048),
// while lookups, which also scan the unindexed tail, stay under ~0.2 ms at 2048. A round runs
// as a few short transactions (SqliteStorage.indexPendingSteps), one per turn of this thread's
// event loop, so commits queued meanwhile go first instead of waiting out the whole round.
// A failure here loses nothing; the next round retries.
//
// The WAL is checkpointed after each round, here, rather than inside whichever commit crosses
// SQLite's automatic threshold (an acknowledged commit would wait for the copy and its fsyncs;
// an indexing round writes many pages). The automatic checkpoint stays as a backstop at a
// higher mark. Durability is the WAL's fsync at each commit (synchronous=FULL) either way.
const INDEX_EVERY = 2048;
const INDEX_IDLE_MS = 20;
const WAL_BACKSTOP_PAGES = 16384;
storage.walAutocheckpoint(WAL_BACKSTOP_PAGES);
let unindexed = 0;
let idle: NodeJS.Timeout | undefined;
let indexing = false;

function index(): void {
  clearTimeout(idle);
  idle = undefined;
  if (indexing) return;
  let steps: Array<() => void>;
  try {
    steps = storage.indexPendingSteps();
  } catch (e) {
    process.emitWarning(`log: lookup indexing failed, will retry: ${(e as Error).message}`);
    return;
  }
  indexing = true;
  unindexed = 0;
  const next = (i: number): void => {
    if (i === steps.length) {
      indexing = false;
      try {
        storage.checkpointWal();
      } catch (e) {
        process.emitWarning(`log: WAL checkpoint failed, will retry: ${(e as Error).message}`);
      }
      if (unindexed > 0) afterCommit(0); // what was committed during the round
      return;
    }
    try {
      steps[i]!();
    } catch (e) {
      indexing = false;
      process.emitWarning(`log: lookup indexing failed, will retry: ${(e as Error).message}`);
      return;
    }
    setImmediate(() => next(i + 1));
  };
  setImmediate(() => next(0));
}

function afterCommit(entries: number): void {
  unindexed += entries;
  if (unindexed >= INDEX_EVERY) {
    index();
    return;
  }
  clearTimeout(idle);
  idle = setTimeout(index, INDEX_IDLE_MS);
  idle.unref();
}
