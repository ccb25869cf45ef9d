/**
 * Creating and opening a log, and the Log object the HTTP app serves.
 *
 * Startup fails closed (after sunlight's LoadLog): the key must match the database's vkey and
 * origin, the last checkpoint must verify under that key, its size must equal the number of
 * stored entries, and its root must equal the tree hash of the stored hashes. Any disagreement
 * is STARTUP_MISMATCH with the evidence; the log never serves or signs from a state it cannot
 * vouch for.
 */
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesEqual, formatCheckpoint, hashLeaf, openCheckpoint, signNote, treeHash, EMPTY_ROOT } from '#verifier';
import { LogError } from './errors.ts';
import type { EntryPolicy, LogSequencer, LogStorage, LogWriter, ObjectStore, Witnesses } from './ports.ts';
import { loadLogKey, newLogKey, readKeyFile, writeKeyFile } from './keys.ts';
import type { LogKey } from './keys.ts';
import { createSqliteStorage, openSqliteStorage } from './storage/sqlite.ts';
import { SqliteWorkerWriter, syncWriter } from './storage/writer.ts';
import { HashCache } from './tree.ts';
import { TileReader } from './tiles.ts';
import { Publisher } from './publish.ts';
import { Sequencer } from './sequencer.ts';
import type { DeliveryConfig } from './deliveries.ts';
import { FileManifestStore, MemoryManifestStore, PgManifestStore, type ManifestStore } from './storage/manifests.ts';

export interface LogOptions {
  policy: EntryPolicy;
  objectStore?: ObjectStore | null;
  witnesses?: Witnesses | null;
  batchMax?: number;
  poolMax?: number;
  log?: (msg: string) => void;
  /** DER roots enclave identity attestations must chain to (default: the AWS Nitro root). */
  trustRoots?: readonly Uint8Array[];
  /** Where sealed delivery manifests go (default: DATA/manifests, the PostgreSQL table, or memory for startLog). */
  manifests?: ManifestStore;
}

export interface Log {
  readonly key: LogKey;
  readonly storage: LogStorage;
  readonly hashes: HashCache;
  readonly tiles: TileReader;
  readonly sequencer: LogSequencer;
  readonly policy: EntryPolicy;
  /** Identity and delivery admission (deliveries.ts): the trust root and the manifest store. */
  readonly deliveries: DeliveryConfig;
  close(): Promise<void>;
}

function deliveryConfig(opts: LogOptions, manifests: ManifestStore): DeliveryConfig {
  return { manifests: opts.manifests ?? manifests, ...(opts.trustRoots ? { trustRoots: opts.trustRoots } : {}) };
}

export const KEY_FILE = 'log.key';
export const DB_FILE = 'log.db';
/** Sealed delivery manifests of a SQLite log (storage/manifests.ts). */
export const MANIFEST_DIR = 'manifests';

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
    return await startLog(
      storage,
      key,
      { ...opts, manifests: opts.manifests ?? new FileManifestStore(join(dir, MANIFEST_DIR)) },
      writer,
    );
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
    deliveries: deliveryConfig(opts, new MemoryManifestStore()),
    async close() {
      await sequencer.close();
      await opts.policy.close?.();
      await writer.close();
      storage.close();
    },
  };
}

/**
 * `keycast log init --store postgres://…`: a new log in that (empty) PostgreSQL database, its
 * key written to `keyOut` (mode 0600, never overwritten), and the signed size-0 checkpoint.
 * Returns the vkey. The key file is removed again if the database refuses.
 */
export async function createPgLog(url: string, origin: string, keyOut: string): Promise<{ vkey: string }> {
  const { PgLogStore } = await import('./storage/postgres.ts');
  const { skey, vkey } = newLogKey(origin);
  const key = loadLogKey(skey, vkey, origin);
  writeKeyFile(keyOut, skey);
  try {
    const note = signNote(formatCheckpoint({ origin, size: 0, rootHash: EMPTY_ROOT, extensions: [] }), [key.signer]);
    const store = await PgLogStore.create(
      url,
      { origin, vkey },
      { checkpoint: { size: 0, note, cosigned: note }, root: EMPTY_ROOT },
    );
    await store.close();
  } catch (e) {
    unlinkSync(keyOut);
    throw e;
  }
  return { vkey };
}

/**
 * Opens the log in a PostgreSQL database as one of any number of servers on it
 * (storage/pg-sequencer.ts). Fails closed like openLog: the key must match the database's
 * vkey and origin, every recorded checkpoint must verify and agree with the stored entries and
 * tiles, and the object store's checkpoint must not be ahead of the database.
 */
export async function openPgLog(url: string, keyFile: string, opts: LogOptions & { pollMs?: number }): Promise<Log> {
  const { PgLogStore } = await import('./storage/postgres.ts');
  const { PgSequencer } = await import('./storage/pg-sequencer.ts');
  const store = await PgLogStore.open(url);
  const tmp = mkdtempSync(join(tmpdir(), 'keycast-log-model-'));
  let storage: LogStorage | null = null;
  let sequencer: LogSequencer | null = null;
  try {
    const key = loadLogKey(readKeyFile(keyFile), store.vkey, store.origin);
    storage = createSqliteStorage(
      join(tmp, 'model.db'),
      { origin: store.origin, vkey: store.vkey },
      { durable: false },
    );
    const hashes = new HashCache(storage);
    sequencer = await PgSequencer.start(store, storage, key, hashes, {
      batchMax: opts.batchMax ?? 4096,
      poolMax: opts.poolMax ?? 16384,
      objectStore: opts.objectStore ?? null,
      witnesses: opts.witnesses ?? null,
      ...(opts.pollMs ? { pollMs: opts.pollMs } : {}),
      ...(opts.log ? { log: opts.log } : {}),
    });
    checkState(storage, key, hashes);
    const model = storage;
    const seq = sequencer;
    return {
      key,
      storage: model,
      hashes,
      tiles: new TileReader(model),
      sequencer: seq,
      policy: opts.policy,
      deliveries: deliveryConfig(opts, new PgManifestStore(store.pool)),
      async close() {
        await seq.close();
        await opts.policy.close?.();
        await store.close();
        model.close();
        rmSync(tmp, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await sequencer?.close().catch(() => {});
    await store.close();
    storage?.close();
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/**
 * `keycast log migrate --from DIR --to postgres://…`: copies the SQLite log in DIR (checked as
 * openLog checks it) into an empty PostgreSQL database in ONE transaction: every entry, every
 * stored hash and the latest checkpoint (with its cosignatures), byte for byte. The database is
 * then opened as a server would open it (every hash re-derived, the checkpoint verified), so a
 * migration that changed anything fails here. Returns the migrated checkpoint's size.
 */
export async function migrateToPg(dir: string, url: string): Promise<{ size: number; vkey: string }> {
  const { PgLogStore } = await import('./storage/postgres.ts');
  requireReadableDir(dir);
  const src = openSqliteStorage(join(dir, DB_FILE));
  let size: number;
  try {
    const key = loadLogKey(readKeyFile(join(dir, KEY_FILE)), src.vkey, src.origin);
    const hashes = new HashCache(src);
    checkState(src, key, hashes);
    const cp = src.latestCheckpoint()!;
    size = cp.size;
    const CHUNK = 2048;
    const store = await PgLogStore.create(
      url,
      { origin: src.origin, vkey: src.vkey },
      { checkpoint: cp, root: treeHash(cp.size, hashes.read) },
      async (put) => {
        for (let i = 0; i < cp.size; i += CHUNK) {
          const n = Math.min(CHUNK, cp.size - i);
          await put.entries(Array.from({ length: n }, (_, k) => src.entry(i + k)!));
        }
        for (let level = 0; Math.floor(cp.size / 2 ** level) > 0; level++) {
          const count = Math.floor(cp.size / 2 ** level);
          for (let i = 0; i < count; i += CHUNK) {
            const bytes = src.readHashes(level, i, Math.min(CHUNK, count - i));
            await put.hashes(
              Array.from({ length: bytes.length / 32 }, (_, k) => ({
                level,
                index: i + k,
                hash: bytes.subarray(k * 32, k * 32 + 32),
              })),
            );
          }
        }
      },
    );
    await store.close();
  } finally {
    src.close();
  }
  const check = await openPgLog(url, join(dir, KEY_FILE), { policy: MIGRATION_ONLY });
  await check.close();
  return { size, vkey: check.key.vkey };
}

const MIGRATION_ONLY: EntryPolicy = {
  admit() {
    throw new LogError('ENTRY_REJECTED', 'this log is only being checked after a migration', {});
  },
};

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
