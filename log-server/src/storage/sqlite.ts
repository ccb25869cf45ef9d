/**
 * LogStorage on better-sqlite3: the log's sequencing lock and its durable state in one file.
 *
 * WAL journal with synchronous=FULL, so a committed transaction survives power loss. The
 * checkpoint moves by compare-and-swap (`UPDATE … WHERE id = 1 AND note = ?`, zero changed rows
 * = conflict), as sunlight's internal/ctlog/sqlite.go does; entries, subtree hashes and the
 * checkpoint are written in ONE transaction, so a crash leaves all of a batch or none of it.
 * `openSqliteStorage` never creates a database (fail closed on a missing file); only
 * `createSqliteStorage` does, and it refuses an existing one.
 *
 * Lookup indexes (replay key → entry, PCR0/EIF/commit → release) are derived data, kept out
 * of the acknowledged commit: each one is a random-key B-tree insert per entry, and they
 * made up most of a batch's commit time (bench/log). `indexPending` folds committed entries
 * into them afterwards (the writer thread runs it right after answering), with
 * synchronous=NORMAL since it can always be redone; `meta.indexed_size` says how far it got,
 * and every lookup also scans the few entries past it, so answers never depend on whether
 * indexing has caught up. Opening a database finishes any indexing a crash interrupted, and
 * upgrades a database from before this split.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { LogError } from '../errors.ts';
import type { LogStorage, StoredCheckpoint, StoredEntry, StoredHash, EntryKind } from '../ports.ts';

/**
 * Revocations by the PCR0 they retire. Partial, so only revocation rows (rare) pay for it on
 * the acknowledged commit; databases from before it get it on open.
 */
const REVOCATION_INDEX = `CREATE INDEX IF NOT EXISTS entries_revocations ON entries (pcr0, idx) WHERE kind = 'revocation';`;

const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL, note TEXT NOT NULL, cosigned TEXT NOT NULL);
CREATE TABLE entries (
  idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL, leaf_hash BLOB NOT NULL, replay_key TEXT NOT NULL, kind TEXT NOT NULL,
  pcr0 TEXT, eif TEXT, commit_sha TEXT, revokes INTEGER);
CREATE UNIQUE INDEX entries_revokes ON entries (revokes) WHERE revokes IS NOT NULL;
${REVOCATION_INDEX}
CREATE TABLE hashes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID;
`;

/** The derived lookup indexes (see the header); also added to databases created before them. */
const INDEX_SCHEMA = `
CREATE TABLE replay_keys (key TEXT PRIMARY KEY, idx INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE release_lookup (field INTEGER NOT NULL, value TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (field, value, idx)) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('indexed_size', '0');
`;

/** release_lookup.field codes. */
const FIELD = { pcr0: 0, eifSha256: 1, commit: 2 } as const;

/** Entries not yet folded into the lookup indexes (a short tail, scanned by rowid). */
const TAIL = `idx >= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'indexed_size')`;

const COLUMN = { pcr0: 'pcr0', eifSha256: 'eif', commit: 'commit_sha' } as const;

/**
 * `durable: false` is for a read model that can be rebuilt from elsewhere (a PostgreSQL log
 * server's private copy): no fsync at all. Every log database proper is durable.
 */
export interface SqliteOptions {
  durable?: boolean;
}

function pragmas(db: Database.Database, o: SqliteOptions = {}): void {
  db.pragma('journal_mode = WAL');
  db.pragma(o.durable === false ? 'synchronous = OFF' : 'synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // 64 MiB of page cache per connection (default 2 MiB): the index B-trees and the unindexed
  // tail stay in memory, so indexing and tail scans do not go back to the file page by page.
  db.pragma('cache_size = -65536');
}

/** Creates a new log database at `path`; refuses if the file exists. */
export function createSqliteStorage(
  path: string,
  meta: { origin: string; vkey: string },
  o: SqliteOptions = {},
): SqliteStorage {
  if (existsSync(path))
    throw new LogError('DATA_EXISTS', `refusing to overwrite existing log database ${path}`, { path });
  const db = new Database(path);
  pragmas(db, o);
  db.exec(SCHEMA);
  db.exec(INDEX_SCHEMA);
  const put = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
  db.transaction(() => {
    put.run('origin', meta.origin);
    put.run('vkey', meta.vkey);
    put.run('published_size', '0');
  })();
  return new SqliteStorage(db, o.durable !== false);
}

/** Opens an existing log database; refuses (fail closed) if it is missing or not a log. */
export function openSqliteStorage(path: string): SqliteStorage {
  if (!existsSync(path))
    throw new LogError('DATA_MISSING', `no log database at ${path} (run keycast log init)`, { path });
  const db = new Database(path, { fileMustExist: true });
  pragmas(db);
  upgrade(db);
  const s = new SqliteStorage(db);
  s.indexPending(); // finish what a crash interrupted
  return s;
}

/** Databases created before the derived indexes: add them, drop the per-insert ones (indexPending fills the new ones). */
function upgrade(db: Database.Database): void {
  if (
    db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'entries_revocations'`).get() === undefined
  ) {
    db.transaction(() => db.exec(REVOCATION_INDEX)).immediate();
  }
  const has = () =>
    db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'replay_keys'`).get() !== undefined;
  if (has()) return;
  db.transaction(() => {
    if (has()) return; // another connection (the writer thread) got here first
    db.exec(INDEX_SCHEMA);
    db.exec(
      'DROP INDEX IF EXISTS entries_pcr0; DROP INDEX IF EXISTS entries_eif; DROP INDEX IF EXISTS entries_commit;',
    );
  }).immediate();
}

type Row = {
  idx: number;
  replay_key: string;
  leaf: Buffer;
  leaf_hash: Buffer;
  kind: EntryKind;
  pcr0: string | null;
  eif: string | null;
  commit_sha: string | null;
  revokes: number | null;
};

export class SqliteStorage implements LogStorage {
  readonly origin: string;
  readonly vkey: string;
  private readonly s;

  constructor(
    private readonly db: Database.Database,
    private readonly durable = true,
  ) {
    const meta = new Map(
      (db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((r) => [
        r.key,
        r.value,
      ]),
    );
    const origin = meta.get('origin');
    const vkey = meta.get('vkey');
    if (!origin || !vkey) throw new LogError('STARTUP_MISMATCH', 'log database has no origin/vkey metadata', {});
    this.origin = origin;
    this.vkey = vkey;
    this.s = {
      checkpoint: db.prepare('SELECT size, note, cosigned FROM checkpoint WHERE id = 1'),
      insertCheckpoint: db.prepare('INSERT INTO checkpoint (id, size, note, cosigned) VALUES (1, ?, ?, ?)'),
      casCheckpoint: db.prepare('UPDATE checkpoint SET size = ?, note = ?, cosigned = ? WHERE id = 1 AND note = ?'),
      setCosigned: db.prepare('UPDATE checkpoint SET cosigned = ? WHERE id = 1 AND note = ?'),
      count: db.prepare('SELECT COUNT(*) AS n FROM entries').pluck(),
      hash: db.prepare('SELECT hash FROM hashes WHERE level = ? AND idx = ?').pluck(),
      hashes: db.prepare('SELECT hash FROM hashes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx').pluck(),
      entry: db.prepare('SELECT * FROM entries WHERE idx = ?'),
      leaves: db.prepare('SELECT leaf FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx').pluck(),
      byReplayKey: db
        .prepare(
          `SELECT idx FROM replay_keys WHERE key = @key UNION ALL SELECT idx FROM entries WHERE ${TAIL} AND replay_key = @key LIMIT 1`,
        )
        .pluck(),
      revokedBy: db.prepare('SELECT idx FROM entries WHERE revokes = ?').pluck(),
      firstRevocation: db
        .prepare(`SELECT MIN(idx) FROM entries WHERE kind = 'revocation' AND pcr0 = ? AND idx > ? AND idx < ?`)
        .pluck(),
      insertEntry: db.prepare(
        'INSERT INTO entries (idx, leaf, leaf_hash, replay_key, kind, pcr0, eif, commit_sha, revokes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      insertHash: db.prepare('INSERT INTO hashes (level, idx, hash) VALUES (?, ?, ?)'),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      setMeta: db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
      find: Object.fromEntries(
        Object.entries(COLUMN).map(([k, col]) => [
          k,
          db
            .prepare(
              `SELECT idx FROM (SELECT idx FROM entries WHERE ${TAIL} AND ${col} = @value AND kind = 'release'
             UNION ALL SELECT idx FROM release_lookup WHERE field = ${FIELD[k as keyof typeof FIELD]} AND value = @value) ORDER BY idx DESC LIMIT 1`,
            )
            .pluck(),
        ]),
      ) as Record<keyof typeof COLUMN, Database.Statement>,
      allReplayKeys: db
        .prepare(`SELECT key FROM replay_keys UNION ALL SELECT replay_key FROM entries WHERE ${TAIL}`)
        .pluck(),
      indexed: db.prepare(`SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'indexed_size'`).pluck(),
      indexReplay: db.prepare(
        'INSERT OR IGNORE INTO replay_keys (key, idx) SELECT replay_key, idx FROM entries WHERE idx >= ? ORDER BY idx',
      ),
      indexRelease: Object.entries(COLUMN).map(([k, col]) =>
        db.prepare(
          `INSERT OR IGNORE INTO release_lookup (field, value, idx) SELECT ${FIELD[k as keyof typeof FIELD]}, ${col}, idx FROM entries WHERE idx >= ? AND kind = 'release' AND ${col} IS NOT NULL`,
        ),
      ),
      setIndexed: db.prepare(
        `UPDATE meta SET value = (SELECT COALESCE(MAX(idx) + 1, 0) FROM entries) WHERE key = 'indexed_size'`,
      ),
      entriesEnd: db.prepare('SELECT COALESCE(MAX(idx) + 1, 0) FROM entries').pluck(),
      setIndexedTo: db.prepare(`UPDATE meta SET value = ? WHERE key = 'indexed_size'`),
    };
  }

  latestCheckpoint(): StoredCheckpoint | null {
    const r = this.s.checkpoint.get() as StoredCheckpoint | undefined;
    return r ? { size: r.size, note: r.note, cosigned: r.cosigned } : null;
  }

  entryCount(): number {
    return this.s.count.get() as number;
  }

  readHash(level: number, index: number): Uint8Array | undefined {
    return this.s.hash.get(level, index) as Buffer | undefined;
  }

  readHashes(level: number, start: number, count: number): Uint8Array {
    return Buffer.concat(this.s.hashes.all(level, start, start + count) as Buffer[]);
  }

  entry(index: number): StoredEntry | null {
    const r = this.s.entry.get(index) as Row | undefined;
    if (!r) return null;
    const e: StoredEntry = {
      index: r.idx,
      leaf: r.leaf,
      leafHash: r.leaf_hash,
      kind: r.kind,
      replayKey: r.replay_key,
    };
    if (r.pcr0 !== null) e.pcr0 = r.pcr0;
    if (r.eif !== null) e.eifSha256 = r.eif;
    if (r.commit_sha !== null) e.commit = r.commit_sha;
    if (r.revokes !== null) e.revokes = { index: r.revokes, pcr0: r.pcr0 ?? '' };
    return e;
  }

  leaves(start: number, count: number): Uint8Array[] {
    return this.s.leaves.all(start, start + count) as Buffer[];
  }

  indexOfReplayKey(replayKey: string): number | null {
    return (this.s.byReplayKey.get({ key: replayKey }) as number | undefined) ?? null;
  }

  replayKeys(): Iterable<string> {
    return this.s.allReplayKeys.iterate() as IterableIterator<string>;
  }

  findRelease(field: 'pcr0' | 'eifSha256' | 'commit', value: string): number | null {
    return (this.s.find[field].get({ value }) as number | undefined) ?? null;
  }

  indexPending(): void {
    // Derived data, redone on open after a crash: no fsync of its own (the next commit's
    // covers it). The first replay key wins, as dedup answers with the entry logged first.
    if (this.durable) this.db.pragma('synchronous = NORMAL');
    try {
      this.db
        .transaction(() => {
          const from = this.s.indexed.get() as number;
          this.s.indexReplay.run(from);
          for (const st of this.s.indexRelease) st.run(from);
          this.s.setIndexed.run();
        })
        .immediate();
    } finally {
      if (this.durable) this.db.pragma('synchronous = FULL');
    }
  }

  /**
   * indexPending in steps, each its own short transaction (one per lookup table, then the mark),
   * so a writer can run other transactions between them instead of waiting for one long one.
   * Entries committed meanwhile may be indexed early (harmless: lookups read the tail too, and
   * the first replay key still wins); the mark only covers what was there at the start.
   */
  indexPendingSteps(): Array<() => void> {
    const from = this.s.indexed.get() as number;
    const to = this.s.entriesEnd.get() as number;
    if (to <= from) return [];
    const step = (fn: () => void) => () => this.relaxed(() => this.db.transaction(fn).immediate());
    return [
      step(() => this.s.indexReplay.run(from)),
      ...this.s.indexRelease.map((st) => step(() => st.run(from))),
      step(() => this.s.setIndexedTo.run(String(to))),
    ];
  }

  /** Pages of WAL after which a commit checkpoints by itself (SQLite's wal_autocheckpoint). */
  walAutocheckpoint(pages: number): void {
    this.db.pragma(`wal_autocheckpoint = ${Math.trunc(pages)}`);
  }

  /** Copies committed WAL content into the database file (PASSIVE: never waits for readers or the writer). */
  checkpointWal(): void {
    this.db.pragma('wal_checkpoint(PASSIVE)');
  }

  /** Runs `fn` with synchronous=NORMAL: derived data, redone on open after a crash, needs no fsync of its own. */
  private relaxed(fn: () => void): void {
    if (this.durable) this.db.pragma('synchronous = NORMAL');
    try {
      fn();
    } finally {
      if (this.durable) this.db.pragma('synchronous = FULL');
    }
  }

  revokedBy(index: number): number | null {
    return (this.s.revokedBy.get(index) as number | undefined) ?? null;
  }

  firstRevocation(pcr0: string, after: number, before: number): number | null {
    return (this.s.firstRevocation.get(pcr0, after, before) as number | null | undefined) ?? null;
  }

  commitBatch(batch: {
    expected: string | null;
    next: StoredCheckpoint;
    entries: StoredEntry[];
    hashes: StoredHash[];
  }): void {
    const { expected, next } = batch;
    this.db.transaction(() => {
      for (const e of batch.entries) {
        this.s.insertEntry.run(
          e.index,
          e.leaf,
          e.leafHash,
          e.replayKey ?? Buffer.from(e.leafHash).toString('hex'),
          e.kind,
          e.pcr0 ?? null,
          e.eifSha256 ?? null,
          e.commit ?? null,
          e.revokes?.index ?? null,
        );
      }
      for (const h of batch.hashes) this.s.insertHash.run(h.level, h.index, h.hash);
      if (expected === null) {
        if (this.s.checkpoint.get()) throw conflict(expected);
        this.s.insertCheckpoint.run(next.size, next.note, next.cosigned);
      } else if (this.s.casCheckpoint.run(next.size, next.note, next.cosigned, expected).changes === 0) {
        throw conflict(expected);
      }
    })();
  }

  setCosigned(note: string, cosigned: string): void {
    this.s.setCosigned.run(cosigned, note);
  }

  publishedSize(): number {
    return Number(this.s.getMeta.get('published_size') ?? 0);
  }

  setPublishedSize(size: number): void {
    this.s.setMeta.run('published_size', String(size));
  }

  close(): void {
    this.db.close();
  }
}

function conflict(expected: string | null): LogError {
  return new LogError(
    'CHECKPOINT_CONFLICT',
    'the stored checkpoint is not the one this batch extends (another writer?)',
    { expected },
  );
}
