/**
 * The log server's ports: the small interfaces the sequencer and the HTTP app depend on, with
 * their contracts. Implementations: storage/sqlite.ts (LogStorage), objectstore/memory.ts and
 * objectstore/s3.ts (ObjectStore), witness/client.ts (Witnesses), admission.ts (EntryPolicy).
 *
 * Modelled on sunlight's Backend/LockBackend (internal/ctlog/ctlog.go) and sumdb's ServerOps.
 */

/** Object keys are tlog-tiles paths relative to the log prefix: `checkpoint`, `tile/0/x001/234`, `tile/entries/000.p/7`. */
export interface ObjectStore {
  /**
   * Stores `body` under `key`, durably, before resolving. `immutable` objects (tiles, entry
   * bundles) never change once written: a second put of the same key carries the same bytes, and
   * the store may serve them with long cache lifetimes. Mutable objects (`checkpoint`) must not be
   * cached for more than a few seconds. Puts may run concurrently for different keys; for one
   * mutable key the caller serialises them (the sequencer publishes one checkpoint at a time).
   * Rejects on failure (the caller retries or fails the batch; nothing is acknowledged).
   */
  put(key: string, body: Uint8Array, opts: { contentType: string; immutable: boolean }): Promise<void>;
  /** The stored bytes, or null if the key was never written. Rejects only on I/O failure. */
  get(key: string): Promise<Uint8Array | null>;
}

/**
 * The witnesses a log asks to cosign each new checkpoint (c2sp.org/tlog-witness).
 */
export interface Witnesses {
  /**
   * Submits `signedCheckpoint` (the log-signed note) to every configured witness, with the
   * consistency proof from `oldSize` (the size of the previous checkpoint this log submitted,
   * 0 for the first) to the new size. A witness that answers 409 is resynced by the
   * implementation (it knows how to ask the log for another proof). Resolves to the cosignature
   * lines (each `— <name> <base64>\n`) it collected and verified; a witness that is down or
   * refuses contributes nothing (logged, not fatal). Never rejects; may take up to its own timeout.
   * A freshness refresh submits the current checkpoint again with `oldSize` = its size and no proof
   * (each witness answers a cosignature with a new timestamp).
   */
  cosign(signedCheckpoint: string, oldSize: number, consistencyProof: Uint8Array[]): Promise<string[]>;
}

/** What the log knows about a stored entry, beyond the leaf bytes. */
export type EntryKind = 'release' | 'revocation' | 'rebuild' | 'identity' | 'delivery';

/** The result of admitting a submitted bundle: the leaf to log and the fields it is indexed by. */
export interface AdmittedEntry {
  /** The exact leaf bytes (≤ 65,535 bytes: they travel in tlog-tiles entry bundles). */
  leaf: Uint8Array;
  kind: EntryKind;
  /** Lowercase hex, 96 digits, when the entry names an enclave image. */
  pcr0?: string;
  /** Lowercase hex SHA-256 of the EIF, when present. */
  eifSha256?: string;
  /** Lowercase hex, 40 digits, the source commit, when present. */
  commit?: string;
  /** For revocations: the leaf index of the revoked release and the PCR0 it must carry. */
  revokes?: { index: number; pcr0: string };
  /**
   * Deduplication key (lowercase hex): submissions with the same key are one entry. Release
   * policies set it to the signer + signed statement (verifier's entryReplayKey), so a replayed
   * bundle with a re-encoded or malleated signature returns the existing index instead of
   * logging the statement twice. Defaults to the leaf hash.
   */
  replayKey?: string;
}

/**
 * The log's admission policy for POST /add-entry: verifies the bundle (signature, statement
 * schema, signer allowed) and derives the leaf. Throws (or rejects with) a coded error
 * (VerifierError or LogError) on refusal; never stores anything. May run concurrently for
 * different bundles (a pooled policy verifies on worker threads). `close` releases its workers.
 */
export interface EntryPolicy {
  admit(bundleJson: string, ctx: AdmissionContext): AdmittedEntry | Promise<AdmittedEntry>;
  /** Resolves once the policy can answer at full speed (its workers are loaded). */
  ready?(): Promise<void>;
  close?(): Promise<void>;
}

/** What admission may read from the log: integrated leaves only (undefined beyond the checkpoint). */
export interface AdmissionContext {
  leafAt(index: number): Uint8Array | undefined;
}

export interface StoredEntry extends AdmittedEntry {
  index: number;
  leafHash: Uint8Array;
}

export interface StoredCheckpoint {
  size: number;
  /** The note as signed by the log (what the compare-and-swap compares). */
  note: string;
  /** The note with the witness cosignatures appended (what GET /checkpoint serves). */
  cosigned: string;
}

/** A subtree hash as stored: the hash of leaves [index·2^level, (index+1)·2^level). */
export interface StoredHash {
  level: number;
  index: number;
  hash: Uint8Array;
}

/**
 * Durable log state: the sequencing lock (checkpoint CAS), the entries, and the subtree hashes.
 *
 * Durability: `commitBatch` returns only after the batch is on stable storage (fsync); a crash
 * at any point leaves either the whole batch and its checkpoint, or none of it.
 * Concurrency: one writer (the sequencer) per database; readers may run at any time and see
 * either the state before or after a batch, never part of one.
 * Not found: readers return null/undefined; they never throw for absent data.
 */
export interface LogStorage {
  /** Log identity, fixed at creation. */
  readonly origin: string;
  readonly vkey: string;
  /** The latest checkpoint, or null for a log that never signed one. */
  latestCheckpoint(): StoredCheckpoint | null;
  /** Number of entries stored (equals the latest checkpoint's size in a consistent log). */
  entryCount(): number;
  /** One stored subtree hash. */
  readHash(level: number, index: number): Uint8Array | undefined;
  /** `count` consecutive hashes at `level` starting at `start`, concatenated (shorter if absent). */
  readHashes(level: number, start: number, count: number): Uint8Array;
  entry(index: number): StoredEntry | null;
  /** Leaves [start, start+count), in order (shorter if absent). */
  leaves(start: number, count: number): Uint8Array[];
  /** The index of the integrated entry with this dedup key (AdmittedEntry.replayKey), or null. */
  indexOfReplayKey(replayKey: string): number | null;
  /** Every stored entry's dedup key, in no particular order (to build an in-memory filter at startup). */
  replayKeys(): Iterable<string>;
  /** The newest release entry with this field value, or null. */
  findRelease(field: 'pcr0' | 'eifSha256' | 'commit', value: string): number | null;
  /** The index of the revocation entry that revoked `index`, or null. */
  revokedBy(index: number): number | null;
  /**
   * The lowest index i with after < i < before of a revocation entry that retires `pcr0` (a
   * revocation of any release carrying that PCR0), or null.
   */
  firstRevocation(pcr0: string, after: number, before: number): number | null;
  /**
   * Atomically appends `entries` (indexes oldSize…), stores `hashes`, and moves the checkpoint
   * from `expected` (null: no checkpoint yet) to `next`. Throws LogError CHECKPOINT_CONFLICT if
   * the stored checkpoint is not `expected` (nothing written).
   */
  commitBatch(batch: {
    expected: string | null;
    next: StoredCheckpoint;
    entries: StoredEntry[];
    hashes: StoredHash[];
  }): void;
  /**
   * Folds committed entries into the lookup indexes. Lookups are correct whether or not it has
   * run (they also read the unindexed entries), only slower; call it after commits, off the
   * acknowledged path. Never loses data: the indexes are derived from the entries.
   */
  indexPending(): void;
  /** Replaces the cosigned form of the current checkpoint (`note` must equal the stored note). */
  setCosigned(note: string, cosigned: string): void;
  /** The tree size last fully published to the object store (0 if never). */
  publishedSize(): number;
  setPublishedSize(size: number): void;
  close(): void;
}

/**
 * The write half of the log's storage, which may run on another thread so a commit's fsync
 * never stalls the HTTP event loop. Same contract as LogStorage.commitBatch (atomic, durable
 * before the promise resolves, CHECKPOINT_CONFLICT on a failed compare-and-swap). The
 * sequencer issues one call at a time; readers (LogStorage) see a commit once it resolved.
 */
export interface LogWriter {
  commitBatch(batch: {
    expected: string | null;
    next: StoredCheckpoint;
    entries: StoredEntry[];
    hashes: StoredHash[];
  }): Promise<void>;
  setCosigned(note: string, cosigned: string): Promise<void>;
  setPublishedSize(size: number): Promise<void>;
  close(): Promise<void>;
}

/** An entry's place in the log, as `LogSequencer.submit` answers it. */
export interface Integrated {
  index: number;
  /** The integrated leaf: for a replay (same replayKey, other bytes) the one logged first. */
  leaf: Uint8Array;
  leafHash: Uint8Array;
  /** A checkpoint (with cosignatures) that includes the entry: the one it was first integrated in, or a later one. */
  checkpoint: StoredCheckpoint;
  duplicate: boolean;
}

/**
 * What the HTTP app asks of the write path, whichever store is behind it: sequencer.ts (one
 * process owns a SQLite file) or storage/pg-sequencer.ts (any number of processes share one
 * PostgreSQL database).
 *
 * `submit` resolves only once the entry has an index in a committed transaction AND a signed,
 * committed checkpoint includes it (so the answer can carry an inclusion proof); it rejects
 * with a LogError (PUSHBACK, SHUTTING_DOWN, REVOCATION_TARGET, MEASUREMENT_REVOKED,
 * CHECKPOINT_CONFLICT, STORAGE_FAILED) and then nothing was acknowledged. A submission whose
 * replay key is already logged resolves with the first index, `duplicate: true`.
 * `current` is the newest checkpoint this process has verified and serves; it only grows, and
 * LogStorage answers every read below its size.
 */
export interface LogSequencer {
  readonly current: StoredCheckpoint;
  submit(entry: AdmittedEntry, leafHash: Uint8Array): Promise<Integrated>;
  /** Stops taking submissions and waits for those already taken. */
  close(): Promise<void>;
  /** Where other processes write too: catch `current` up with the store now. */
  refresh?(): Promise<void>;
  /**
   * Asks the witnesses to cosign the unchanged current checkpoint again (log serve
   * --witness-refresh) and keeps the fresh lines; resolves to how many witnesses answered. Never
   * rejects: a witness that is down keeps its older line.
   */
  refreshCosignatures(): Promise<number>;
}
