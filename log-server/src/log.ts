/**
 * Creating and opening a log, and the Log object the HTTP app serves.
 *
 * Startup fails closed (after sunlight's LoadLog): the key must match the database's vkey and
 * origin, the last checkpoint must verify under that key, its size must equal the number of
 * stored entries, and its root must equal the tree hash of the stored hashes. Any disagreement
 * is STARTUP_MISMATCH with the evidence; the log never serves or signs from a state it cannot
 * vouch for.
 */
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { bytesEqual, formatCheckpoint, hashLeaf, openCheckpoint, signNote, treeHash, EMPTY_ROOT } from '#verifier';
import { LogError } from './errors.ts';
import type { EntryPolicy, LogStorage, LogWriter, ObjectStore, Witnesses } from './ports.ts';
import { loadLogKey, newLogKey, readKeyFile, writeKeyFile } from './keys.ts';
import type { LogKey } from './keys.ts';
import { createSqliteStorage, openSqliteStorage } from './storage/sqlite.ts';
import { SqliteWorkerWriter, syncWriter } from './storage/writer.ts';
import { HashCache } from './tree.ts';
import { TileReader } from './tiles.ts';
import { Publisher } from './publish.ts';
import { Sequencer } from './sequencer.ts';

export interface LogOptions {
  policy: EntryPolicy;
  objectStore?: ObjectStore | null;
  witnesses?: Witnesses | null;
  batchMax?: number;
  poolMax?: number;
  log?: (msg: string) => void;
}

export interface Log {
  readonly key: LogKey;
  readonly storage: LogStorage;
  readonly hashes: HashCache;
  readonly tiles: TileReader;
  readonly sequencer: Sequencer;
  readonly policy: EntryPolicy;
  close(): Promise<void>;
}

export const KEY_FILE = 'log.key';
export const DB_FILE = 'log.db';

/** `keycast log init`: a new database and key in `dir`, with a signed size-0 checkpoint. Returns the vkey. */
export function createLog(dir: string, origin: string): { vkey: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { skey, vkey } = newLogKey(origin);
  const key = loadLogKey(skey, vkey, origin);
  writeKeyFile(join(dir, KEY_FILE), skey);
  const storage = createSqliteStorage(join(dir, DB_FILE), { origin, vkey });
  try {
    const note = signNote(formatCheckpoint({ origin, size: 0, rootHash: EMPTY_ROOT, extensions: [] }), [key.signer]);
    storage.commitBatch({ expected: null, next: { size: 0, note, cosigned: note }, entries: [], hashes: [] });
  } finally {
    storage.close();
  }
  return { vkey };
}

/**
 * Opens the log in `dir` after the fail-closed checks. A `dir` that does not exist or cannot be
 * read is DATA_MISSING caused by the system error naming it (the CLI reports that as its one I/O
 * error, exit 6); a readable directory holding no log database is DATA_MISSING on its own (a log
 * refusal: nothing to serve here, run keycast log init).
 */
export async function openLog(dir: string, opts: LogOptions): Promise<Log> {
  requireReadableDir(dir);
  const storage = openSqliteStorage(join(dir, DB_FILE));
  let writer: LogWriter | null = null;
  try {
    const key = loadLogKey(readKeyFile(join(dir, KEY_FILE)), storage.vkey, storage.origin);
    writer = new SqliteWorkerWriter(join(dir, DB_FILE));
    return await startLog(storage, key, opts, writer);
  } catch (e) {
    await writer?.close();
    storage.close();
    throw e;
  }
}

function requireReadableDir(dir: string): void {
  try {
    if (!statSync(dir).isDirectory())
      throw Object.assign(new Error(`ENOTDIR: not a directory, '${dir}'`), { code: 'ENOTDIR', path: dir });
    accessSync(dir, constants.R_OK | constants.X_OK);
  } catch (e) {
    throw new LogError('DATA_MISSING', `cannot read the log data directory ${dir}`, { path: dir }, { cause: e });
  }
}

/** Starts a log on already-opened storage and key; writes go through `writer` (default: on this thread). */
export async function startLog(
  storage: LogStorage,
  key: LogKey,
  opts: LogOptions,
  writer: LogWriter = syncWriter(storage),
): Promise<Log> {
  const hashes = new HashCache(storage);
  checkState(storage, key, hashes);
  const tiles = new TileReader(storage);
  const publisher = opts.objectStore ? new Publisher(storage, tiles, opts.objectStore, writer) : null;
  const seqOpts = {
    batchMax: opts.batchMax ?? 4096,
    poolMax: opts.poolMax ?? 16384,
    ...(opts.log ? { log: opts.log } : {}),
  };
  const sequencer = new Sequencer(storage, key, hashes, seqOpts, publisher, opts.witnesses ?? null, writer);
  if (publisher && storage.publishedSize() < sequencer.current.size)
    await publisher.publishCheckpoint(sequencer.current);
  return {
    key,
    storage,
    hashes,
    tiles,
    sequencer,
    policy: opts.policy,
    async close() {
      await sequencer.close();
      await opts.policy.close?.();
      await writer.close();
      storage.close();
    },
  };
}

function checkState(storage: LogStorage, key: LogKey, hashes: HashCache): void {
  const cp = storage.latestCheckpoint();
  if (!cp) throw new LogError('STARTUP_MISMATCH', 'the database has no signed checkpoint', {});
  let opened;
  try {
    opened = openCheckpoint(cp.note, key.verifier, key.origin).checkpoint;
  } catch (e) {
    throw new LogError(
      'STARTUP_MISMATCH',
      'the stored checkpoint does not verify under the log key',
      { checkpoint: cp.note },
      { cause: e },
    );
  }
  const count = storage.entryCount();
  if (opened.size !== cp.size || count !== cp.size) {
    throw new LogError('STARTUP_MISMATCH', 'the checkpoint size disagrees with the stored entries', {
      checkpointSize: opened.size,
      recordedSize: cp.size,
      entries: count,
    });
  }
  if (!cp.cosigned.startsWith(cp.note))
    throw new LogError('STARTUP_MISMATCH', 'the served checkpoint is not the signed one', { checkpoint: cp.note });
  let root: Uint8Array;
  try {
    root = treeHash(cp.size, hashes.read);
  } catch (e) {
    throw new LogError(
      'STARTUP_MISMATCH',
      'stored hashes are missing for the checkpoint size',
      { size: cp.size },
      { cause: e },
    );
  }
  if (!bytesEqual(root, opened.rootHash)) {
    throw new LogError('STARTUP_MISMATCH', 'the stored tree does not hash to the checkpoint root', {
      size: cp.size,
      checkpointRoot: opened.rootHash,
      storedRoot: root,
    });
  }
  if (cp.size > 0) {
    const last = storage.entry(cp.size - 1)!;
    if (!bytesEqual(hashLeaf(last.leaf), hashes.read(0, cp.size - 1))) {
      throw new LogError('STARTUP_MISMATCH', 'the last stored leaf does not hash to its stored leaf hash', {
        index: cp.size - 1,
      });
    }
  }
}
