/**
 * One `keycast log serve` process among any number sharing a PostgreSQL store
 * (storage/postgres.ts): its write path (LogSequencer) and the read model it serves from.
 *
 * Write path. Submissions are pooled and sequenced in batches: one committed transaction gives
 * each its index (or its first index, for a replay), and then the entry waits until a committed
 * checkpoint includes it, which any server may produce. Integration runs on whichever server
 * gets the tree-head row lock: it brings its read model up to the head, computes the new
 * subtree hashes for up to `batchMax` sequenced entries, writes the new tiles to the object
 * store (identical bytes already there = success, different bytes = PUBLISH_FAILED, fail
 * closed), signs the checkpoint and commits the tree head, all under that lock. Only then are
 * witnesses asked, the `checkpoint` object uploaded (under an advisory lock, never backwards)
 * and the waiting requests answered with the checkpoint and an inclusion proof.
 *
 * Read model. Each server keeps a private SQLite file (SqliteStorage: the LogStorage that the
 * HTTP reads, proofs and tiles use) that it extends one recorded checkpoint at a time: it
 * re-derives every subtree hash from the entries, requires the database's stored hashes to be
 * the same bytes, and requires the signed checkpoint to verify under the log key with that root.
 * Any disagreement stops this server's writes (STARTUP_MISMATCH / CHECKPOINT_CONFLICT with
 * evidence); it keeps serving the last state it verified. The model follows the database on
 * `NOTIFY log_tree` and on a short poll, and the poll also integrates entries that a crashed
 * server sequenced but never integrated.
 */
import { errorText, openCheckpoint } from '#verifier';
import { bytesEqual, hashLeaf, toHex, treeHash } from '#verifier/build';
import type pg from 'pg';
import { LogError, isLogError } from '../errors.ts';
import type { LogKey } from '../keys.ts';
import type {
  AdmittedEntry,
  Integrated,
  LogSequencer,
  LogStorage,
  ObjectStore,
  StoredCheckpoint,
  StoredEntry,
  StoredHash,
  Witnesses,
} from '../ports.ts';
import { newTileObjects, putCheckpoint, putImmutable } from '../publish.ts';
import { appendHashes, checkRevocations, cosign, extendTree, integratedDuplicate, wellFormed } from '../sequencer.ts';
import { mergeCosignatures } from '../witness/cosignatures.ts';
import type { HashCache } from '../tree.ts';
import type { PgLogStore } from './postgres.ts';

export interface PgSequencerOptions {
  batchMax: number;
  poolMax: number;
  objectStore: ObjectStore | null;
  witnesses: Witnesses | null;
  /** How often the read model polls the database (ms; NOTIFY usually wakes it sooner). */
  pollMs?: number;
  log?: (msg: string) => void;
}

interface Pending {
  entry: AdmittedEntry;
  leafHash: Uint8Array;
  replayKey: string;
  resolve: (r: Integrated) => void;
  reject: (e: unknown) => void;
}

interface Awaiting {
  index: number;
  leaf: Uint8Array;
  leafHash: Uint8Array;
  duplicate: boolean;
  resolve: (r: Integrated) => void;
  reject: (e: unknown) => void;
}

/** Codes after which this server stops writing: its state and the database's disagree. */
const FATAL = new Set(['STARTUP_MISMATCH', 'CHECKPOINT_CONFLICT', 'PUBLISH_FAILED']);
const MAX_RETRIES = 50;

export class PgSequencer implements LogSequencer {
  current: StoredCheckpoint;
  private pool: Pending[] = [];
  private readonly inflight = new Map<string, Promise<Integrated>>();
  private awaiting: Awaiting[] = [];
  private sequencing: Promise<void> | null = null;
  private integrating: Promise<void> | null = null;
  private replicaTurn: Promise<unknown> = Promise.resolve();
  private failed: LogError | null = null;
  private closing = false;
  private timer: NodeJS.Timeout | null = null;
  private listener: pg.Client | null = null;
  private ticking = false;
  private stalledAt = -1;
  private orphanRun = false;
  private onMove: Array<() => void> = [];

  private constructor(
    private readonly store: PgLogStore,
    private readonly replica: LogStorage,
    private readonly key: LogKey,
    private readonly hashes: HashCache,
    private readonly opts: PgSequencerOptions,
  ) {
    this.current = { size: -1, note: '', cosigned: '' };
  }

  /**
   * Brings the (empty) read model up to the database's tree head, verifying every step, checks
   * the object store's checkpoint is not ahead of the database, and starts following.
   */
  static async start(
    store: PgLogStore,
    replica: LogStorage,
    key: LogKey,
    hashes: HashCache,
    opts: PgSequencerOptions,
  ): Promise<PgSequencer> {
    const s = new PgSequencer(store, replica, key, hashes, opts);
    await s.withReplica(async () => s.catchUp(store.pool, await store.head()));
    if (opts.objectStore) await s.checkObjectStore(opts.objectStore);
    await s.listen();
    s.timer = setInterval(() => s.tick(), opts.pollMs ?? 100);
    s.timer.unref();
    return s;
  }

  submit(entry: AdmittedEntry, leafHash: Uint8Array): Promise<Integrated> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.closing) return Promise.reject(new LogError('SHUTTING_DOWN', 'the log is shutting down', {}));
    const replayKey = entry.replayKey ?? toHex(leafHash);
    const waiting = this.inflight.get(replayKey);
    if (waiting) return waiting.then((r) => ({ ...r, duplicate: true }));
    const existing = this.replica.indexOfReplayKey(replayKey);
    if (existing !== null && existing < this.current.size)
      return Promise.resolve(integratedDuplicate(this.replica, existing, this.current));
    if (this.pool.length >= this.opts.poolMax) {
      return Promise.reject(
        new LogError('PUSHBACK', 'too many entries waiting to be sequenced; retry shortly', {
          pending: this.pool.length,
        }),
      );
    }
    const p = new Promise<Integrated>((resolve, reject) =>
      this.pool.push({ entry, leafHash, replayKey, resolve, reject }),
    );
    this.inflight.set(replayKey, p);
    const forget = () => this.inflight.delete(replayKey);
    p.then(forget, forget);
    this.kickSequencing();
    return p;
  }

  /** Catches the read model up with the database's tree head now. */
  async refresh(): Promise<void> {
    const head = await this.store.head();
    if (head.size > this.current.size)
      await this.withReplica(async () => this.catchUp(this.store.pool, await this.store.head()));
    this.resolveAwaiting();
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
    while (this.sequencing || this.integrating) await Promise.all([this.sequencing, this.integrating]);
    for (const a of this.awaiting.splice(0))
      a.reject(new LogError('SHUTTING_DOWN', 'the log shut down before integrating the entry', { index: a.index }));
    await this.listener?.end().catch(() => {});
  }

  // ---- sequencing ----

  private kickSequencing(): void {
    if (this.sequencing) return;
    this.sequencing = new Promise<void>((done) =>
      setImmediate(() =>
        this.sequenceLoop().finally(() => {
          this.sequencing = null;
          done();
          if (this.pool.length > 0 && !this.failed) this.kickSequencing();
        }),
      ),
    );
  }

  private async sequenceLoop(): Promise<void> {
    while (this.pool.length > 0 && !this.failed) {
      const batch = this.pool.splice(0, this.opts.batchMax);
      let results;
      try {
        results = await this.store.sequence(batch, checkRevocations);
      } catch (e) {
        this.opts.log?.(`log: sequencing a batch of ${batch.length} failed: ${errorText(e)}`);
        for (const p of batch) p.reject(e);
        continue;
      }
      results.forEach((r, i) => {
        const p = batch[i]!;
        if ('error' in r) p.reject(r.error);
        else this.awaiting.push({ ...r, resolve: p.resolve, reject: p.reject });
      });
      this.resolveAwaiting();
      this.kickIntegration();
    }
  }

  // ---- integration ----

  private kickIntegration(): void {
    if (this.integrating || this.failed) return;
    this.integrating = this.integrateLoop().finally(() => {
      this.integrating = null;
      if (this.needsIntegration() && !this.failed && !this.closing) this.kickIntegration();
    });
  }

  private needsIntegration(): boolean {
    return this.awaiting.some((a) => a.index >= this.current.size);
  }

  private async integrateLoop(): Promise<void> {
    let failures = 0;
    while ((this.needsIntegration() || this.orphanRun) && !this.failed) {
      this.orphanRun = false;
      try {
        if ((await this.integrateOnce()) === 'busy') {
          // Another server is integrating (probably our entries too): wait for its commit
          // (NOTIFY, or a short timeout) and catch up without queueing on its lock.
          await this.moved(25);
          await this.refresh();
        }
        failures = 0;
      } catch (e) {
        if (isLogError(e) && FATAL.has(e.code)) {
          this.fail(e);
          return;
        }
        this.opts.log?.(`log: integration failed (retrying): ${errorText(e)}`);
        if (++failures >= MAX_RETRIES) {
          for (const a of this.awaiting.splice(0)) a.reject(e);
          return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      this.resolveAwaiting();
    }
  }

  private async integrateOnce(): Promise<'busy' | undefined> {
    let done: { prev: StoredCheckpoint; next: StoredCheckpoint } | null = null;
    let busy = false;
    await this.withReplica(async () => {
      const r = await this.store.integrate(
        this.opts.batchMax,
        (c, head) => this.catchUp(c, head),
        async (head, entries) => {
          const t = extendTree(head.size, entries, this.hashes.read, this.key);
          if (this.opts.objectStore) {
            const leafAt = (i: number) => (i < head.size ? this.replica.entry(i)!.leaf : entries[i - head.size]!.leaf);
            await putImmutable(this.opts.objectStore, newTileObjects(head.size, t.next.size, t.read, leafAt));
          }
          return { hashes: t.hashes, next: t.next, root: t.root };
        },
      );
      if (r === 'busy') busy = true;
      if (!r || r === 'busy') return;
      this.applyStep(r.prev.note, r.next, r.entries, r.hashes);
      done = r;
    });
    if (busy) return 'busy';
    if (done)
      await this.afterCommit((done as { prev: StoredCheckpoint }).prev, (done as { next: StoredCheckpoint }).next);
    return undefined;
  }

  /** Resolves on the next NOTIFY that the head moved, or after `ms`. */
  private moved(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.onMove = this.onMove.filter((f) => f !== done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.onMove.push(done);
    });
  }

  /**
   * The unchanged checkpoint cosigned again (log serve --witness-refresh): each server refreshes
   * the head it serves, and writes the merged lines to the shared tree head for the others.
   */
  async refreshCosignatures(): Promise<number> {
    const witnesses = this.opts.witnesses;
    if (this.closing || this.failed || !witnesses) return 0;
    const cp = this.current;
    if (cp.size < 0) return 0;
    try {
      const lines = await witnesses.cosign(cp.note, cp.size, []);
      const cosigned = lines.length > 0 ? mergeCosignatures(cp.note, cp.cosigned, lines) : null;
      if (cosigned === null || !wellFormed(cosigned)) return 0;
      await this.store.setCosigned(cp.note, cosigned);
      await this.withReplica(async () => {
        if (this.current.note !== cp.note) return;
        this.replica.setCosigned(cp.note, cosigned);
        this.current = { ...this.current, cosigned };
      });
      return lines.length;
    } catch (e) {
      this.opts.log?.(`log: cosignature refresh failed: ${errorText(e)}`);
      return 0;
    }
  }

  /** Witness cosignatures and the `checkpoint` object; failures here lose nothing. */
  private async afterCommit(prev: StoredCheckpoint, next: StoredCheckpoint): Promise<void> {
    try {
      if (this.opts.witnesses) {
        const cosigned = await cosign(this.opts.witnesses, prev, next, this.hashes.read, this.opts.log);
        if (cosigned !== null) {
          await this.store.setCosigned(next.note, cosigned);
          await this.withReplica(async () => {
            if (this.replica.latestCheckpoint()?.note !== next.note) return;
            this.replica.setCosigned(next.note, cosigned);
            this.current = { ...next, cosigned };
          });
        }
      }
      const objects = this.opts.objectStore;
      if (objects) {
        await this.store.whilePublishing(async () => {
          const cp = this.current;
          const have = await objects.get('checkpoint');
          if (have === null || this.sizeOf(have) < cp.size) await putCheckpoint(objects, cp.cosigned);
        });
      }
    } catch (e) {
      this.opts.log?.(`log: publishing checkpoint ${next.size} failed (the next one retries): ${errorText(e)}`);
    }
  }

  // ---- the read model ----

  /** Runs `fn` with the read model to itself (one writer of the SQLite file at a time). */
  private withReplica<T>(fn: () => Promise<T>): Promise<T> {
    const turn = this.replicaTurn.then(fn);
    this.replicaTurn = turn.catch(() => {});
    return turn;
  }

  /**
   * Extends the read model to `head`, one recorded checkpoint at a time, verifying each step
   * (see the header). Reads through `c` (inside the integration lock, or the pool).
   */
  private async catchUp(c: pg.PoolClient | pg.Client | pg.Pool, head: StoredCheckpoint): Promise<void> {
    const local = this.replica.latestCheckpoint();
    if (local && local.size > head.size) {
      throw new LogError('STARTUP_MISMATCH', 'the database holds a smaller tree than this server already verified', {
        verifiedSize: local.size,
        databaseSize: head.size,
        databaseCheckpoint: head.note,
      });
    }
    if (local && local.size === head.size) {
      if (local.note !== head.note) {
        throw new LogError(
          'CHECKPOINT_CONFLICT',
          'the database signed another checkpoint at a size this server verified',
          {
            size: head.size,
            verified: local.note,
            database: head.note,
          },
        );
      }
      if (local.cosigned !== head.cosigned && head.cosigned.startsWith(head.note)) {
        this.replica.setCosigned(head.note, head.cosigned);
      }
      this.current = this.replica.latestCheckpoint()!;
      return;
    }
    const steps = await this.store.checkpointRows(c, local ? local.size : -1, head.size);
    const last = steps.at(-1);
    if (!last || last.size !== head.size || last.note !== head.note) {
      throw new LogError('STARTUP_MISMATCH', 'the tree head is not the last recorded checkpoint', {
        headSize: head.size,
        head: head.note,
        ...(last ? { lastRecorded: last.note } : {}),
      });
    }
    for (const step of steps) {
      const prev = this.replica.latestCheckpoint();
      const from = prev ? prev.size : 0;
      const entries = await this.store.entryRows(c, from, step.size);
      if (entries.length !== step.size - from) {
        throw new LogError('STARTUP_MISMATCH', 'entries below the tree head are missing from the database', {
          from,
          to: step.size,
          found: entries.length,
        });
      }
      for (const e of entries) {
        if (!bytesEqual(hashLeaf(e.leaf), e.leafHash))
          throw new LogError('STARTUP_MISMATCH', 'a stored leaf does not hash to its stored leaf hash', {
            index: e.index,
          });
      }
      const t = appendHashes(from, entries, this.hashes.read);
      compareHashes(t.hashes, await this.store.newHashRows(c, from, step.size));
      let cp;
      try {
        cp = openCheckpoint(step.note, this.key.verifier, this.key.origin).checkpoint;
      } catch (e) {
        throw new LogError(
          'STARTUP_MISMATCH',
          'a recorded checkpoint does not verify under the log key',
          { checkpoint: step.note },
          { cause: e },
        );
      }
      if (cp.size !== step.size || !bytesEqual(cp.rootHash, t.root)) {
        throw new LogError('STARTUP_MISMATCH', 'the tree head disagrees with the stored tiles', {
          size: step.size,
          checkpointRoot: cp.rootHash,
          storedRoot: t.root,
        });
      }
      const next = { size: step.size, note: step.note, cosigned: step.size === head.size ? head.cosigned : step.note };
      this.applyStep(prev ? prev.note : null, next, entries, t.hashes);
    }
  }

  private applyStep(expected: string | null, next: StoredCheckpoint, entries: StoredEntry[], hashes: StoredHash[]) {
    this.replica.commitBatch({ expected, next, entries, hashes });
    this.replica.indexPending();
    this.hashes.remember(hashes);
    this.current = next;
  }

  /** Start-up: an object-store checkpoint ahead of (or forking from) the database refuses to serve. */
  private async checkObjectStore(objects: ObjectStore): Promise<void> {
    const have = await objects.get('checkpoint');
    if (have === null) return;
    const note = Buffer.from(have).toString('utf8');
    let cp;
    try {
      cp = openCheckpoint(note, this.key.verifier, this.key.origin).checkpoint;
    } catch (e) {
      throw new LogError(
        'STARTUP_MISMATCH',
        'the object store checkpoint does not verify under the log key',
        { objectCheckpoint: note },
        { cause: e },
      );
    }
    if (cp.size > this.current.size) {
      throw new LogError('STARTUP_MISMATCH', 'the object store holds a checkpoint ahead of the database', {
        objectSize: cp.size,
        databaseSize: this.current.size,
        objectCheckpoint: note,
        databaseCheckpoint: this.current.note,
      });
    }
    const root = treeHash(cp.size, this.hashes.read);
    if (!bytesEqual(root, cp.rootHash)) {
      throw new LogError('STARTUP_MISMATCH', 'the object store checkpoint is not a prefix of the database tree', {
        size: cp.size,
        objectRoot: cp.rootHash,
        databaseRoot: root,
      });
    }
  }

  private sizeOf(note: Uint8Array): number {
    try {
      return openCheckpoint(Buffer.from(note).toString('utf8'), this.key.verifier, this.key.origin).checkpoint.size;
    } catch {
      return -1;
    }
  }

  /** Follows the database: NOTIFY and the poll both land here. */
  private tick(): void {
    if (this.ticking || this.closing || this.failed) return;
    this.ticking = true;
    this.follow()
      .catch((e) => {
        if (isLogError(e) && FATAL.has(e.code)) this.fail(e);
        else this.opts.log?.(`log: following the database failed (retrying): ${errorText(e)}`);
      })
      .finally(() => {
        this.ticking = false;
      });
  }

  /** (Re)opens the LISTEN connection; until it is back, the poll alone keeps this server in step. */
  private async listen(): Promise<void> {
    const lost = () => {
      if (this.listener === c) this.listener = null;
    };
    let c: pg.Client | null = null;
    c = await this.store.listen(
      () => {
        for (const f of [...this.onMove]) f();
        this.tick();
      },
      () => lost(),
    );
    this.listener = c;
  }

  private async follow(): Promise<void> {
    if (!this.listener && !this.closing) await this.listen().catch(() => {});
    const head = await this.store.head();
    if (head.size !== this.current.size || head.cosigned !== this.current.cosigned) {
      await this.withReplica(async () => this.catchUp(this.store.pool, await this.store.head()));
      this.resolveAwaiting();
    }
    if (this.integrating) return;
    // Entries sequenced by a server that died before integrating them: after one quiet poll,
    // whoever notices integrates them (the row lock lets only one do it).
    const next = await this.store.nextIndex();
    if (next > head.size) {
      if (this.stalledAt === head.size) {
        this.orphanRun = true;
        this.kickIntegration();
      }
      this.stalledAt = head.size;
    } else {
      this.stalledAt = -1;
    }
  }

  private resolveAwaiting(): void {
    const size = this.current.size;
    const still: Awaiting[] = [];
    for (const a of this.awaiting) {
      if (a.index < size) {
        a.resolve({
          index: a.index,
          leaf: a.leaf,
          leafHash: a.leafHash,
          checkpoint: this.current,
          duplicate: a.duplicate,
        });
      } else still.push(a);
    }
    this.awaiting = still;
  }

  private fail(e: LogError): void {
    this.failed ??= e;
    this.opts.log?.(`log: this server stops writing: ${errorText(e)}`);
    for (const p of this.pool.splice(0)) p.reject(e);
    for (const a of this.awaiting.splice(0)) a.reject(e);
  }
}

/** The database's stored hashes for a step must be exactly the ones its entries give. */
function compareHashes(derived: StoredHash[], stored: StoredHash[]): void {
  const have = new Map(stored.map((h) => [`${h.level}/${h.index}`, h.hash]));
  for (const h of derived) {
    const s = have.get(`${h.level}/${h.index}`);
    if (!s || !bytesEqual(s, h.hash)) {
      throw new LogError('STARTUP_MISMATCH', 'the stored tiles disagree with the stored entries', {
        level: h.level,
        index: h.index,
        derived: h.hash,
        ...(s ? { stored: s } : { stored: 'missing' }),
      });
    }
  }
  if (stored.length !== derived.length)
    throw new LogError('STARTUP_MISMATCH', 'the database stores hashes its entries do not give', {
      derived: derived.length,
      stored: stored.length,
    });
}
