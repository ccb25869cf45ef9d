/**
 * LogStorage on better-sqlite3: the log's sequencing lock and its durable state in one file.
 *
 * WAL journal with synchronous=FULL, so a committed transaction survives power loss. The
 * checkpoint moves by compare-and-swap (`UPDATE … WHERE id = 1 AND note = ?`, zero changed rows
 * = conflict), as sunlight's internal/ctlog/sqlite.go does; entries, subtree hashes and the
 * checkpoint are written in ONE transaction, so a crash leaves all of a batch or none of it.
 * `openSqliteStorage` never creates a database (fail closed on a missing file); only
 * `createSqliteStorage` does, and it refuses an existing one.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { LogError } from '../errors.ts';
import type { LogStorage, StoredCheckpoint, StoredEntry, StoredHash, EntryKind } from '../ports.ts';

const SCHEMA = `
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
`;

const COLUMN = { pcr0: 'pcr0', eifSha256: 'eif', commit: 'commit_sha' } as const;

function pragmas(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
}

/** Creates a new log database at `path`; refuses if the file exists. */
export function createSqliteStorage(path: string, meta: { origin: string; vkey: string }): SqliteStorage {
  if (existsSync(path)) throw new LogError('DATA_EXISTS', `refusing to overwrite existing log database ${path}`, { path });
  const db = new Database(path);
  pragmas(db);
  db.exec(SCHEMA);
  const put = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
  db.transaction(() => {
    put.run('origin', meta.origin);
    put.run('vkey', meta.vkey);
    put.run('published_size', '0');
  })();
  return new SqliteStorage(db);
}

/** Opens an existing log database; refuses (fail closed) if it is missing or not a log. */
export function openSqliteStorage(path: string): SqliteStorage {
  if (!existsSync(path)) throw new LogError('DATA_MISSING', `no log database at ${path} (run keycast log init)`, { path });
  const db = new Database(path, { fileMustExist: true });
  pragmas(db);
  return new SqliteStorage(db);
}

type Row = { idx: number; leaf: Buffer; leaf_hash: Buffer; kind: EntryKind; pcr0: string | null; eif: string | null; commit_sha: string | null; revokes: number | null };

export class SqliteStorage implements LogStorage {
  readonly origin: string;
  readonly vkey: string;
  private readonly s;

  constructor(private readonly db: Database.Database) {
    const meta = new Map((db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
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
      byReplayKey: db.prepare('SELECT idx FROM entries WHERE replay_key = ?').pluck(),
      revokedBy: db.prepare('SELECT idx FROM entries WHERE revokes = ?').pluck(),
      insertEntry: db.prepare('INSERT INTO entries (idx, leaf, leaf_hash, replay_key, kind, pcr0, eif, commit_sha, revokes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      insertHash: db.prepare('INSERT INTO hashes (level, idx, hash) VALUES (?, ?, ?)'),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      find: Object.fromEntries(
        Object.entries(COLUMN).map(([k, col]) => [k, db.prepare(`SELECT idx FROM entries WHERE ${col} = ? AND kind = 'release' ORDER BY idx DESC LIMIT 1`).pluck()]),
      ) as Record<keyof typeof COLUMN, Database.Statement>,
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
    const e: StoredEntry = { index: r.idx, leaf: r.leaf, leafHash: r.leaf_hash, kind: r.kind };
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
    return (this.s.byReplayKey.get(replayKey) as number | undefined) ?? null;
  }

  findRelease(field: 'pcr0' | 'eifSha256' | 'commit', value: string): number | null {
    return (this.s.find[field].get(value) as number | undefined) ?? null;
  }

  revokedBy(index: number): number | null {
    return (this.s.revokedBy.get(index) as number | undefined) ?? null;
  }

  commitBatch(batch: { expected: string | null; next: StoredCheckpoint; entries: StoredEntry[]; hashes: StoredHash[] }): void {
    const { expected, next } = batch;
    this.db.transaction(() => {
      for (const e of batch.entries) {
        this.s.insertEntry.run(e.index, e.leaf, e.leafHash, e.replayKey ?? Buffer.from(e.leafHash).toString('hex'), e.kind, e.pcr0 ?? null, e.eifSha256 ?? null, e.commit ?? null, e.revokes?.index ?? null);
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
  return new LogError('CHECKPOINT_CONFLICT', 'the stored checkpoint is not the one this batch extends (another writer?)', { expected });
}
