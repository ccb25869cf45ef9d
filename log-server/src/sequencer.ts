/**
 * The integration loop, after sunlight's sequencePool (internal/ctlog/ctlog.go): submissions
 * are pooled; one batch at a time is sequenced, its subtree hashes computed in memory
 * (RFC 6962 via #verifier), the checkpoint signed (c2sp.org/tlog-checkpoint), and entries,
 * hashes and checkpoint committed in ONE SQLite transaction with a compare-and-swap on the
 * checkpoint. Only then are tiles published, witnesses asked, and the waiting requests answered.
 * A batch forms while the previous one commits (group commit), so batches grow with load, and
 * is queued on the writer behind it (see `loop`), so commits follow each other back to back.
 *
 * Never acknowledges an entry before its batch is durable; never signs a checkpoint that does not
 * extend the stored one (the CAS fails closed and the sequencer stops).
 */
import type { HashReader } from '#verifier/build';
import { errorText } from '#verifier';
import { formatCheckpoint, signNote, splitNote, subtreeHashesForAppend, treeHash, toHex } from '#verifier/build';
import { LogError } from './errors.ts';
import type {
  AdmittedEntry,
  Integrated,
  LogSequencer,
  LogStorage,
  LogWriter,
  StoredCheckpoint,
  StoredEntry,
  StoredHash,
  Witnesses,
} from './ports.ts';
import type { LogKey } from './keys.ts';
import { type HashCache, overlayKey, overlayReader } from './tree.ts';
import type { Publisher } from './publish.ts';
import { consistencyProof } from './proofs.ts';
import { SeenKeys } from './seen.ts';
import { mergeCosignatures } from './witness/cosignatures.ts';

export interface SequencerOptions {
  /** Largest batch integrated at once. */
  batchMax: number;
  /** Most submissions waiting; beyond it, PUSHBACK (503 + Retry-After). */
  poolMax: number;
  log?: (msg: string) => void;
}

interface Pending {
  entry: AdmittedEntry;
  leafHash: Uint8Array;
  resolve: (r: Integrated) => void;
  reject: (e: unknown) => void;
}

/** Batches handed to the writer and not yet completed, at most: one committing, one queued behind it. */
const IN_FLIGHT_MAX = 2;

/** A batch handed to the writer. */
interface InFlight {
  waiting: Pending[];
  entries: StoredEntry[];
  hashes: StoredHash[];
  prev: StoredCheckpoint;
  next: StoredCheckpoint;
  /** `hashes` by overlayKey, for the batches built on this one before it completes. */
  pending: Map<number, Uint8Array>;
  commit: Promise<void>;
  revocations: boolean;
}

/** Whether the next batch taken from `pool` holds a revocation. */
function revocationAhead(pool: Pending[], batchMax: number): boolean {
  const n = Math.min(pool.length, batchMax);
  for (let i = 0; i < n; i++) if (pool[i]!.entry.revokes) return true;
  return false;
}

export class Sequencer implements LogSequencer {
  private pool: Pending[] = [];
  private readonly inflight = new Map<string, Promise<Integrated>>();
  private running: Promise<void> | null = null;
  /** Batches handed to the writer, oldest first, not yet completed (see `loop`). */
  private window: InFlight[] = [];
  private looping = false;
  private abandoning = false;
  private fillSoon = false;
  private failed: LogError | null = null;
  private closing = false;
  private readonly seen: SeenKeys;
  current: StoredCheckpoint;

  constructor(
    private readonly storage: LogStorage,
    private readonly key: LogKey,
    readonly hashes: HashCache,
    private readonly opts: SequencerOptions,
    private readonly publisher: Publisher | null,
    private readonly witnesses: Witnesses | null,
    private readonly writer: LogWriter,
  ) {
    const cp = storage.latestCheckpoint();
    if (!cp) throw new LogError('STARTUP_MISMATCH', 'log has no checkpoint', {});
    this.current = cp;
    this.seen = SeenKeys.load(storage);
  }

  /** Queues an admitted entry; resolves once it is durably integrated (or already was). */
  submit(entry: AdmittedEntry, leafHash: Uint8Array): Promise<Integrated> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.closing) return Promise.reject(new LogError('SHUTTING_DOWN', 'the log is shutting down', {}));
    // Deduplicate by the replay key (signer + signed statement), not the leaf bytes, so a
    // replayed bundle with a malleated signature answers with the entry logged first.
    // In-flight first: a batch's rows become readable just before `current` moves past them.
    const hex = entry.replayKey ?? toHex(leafHash);
    const waiting = this.inflight.get(hex);
    if (waiting) return waiting.then((r) => ({ ...r, duplicate: true }));
    const existing = this.seen.mightContain(hex) ? this.storage.indexOfReplayKey(hex) : null;
    if (existing !== null && existing < this.current.size)
      return Promise.resolve(integratedDuplicate(this.storage, existing, this.current));
    if (existing !== null) return this.afterRunning().then(() => this.submit(entry, leafHash));
    if (this.pool.length >= this.opts.poolMax) {
      return Promise.reject(
        new LogError('PUSHBACK', 'too many entries waiting to be integrated; retry shortly', {
          pending: this.pool.length,
        }),
      );
    }
    const p = new Promise<Integrated>((resolve, reject) => this.pool.push({ entry, leafHash, resolve, reject }));
    this.seen.add(hex); // before it can be stored: the filter stays a superset
    this.inflight.set(hex, p);
    const forget = () => this.inflight.delete(hex);
    p.then(forget, forget);
    if (this.looping) this.scheduleFill();
    else this.kick();
    return p;
  }

  private async afterRunning(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stops taking submissions and waits for the batches already pooled. */
  async close(): Promise<void> {
    this.closing = true;
    while (this.running) await this.running;
  }

  /**
   * Asks the witnesses to cosign the current checkpoint again (same tree, new timestamps) and
   * serves the merged cosignatures (witness/cosignatures.ts), so checkpoints stay fresh while
   * nothing is appended. Skipped while a batch runs (its checkpoint is being cosigned anyway);
   * a batch submitted meanwhile waits for it. Resolves to the number of fresh cosignatures.
   */
  refreshCosignatures(): Promise<number> {
    if (this.running || this.closing || this.failed || !this.witnesses) return Promise.resolve(0);
    const witnesses = this.witnesses;
    let fresh = 0;
    this.running = (async () => {
      const cp = this.current;
      const lines = await witnesses.cosign(cp.note, cp.size, []);
      const cosigned = lines.length > 0 ? mergeCosignatures(cp.note, cp.cosigned, lines) : null;
      if (cosigned === null || this.current !== cp || !wellFormed(cosigned)) return;
      await this.writer.setCosigned(cp.note, cosigned);
      this.current = { ...cp, cosigned };
      fresh = lines.length;
      if (this.publisher)
        await this.publisher
          .publishCheckpoint(this.current)
          .catch((e) => this.opts.log?.(`log: checkpoint publish failed (will retry): ${errorText(e)}`));
    })()
      .catch((e) => this.opts.log?.(`log: cosignature refresh failed: ${errorText(e)}`))
      .finally(() => {
        this.running = null;
        if (this.pool.length > 0) this.kick();
      });
    return this.running.then(() => fresh);
  }

  private kick(): void {
    if (this.running) return;
    this.running = new Promise<void>((done) =>
      setImmediate(() =>
        this.loop().finally(() => {
          this.running = null;
          done();
          // a submission that arrived as the loop was ending
          if (this.pool.length > 0) this.kick();
        }),
      ),
    );
  }

  /**
   * Commits are pipelined: while one batch's transaction is on the writer (its fsync is most of
   * a batch's time), the next batch is hashed, signed on top of it and queued behind it (`fill`,
   * as soon as submissions arrive), so the writer goes from one commit to the next without
   * waiting for this thread. Batches complete strictly in order, and a batch is acknowledged,
   * its hashes cached and `current` moved only once its own commit is durable.
   */
  private async loop(): Promise<void> {
    this.looping = true;
    try {
      this.fill();
      while (this.window.length > 0) {
        const head = this.window[0]!;
        try {
          await head.commit;
        } catch (e) {
          await this.abandon(e);
          this.fill();
          continue;
        }
        this.window.shift();
        this.hashes.remember(head.hashes);
        this.current = head.next;
        this.fill();
        await this.afterCommit(head.prev, head.next);
        const cp = this.current;
        head.entries.forEach((e, i) =>
          head.waiting[i]!.resolve({
            index: e.index,
            leaf: e.leaf,
            leafHash: e.leafHash,
            checkpoint: cp,
            duplicate: false,
          }),
        );
        this.fill();
      }
    } finally {
      this.looping = false;
    }
    if (this.failed) for (const p of this.pool.splice(0)) p.reject(this.failed);
  }

  /** Fills the window from the pool, soon (submissions arriving in one turn share a batch). */
  private scheduleFill(): void {
    if (this.fillSoon || this.window.length >= IN_FLIGHT_MAX) return;
    this.fillSoon = true;
    setImmediate(() => {
      this.fillSoon = false;
      if (this.looping) this.fill();
    });
  }

  /**
   * Hands pooled submissions to the writer while the window has room. A batch that holds a
   * revocation, or would follow one still in flight, waits for the window to drain:
   * checkRevocations reads committed storage only.
   */
  private fill(): void {
    const w = this.window;
    while (this.pool.length > 0 && w.length < IN_FLIGHT_MAX && !this.failed && !this.abandoning) {
      if (w.length > 0) {
        // Behind a commit only once the pool holds a batch at least as big as the last one in
        // flight: smaller batches would each cost a signature and an fsync for fewer entries.
        if (this.pool.length < Math.min(w.at(-1)!.entries.length, this.opts.batchMax)) return;
        if (w.some((b) => b.revocations) || revocationAhead(this.pool, this.opts.batchMax)) return;
      }
      const f = this.prepare(this.pool.splice(0, this.opts.batchMax));
      if (f !== null) w.push(f);
    }
  }

  /**
   * Checks a batch, extends the tree with it (on top of the batches still in the window, whose
   * hashes are not stored yet), signs, and hands it to the writer.
   */
  private prepare(batch: Pending[]): InFlight | null {
    const window = this.window;
    const prev = window.at(-1)?.next ?? this.current;
    const stored = this.hashes.read;
    const inFlight = [...window];
    const read: HashReader =
      inFlight.length === 0
        ? stored
        : (level, index) => {
            const k = overlayKey(level, index);
            for (const b of inFlight) {
              const h = b.pending.get(k);
              if (h !== undefined) return h;
            }
            return stored(level, index);
          };
    try {
      const { accepted, rejected } = checkRevocations(batch, prev.size, this.storage);
      for (const [p, e] of rejected) p.reject(e);
      if (accepted.length === 0) return null;
      const entries: StoredEntry[] = accepted.map((p, i) => storedEntry(p.entry, prev.size + i, p.leafHash));
      const { hashes, next } = extendTree(prev.size, entries, read, this.key);
      const pending = new Map<number, Uint8Array>();
      for (const h of hashes) pending.set(overlayKey(h.level, h.index), h.hash);
      const commit = this.writer.commitBatch({ expected: prev.note, next, entries, hashes });
      commit.catch(() => {}); // observed, in order, by loop()
      const revocations = entries.some((e) => e.revokes !== undefined);
      return { waiting: accepted, entries, hashes, prev, next, pending, commit, revocations };
    } catch (e) {
      this.opts.log?.(`log: batch of ${batch.length} failed: ${errorText(e)}`);
      for (const p of batch) p.reject(e);
      return null;
    }
  }

  /**
   * The window's first commit failed. Every batch queued behind it was built on it and cannot
   * commit either (its compare-and-swap expects the failed one's checkpoint): wait for the
   * writer to settle them, then refuse all their entries with the first error. Stops the
   * sequencer (fail closed) on a conflict, or if the stored checkpoint nevertheless moved.
   */
  private async abandon(e: unknown): Promise<void> {
    this.abandoning = true;
    const all = this.window;
    try {
      await Promise.allSettled(all.map((b) => b.commit));
      let error = e;
      if (e instanceof LogError && e.code === 'CHECKPOINT_CONFLICT') this.failed = e;
      else {
        const stored = this.storage.latestCheckpoint();
        if (stored?.note !== this.current.note) {
          this.failed = new LogError('CHECKPOINT_CONFLICT', 'the stored checkpoint moved past a failed commit', {
            expected: this.current.note,
            stored: stored?.note ?? null,
          });
          error = this.failed;
        }
      }
      const n = all.reduce((k, b) => k + b.entries.length, 0);
      this.opts.log?.(`log: ${all.length} batch(es) of ${n} entries failed: ${errorText(e)}`);
      for (const b of all) for (const p of b.waiting) p.reject(error);
    } finally {
      this.window = [];
      this.abandoning = false;
    }
  }

  /** Publishes tiles, collects cosignatures, publishes the checkpoint. Failures here never lose entries. */
  private async afterCommit(prev: StoredCheckpoint, next: StoredCheckpoint): Promise<void> {
    if (this.publisher)
      await this.publisher
        .publishTiles(next.size)
        .catch((e) => this.opts.log?.(`log: tile publish failed (will retry): ${errorText(e)}`));
    if (this.witnesses) {
      const cosigned = await cosign(this.witnesses, prev, next, this.hashes.read, this.opts.log);
      if (cosigned !== null && this.current === next) {
        await this.writer.setCosigned(next.note, cosigned);
        this.current = { ...next, cosigned };
      }
    }
    if (this.publisher)
      await this.publisher
        .publishCheckpoint(this.current)
        .catch((e) => this.opts.log?.(`log: checkpoint publish failed (will retry): ${errorText(e)}`));
  }
}

/** What checkRevocations reads: the entries sequenced before the batch. */
export type RevocationLookups = Pick<LogStorage, 'entry' | 'revokedBy' | 'firstRevocation'>;

/**
 * A revocation must name a sequenced, unrevoked release with the PCR0 it claims. A release
 * whose PCR0 a revocation already retired (stored, or earlier in this batch) is refused:
 * revoking a release retires its measurement, and a later release must not make it active again.
 * `size` is the index the batch's first entry will get; `log` answers for entries below it.
 * The one rule for both stores: the SQLite sequencer asks its storage, the PostgreSQL one asks
 * rows it read under the sequencing lock.
 */
export function checkRevocations<P extends { entry: AdmittedEntry }>(
  batch: P[],
  size: number,
  log: RevocationLookups,
): { accepted: P[]; rejected: Array<[P, LogError]> } {
  const accepted: P[] = [];
  const rejected: Array<[P, LogError]> = [];
  const revokedHere = new Set<number>();
  const retiredHere = new Map<string, number>(); // PCR0 → its batch position's future index
  for (const p of batch) {
    const r = p.entry.revokes;
    if (r) {
      const target = r.index < size ? log.entry(r.index) : null;
      let why: string | null = null;
      if (!target || target.kind !== 'release') why = 'no release entry at that index';
      else if (target.pcr0 !== r.pcr0) why = 'the PCR0 does not match the release at that index';
      else if (revokedHere.has(r.index) || log.revokedBy(r.index) !== null) why = 'that release is already revoked';
      if (why) {
        rejected.push([p, new LogError('REVOCATION_TARGET', why, { index: r.index, pcr0: r.pcr0 })]);
        continue;
      }
      revokedHere.add(r.index);
      if (!retiredHere.has(r.pcr0)) retiredHere.set(r.pcr0, size + accepted.length);
    } else if (p.entry.kind === 'release' && p.entry.pcr0 !== undefined) {
      const by = log.firstRevocation(p.entry.pcr0, -1, size) ?? retiredHere.get(p.entry.pcr0) ?? null;
      if (by !== null) {
        rejected.push([
          p,
          new LogError(
            'MEASUREMENT_REVOKED',
            `that PCR0 was revoked by entry ${by}; a revoked measurement is not admitted again`,
            { pcr0: p.entry.pcr0, revokedBy: by },
          ),
        ]);
        continue;
      }
    }
    accepted.push(p);
  }
  return { accepted, rejected };
}

/**
 * Asks the witnesses to cosign `next` (consistency from `prev`) and returns the note with their
 * lines appended, or null when none answered or what they sent would not keep the note
 * well-formed. Shared by both sequencers.
 */
export async function cosign(
  witnesses: Witnesses,
  prev: StoredCheckpoint,
  next: StoredCheckpoint,
  read: HashReader,
  log?: (msg: string) => void,
): Promise<string | null> {
  const proof = prev.size === 0 ? [] : consistencyProof(prev.size, next.size, read);
  const lines = await witnesses.cosign(next.note, prev.size, proof);
  if (lines.length === 0) return null;
  const cosigned = next.note + lines.map((l) => (l.endsWith('\n') ? l : `${l}\n`)).join('');
  if (wellFormed(cosigned)) return cosigned;
  log?.('log: dropping malformed cosignature lines; serving the checkpoint without them');
  return null;
}

/** The answer to a submission whose replay key an integrated entry (`index` < current.size) already has. */
export function integratedDuplicate(storage: LogStorage, index: number, current: StoredCheckpoint): Integrated {
  const stored = storage.entry(index)!;
  return { index, leaf: stored.leaf, leafHash: stored.leafHash, checkpoint: current, duplicate: true };
}

/** The entry as stored at `index`: a revocation is stored under the PCR0 it retires (firstRevocation finds it there). */
export function storedEntry(entry: AdmittedEntry, index: number, leafHash: Uint8Array): StoredEntry {
  const pcr0 = entry.revokes ? { pcr0: entry.revokes.pcr0 } : {};
  return { ...entry, ...pcr0, index, leafHash };
}

/**
 * The subtree hashes that appending `entries` (indexes size, size+1, …) to the tree whose stored
 * hashes `read` gives makes known, and the new root. `read` itself is not changed: the result's
 * `read` sees the new hashes in an overlay until they are committed.
 */
export function appendHashes(
  size: number,
  entries: StoredEntry[],
  read: HashReader,
): { hashes: StoredHash[]; read: HashReader; size: number; root: Uint8Array } {
  const pending = new Map<number, Uint8Array>();
  const over = overlayReader(read, pending);
  const hashes: StoredHash[] = [];
  for (const e of entries) {
    if (e.index !== size) throw new RangeError(`entry ${e.index} appended at size ${size}`);
    for (const h of subtreeHashesForAppend(size, e.leafHash, over)) {
      pending.set(overlayKey(h.level, h.index), h.hash);
      hashes.push(h);
    }
    size++;
  }
  return { hashes, read: over, size, root: treeHash(size, over) };
}

/** appendHashes, and the log's signed checkpoint of the new size (c2sp.org/tlog-checkpoint). */
export function extendTree(
  size: number,
  entries: StoredEntry[],
  read: HashReader,
  key: LogKey,
): { hashes: StoredHash[]; next: StoredCheckpoint; read: HashReader; root: Uint8Array } {
  const t = appendHashes(size, entries, read);
  const text = formatCheckpoint({ origin: key.origin, size: t.size, rootHash: t.root, extensions: [] });
  const note = signNote(text, [key.signer]);
  return { hashes: t.hashes, next: { size: t.size, note, cosigned: note }, read: t.read, root: t.root };
}

/** A served checkpoint must stay a well-formed note, whatever a witness sent back. */
export function wellFormed(note: string): boolean {
  try {
    splitNote(note);
    return true;
  } catch {
    return false;
  }
}
