/**
 * The log's shared state on PostgreSQL, for any number of `keycast log serve` processes on one
 * database (after tessera's storage/aws: a coordination row for sequencing, a row lock on the
 * integrated tree state for integration).
 *
 * - Sequencing: `sequence` locks the one `log_sequence` row FOR UPDATE, answers replayed entries
 *   with their first index, checks revocations against the rows below the lock, inserts the new
 *   entries at `next…` and advances `next`, in one transaction. An index exists only once that
 *   transaction has committed; `replay_key UNIQUE` and `idx PRIMARY KEY` make a second index for
 *   one entry, or a second entry at one index, impossible whatever a server does.
 * - Integration: `integrate` locks the `log_tree_head` row FOR UPDATE, reads the sequenced
 *   entries past the integrated size, lets the caller compute hashes, write tiles and sign, then
 *   inserts the hashes and the checkpoint and moves the tree head in the same transaction.
 *   `log_checkpoints.size` is the PRIMARY KEY: two checkpoints of one size (two roots) cannot
 *   both commit, by construction; `log_tree_head.size` references it.
 * - Every server keeps a read model (a private SQLite file) that follows the database; the
 *   `rows*` readers below feed it (storage/pg-sequencer.ts).
 *
 * Connections: a small pool per process; `NOTIFY log_tree` tells the other servers that the
 * head moved (they also poll). Synchronous commit is PostgreSQL's default (on): COMMIT returns
 * once the WAL is flushed.
 */
import pg from 'pg';
import { LogError } from '../errors.ts';
import { redactUrl } from './pg-url.ts';
import type { AdmittedEntry, EntryKind, StoredCheckpoint, StoredEntry, StoredHash } from '../ports.ts';
import type { RevocationLookups } from '../sequencer.ts';

const SCHEMA = `
CREATE TABLE log_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE log_sequence (id int PRIMARY KEY CHECK (id = 1), next bigint NOT NULL CHECK (next >= 0));
CREATE TABLE log_entries (
  idx bigint PRIMARY KEY CHECK (idx >= 0), leaf bytea NOT NULL, leaf_hash bytea NOT NULL CHECK (length(leaf_hash) = 32),
  replay_key text NOT NULL UNIQUE, kind text NOT NULL, pcr0 text, eif text, commit_sha text, revokes bigint UNIQUE);
CREATE INDEX log_entries_revocations ON log_entries (pcr0, idx) WHERE kind = 'revocation';
CREATE TABLE log_hashes (
  level smallint NOT NULL CHECK (level BETWEEN 0 AND 63), idx bigint NOT NULL CHECK (idx >= 0),
  hash bytea NOT NULL CHECK (length(hash) = 32), PRIMARY KEY (level, idx));
CREATE TABLE log_checkpoints (size bigint PRIMARY KEY CHECK (size >= 0), root bytea NOT NULL CHECK (length(root) = 32), note text NOT NULL);
CREATE TABLE log_tree_head (
  id int PRIMARY KEY CHECK (id = 1), size bigint NOT NULL REFERENCES log_checkpoints (size),
  note text NOT NULL, cosigned text NOT NULL CHECK (starts_with(cosigned, note)));
`;

/** bigint columns come back as numbers (every index and size is below 2^53). */
const TYPES = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

type Client = pg.PoolClient | pg.Client;

export interface EntryRow {
  idx: number;
  leaf: Buffer;
  leaf_hash: Buffer;
  replay_key: string;
  kind: EntryKind;
  pcr0: string | null;
  eif: string | null;
  commit_sha: string | null;
  revokes: number | null;
}

const ENTRY_COLUMNS = 'idx, leaf, leaf_hash, replay_key, kind, pcr0, eif, commit_sha, revokes';

export function entryFromRow(r: EntryRow): StoredEntry {
  const e: StoredEntry = { index: r.idx, leaf: r.leaf, leafHash: r.leaf_hash, kind: r.kind, replayKey: r.replay_key };
  if (r.pcr0 !== null) e.pcr0 = r.pcr0;
  if (r.eif !== null) e.eifSha256 = r.eif;
  if (r.commit_sha !== null) e.commit = r.commit_sha;
  if (r.revokes !== null) e.revokes = { index: r.revokes, pcr0: r.pcr0 ?? '' };
  return e;
}

/** What `sequence` answers per submission: its index (first one for a replay), or the refusal. */
export type Sequenced =
  | { index: number; leaf: Uint8Array; leafHash: Uint8Array; duplicate: boolean }
  | { error: LogError };

export class PgLogStore {
  private constructor(
    readonly pool: pg.Pool,
    readonly origin: string,
    readonly vkey: string,
    readonly url: string,
  ) {}

  /**
   * Creates the log's tables in the (empty) database at `url` and records `first` (the signed
   * checkpoint of the entries given, usually size 0). Refuses DATA_EXISTS if a log is there.
   */
  static async create(
    url: string,
    meta: { origin: string; vkey: string },
    first: { checkpoint: StoredCheckpoint; root: Uint8Array },
    fill?: (put: PgFill) => Promise<void>,
  ): Promise<PgLogStore> {
    const pool = newPool(url);
    try {
      await transaction(pool, async (c) => {
        const exists = await c.query(`SELECT to_regclass('log_meta') IS NOT NULL AS e`);
        if (exists.rows[0].e)
          throw new LogError('DATA_EXISTS', 'refusing to overwrite the log in that database', {
            store: redactUrl(url),
          });
        await c.query(SCHEMA);
        await c.query(`INSERT INTO log_meta (key, value) VALUES ('origin', $1), ('vkey', $2)`, [
          meta.origin,
          meta.vkey,
        ]);
        if (fill) await fill({ entries: (es) => insertEntries(c, es), hashes: (hs) => insertHashes(c, hs) });
        const cp = first.checkpoint;
        await c.query('INSERT INTO log_sequence (id, next) VALUES (1, $1)', [cp.size]);
        await c.query('INSERT INTO log_checkpoints (size, root, note) VALUES ($1, $2, $3)', [
          cp.size,
          first.root,
          cp.note,
        ]);
        await c.query('INSERT INTO log_tree_head (id, size, note, cosigned) VALUES (1, $1, $2, $3)', [
          cp.size,
          cp.note,
          cp.cosigned,
        ]);
      });
    } catch (e) {
      await pool.end();
      throw storageError(e, url);
    }
    return new PgLogStore(pool, meta.origin, meta.vkey, url);
  }

  /** Opens the log in the database at `url`; DATA_MISSING (fail closed) if there is none. */
  static async open(url: string): Promise<PgLogStore> {
    const pool = newPool(url);
    try {
      const exists = await pool.query(`SELECT to_regclass('log_meta') IS NOT NULL AS e`);
      if (!exists.rows[0].e)
        throw new LogError('DATA_MISSING', 'no log in that database (run keycast log init --store …)', {
          store: redactUrl(url),
        });
      const meta = new Map(
        (await pool.query('SELECT key, value FROM log_meta')).rows.map((r: { key: string; value: string }) => [
          r.key,
          r.value,
        ]),
      );
      const origin = meta.get('origin');
      const vkey = meta.get('vkey');
      if (!origin || !vkey)
        throw new LogError('STARTUP_MISMATCH', 'the log database has no origin/vkey metadata', {
          store: redactUrl(url),
        });
      return new PgLogStore(pool, origin, vkey, url);
    } catch (e) {
      await pool.end();
      throw storageError(e, url);
    }
  }

  /** The integrated tree head (what `log_tree_head` holds now). */
  async head(c: Client | pg.Pool = this.pool): Promise<StoredCheckpoint> {
    const r = await c.query('SELECT size, note, cosigned FROM log_tree_head WHERE id = 1');
    if (r.rowCount !== 1) throw new LogError('STARTUP_MISMATCH', 'the log database has no tree head', {});
    return r.rows[0] as StoredCheckpoint;
  }

  /** The next index to be given (entries [head.size, next) are sequenced, not yet integrated). */
  async nextIndex(): Promise<number> {
    return (await this.pool.query('SELECT next FROM log_sequence WHERE id = 1')).rows[0].next as number;
  }

  /**
   * Gives the submissions indexes in ONE committed transaction (see the header). `check` decides
   * admission rules that depend on earlier entries (revocations) from rows read under the lock.
   */
  async sequence(
    items: Array<{ entry: AdmittedEntry; leafHash: Uint8Array; replayKey: string }>,
    check: <P extends { entry: AdmittedEntry }>(
      batch: P[],
      size: number,
      log: RevocationLookups,
    ) => { accepted: P[]; rejected: Array<[P, LogError]> },
  ): Promise<Sequenced[]> {
    return transaction(this.pool, async (c) => {
      const next = (await c.query('SELECT next FROM log_sequence WHERE id = 1 FOR UPDATE')).rows[0].next as number;
      const keys = items.map((i) => i.replayKey);
      const existing = new Map<string, Sequenced>();
      for (const r of (
        await c.query('SELECT idx, leaf, leaf_hash, replay_key FROM log_entries WHERE replay_key = ANY($1)', [keys])
      ).rows as EntryRow[]) {
        existing.set(r.replay_key, { index: r.idx, leaf: r.leaf, leafHash: r.leaf_hash, duplicate: true });
      }
      const out = new Array<Sequenced>(items.length);
      const fresh: Array<{ entry: AdmittedEntry; i: number }> = [];
      const firstInBatch = new Map<string, number>();
      const repeats: Array<{ i: number; first: number }> = [];
      items.forEach((it, i) => {
        const hit = existing.get(it.replayKey);
        const first = firstInBatch.get(it.replayKey);
        if (hit) out[i] = hit;
        else if (first !== undefined) repeats.push({ i, first });
        else {
          firstInBatch.set(it.replayKey, i);
          fresh.push({ entry: it.entry, i });
        }
      });
      const { accepted, rejected } = check(fresh, next, await revocationLookups(c, fresh, next));
      for (const [p, e] of rejected) out[p.i] = { error: e };
      const rows = accepted.map((p, k) => ({ p, index: next + k }));
      if (rows.length > 0) {
        await insertEntries(
          c,
          rows.map(({ p, index }) => ({
            ...p.entry,
            index,
            leafHash: items[p.i]!.leafHash,
            replayKey: items[p.i]!.replayKey,
          })),
        );
        await c.query('UPDATE log_sequence SET next = $1 WHERE id = 1', [next + rows.length]);
      }
      for (const { p, index } of rows)
        out[p.i] = { index, leaf: p.entry.leaf, leafHash: items[p.i]!.leafHash, duplicate: false };
      // A second submission of one replay key within the batch: the first one's answer.
      for (const { i, first } of repeats) {
        const f = out[first]!;
        out[i] = 'error' in f ? f : { ...f, duplicate: true };
      }
      return out;
    }).catch((e) => {
      throw storageError(e, this.url);
    });
  }

  /**
   * One integration step under the tree-head row lock. `catchUp(c, head)` brings the caller's
   * read model to `head` (reading through `c`, inside the lock); `build(head, entries)` computes
   * the new hashes and signed checkpoint (and writes tiles) for the sequenced entries past the
   * head, at most `batchMax`. Everything `build` returns commits in this transaction, or nothing
   * does. Resolves null when there was nothing to integrate, and 'busy' (without waiting) when
   * another server holds the lock: it is integrating, and will commit and NOTIFY.
   */
  async integrate(
    batchMax: number,
    catchUp: (c: Client, head: StoredCheckpoint) => Promise<void>,
    build: (
      head: StoredCheckpoint,
      entries: StoredEntry[],
    ) => Promise<{ hashes: StoredHash[]; next: StoredCheckpoint; root: Uint8Array }>,
  ): Promise<
    { prev: StoredCheckpoint; next: StoredCheckpoint; entries: StoredEntry[]; hashes: StoredHash[] } | null | 'busy'
  > {
    return transaction(this.pool, async (c) => {
      const locked = await c.query(
        'SELECT size, note, cosigned FROM log_tree_head WHERE id = 1 FOR UPDATE SKIP LOCKED',
      );
      if (locked.rowCount === 0) return 'busy' as const;
      const head = locked.rows[0] as StoredCheckpoint;
      await catchUp(c, head);
      const entries = await this.entryRows(c, head.size, head.size + batchMax);
      if (entries.length === 0) return null;
      const { hashes, next, root } = await build(head, entries);
      await insertHashes(c, hashes);
      await c.query('INSERT INTO log_checkpoints (size, root, note) VALUES ($1, $2, $3)', [
        next.size,
        Buffer.from(root),
        next.note,
      ]);
      await c.query('UPDATE log_tree_head SET size = $1, note = $2, cosigned = $3 WHERE id = 1', [
        next.size,
        next.note,
        next.cosigned,
      ]);
      await c.query(`SELECT pg_notify('log_tree', $1)`, [String(next.size)]);
      return { prev: head, next, entries, hashes };
    }).catch((e) => {
      throw storageError(e, this.url);
    });
  }

  /** Entries [from, to) that exist, in order. */
  async entryRows(c: Client | pg.Pool, from: number, to: number): Promise<StoredEntry[]> {
    const r = await c.query(`SELECT ${ENTRY_COLUMNS} FROM log_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx`, [
      from,
      to,
    ]);
    return (r.rows as EntryRow[]).map(entryFromRow);
  }

  /** The stored subtree hashes that a tree of `to` has and a tree of `from` does not. */
  async newHashRows(c: Client | pg.Pool, from: number, to: number): Promise<StoredHash[]> {
    // One primary-key range per level (a predicate mixing level into the bound would scan the table).
    const r = await c.query(
      `SELECT h.level, h.idx, h.hash FROM generate_series(0, 63) AS g(l) CROSS JOIN LATERAL (
         SELECT level, idx, hash FROM log_hashes
         WHERE level = g.l AND idx >= ($1::bigint >> g.l) AND idx < ($2::bigint >> g.l)) AS h
       WHERE ($2::bigint >> g.l) > ($1::bigint >> g.l)`,
      [from, to],
    );
    return (r.rows as Array<{ level: number; idx: number; hash: Buffer }>).map((h) => ({
      level: h.level,
      index: h.idx,
      hash: h.hash,
    }));
  }

  /** The checkpoints recorded with sizes in (after, upTo], in order. */
  async checkpointRows(
    c: Client | pg.Pool,
    after: number,
    upTo: number,
  ): Promise<Array<{ size: number; note: string }>> {
    return (
      await c.query('SELECT size, note FROM log_checkpoints WHERE size > $1 AND size <= $2 ORDER BY size', [
        after,
        upTo,
      ])
    ).rows;
  }

  /** Records witness cosignatures on the current head (no effect if the head has moved on). */
  async setCosigned(note: string, cosigned: string): Promise<void> {
    await this.pool.query('UPDATE log_tree_head SET cosigned = $1 WHERE id = 1 AND note = $2', [cosigned, note]);
  }

  /**
   * Runs `fn` while holding the log's publishing lock (a transaction-scoped advisory lock), so
   * the servers upload the mutable `checkpoint` object one at a time and never move it backwards.
   */
  async whilePublishing<T>(fn: () => Promise<T>): Promise<T> {
    return transaction(this.pool, async (c) => {
      await c.query(`SELECT pg_advisory_xact_lock(hashtext('keycast log checkpoint object'))`);
      return fn();
    });
  }

  /** A dedicated connection that calls `onMove` whenever a server integrates, and `onLost` if it drops. */
  async listen(onMove: () => void, onLost: () => void): Promise<pg.Client> {
    const c = new pg.Client({
      connectionString: this.url,
      types: TYPES,
      application_name: `keycast-log-${process.pid}`,
    });
    c.on('notification', () => onMove());
    // The poll carries on meanwhile; the caller listens again (e.g. after a database failover).
    c.on('error', () => onLost());
    c.on('end', () => onLost());
    await c.connect();
    await c.query('LISTEN log_tree');
    return c;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** What `create`'s `fill` may write in the creating transaction (a migration's entries and hashes). */
export interface PgFill {
  entries(entries: StoredEntry[]): Promise<void>;
  hashes(hashes: StoredHash[]): Promise<void>;
}

/** Entries as stored: a revocation under the PCR0 it retires, the replay key defaulting to the leaf hash. */
async function insertEntries(c: Client, es: StoredEntry[]): Promise<void> {
  if (es.length === 0) return;
  await c.query(
    `INSERT INTO log_entries (${ENTRY_COLUMNS})
     SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[])`,
    [
      es.map((e) => e.index),
      es.map((e) => Buffer.from(e.leaf)),
      es.map((e) => Buffer.from(e.leafHash)),
      es.map((e) => e.replayKey ?? Buffer.from(e.leafHash).toString('hex')),
      es.map((e) => e.kind),
      es.map((e) => e.revokes?.pcr0 ?? e.pcr0 ?? null),
      es.map((e) => e.eifSha256 ?? null),
      es.map((e) => e.commit ?? null),
      es.map((e) => e.revokes?.index ?? null),
    ],
  );
}

async function insertHashes(c: Client, hs: StoredHash[]): Promise<void> {
  if (hs.length === 0) return;
  await c.query(
    'INSERT INTO log_hashes (level, idx, hash) SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])',
    [hs.map((h) => h.level), hs.map((h) => h.index), hs.map((h) => Buffer.from(h.hash))],
  );
}

function newPool(url: string): pg.Pool {
  // application_name names the server process in pg_stat_activity (which one holds a lock).
  const pool = new pg.Pool({
    connectionString: url,
    max: 6,
    types: TYPES,
    connectionTimeoutMillis: 10_000,
    application_name: `keycast-log-${process.pid}`,
  });
  pool.on('error', () => {}); // an idle connection dropped (server restart): the next query reconnects
  return pool;
}

async function transaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  let broken = false;
  try {
    await c.query('BEGIN');
    const r = await fn(c);
    await c.query('COMMIT');
    return r;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw e;
  } finally {
    c.release(broken);
  }
}

/** Lookups for checkRevocations, from rows read inside the sequencing transaction (all below `next`). */
async function revocationLookups(
  c: Client,
  fresh: Array<{ entry: AdmittedEntry }>,
  next: number,
): Promise<RevocationLookups> {
  const targets = fresh.flatMap((p) => (p.entry.revokes ? [p.entry.revokes.index] : []));
  const pcr0s = fresh.flatMap((p) =>
    !p.entry.revokes && p.entry.kind === 'release' && p.entry.pcr0 ? [p.entry.pcr0] : [],
  );
  const byIndex = new Map<number, StoredEntry>();
  const revokedBy = new Map<number, number>();
  const firstRevocation = new Map<string, number>();
  if (targets.length > 0) {
    for (const r of (await c.query(`SELECT ${ENTRY_COLUMNS} FROM log_entries WHERE idx = ANY($1::bigint[])`, [targets]))
      .rows as EntryRow[])
      byIndex.set(r.idx, entryFromRow(r));
    for (const r of (await c.query('SELECT revokes, idx FROM log_entries WHERE revokes = ANY($1::bigint[])', [targets]))
      .rows as Array<{ revokes: number; idx: number }>)
      revokedBy.set(r.revokes, r.idx);
  }
  if (pcr0s.length > 0) {
    for (const r of (
      await c.query(
        `SELECT pcr0, MIN(idx) AS idx FROM log_entries WHERE kind = 'revocation' AND pcr0 = ANY($1::text[]) GROUP BY pcr0`,
        [pcr0s],
      )
    ).rows as Array<{ pcr0: string; idx: number }>)
      firstRevocation.set(r.pcr0, r.idx);
  }
  return {
    entry: (i) => (i < next ? (byIndex.get(i) ?? null) : null),
    revokedBy: (i) => revokedBy.get(i) ?? null,
    firstRevocation: (pcr0, after, before) => {
      const i = firstRevocation.get(pcr0);
      if (i === undefined || i <= after || i >= before) return null;
      return i;
    },
  };
}

/** A database failure as the log's STORAGE_FAILED (LogErrors pass through); never includes the URL's password. */
export function storageError(e: unknown, url: string): unknown {
  if (e instanceof LogError) return e;
  const code = (e as { code?: string }).code;
  return new LogError(
    'STORAGE_FAILED',
    `PostgreSQL: ${(e as Error).message ?? String(e)}`,
    { store: redactUrl(url), ...(code ? { sqlState: code } : {}) },
    { cause: e },
  );
}
