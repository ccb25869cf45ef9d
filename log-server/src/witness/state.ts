/**
 * A witness's persisted state (c2sp.org/tlog-witness v1.0.0 §"Witness state"): for each log
 * origin, the latest checkpoint it cosigned. The spec requires the check ("old equals my size")
 * and the update to be atomic, or two racing requests can roll the witness back; here every
 * update runs under one in-process lock and is durable before it resolves.
 *
 * On disk: DIR/witness-state.json, replaced by write-temp + fsync + rename + fsync(dir), so a
 * crash leaves either the old or the new file, never a torn one. Refused checkpoints that
 * prove a log misbehaved (a fork, a rollback) are kept as evidence files in DIR/evidence/.
 *
 * Records are keyed by the log's origin, an outside string that may be any valid C2SP key
 * name — `__proto__` and `constructor` included — so they live in a Map, never in a plain
 * object (where `__proto__` would set the prototype instead of storing the record, and a
 * restarted witness would forget the log and cosign a fork of a tree it already cosigned).
 * The file keeps the `{ "logs": { origin: record } }` shape; JSON.parse stores `__proto__` as
 * an own property, and Object.entries reads it back.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { LogError } from '../errors.ts';

export const STATE_FILE = 'witness-state.json';
export const EVIDENCE_DIR = 'evidence';

/** The latest checkpoint cosigned for one log. */
export interface LogRecord {
  size: number;
  /** The log-signed checkpoint note, verbatim. */
  checkpoint: string;
  /**
   * The cosignature line(s) this witness returned for it (absent in state written before the
   * witness kept them; GET /logs/<origin>/checkpoint then cosigns the stored checkpoint afresh).
   */
  cosignature?: string;
}

function copyRecord(r: LogRecord): LogRecord {
  return {
    size: r.size,
    checkpoint: r.checkpoint,
    ...(r.cosignature === undefined ? {} : { cosignature: r.cosignature }),
  };
}

/**
 * The witness's state port.
 *
 * Durability: `update` resolves only after the new record is on stable storage.
 * Concurrency: updates (for any origin) are serialised; `fn` sees the record as it is at that
 * moment and nothing can change it until `update` resolves or rejects.
 * Not found: `latest` returns null for an origin never cosigned.
 */
export interface WitnessState {
  latest(origin: string): LogRecord | null;
  /**
   * Runs `fn(current)` under the lock. If it returns a record, that record is persisted
   * before `update` resolves with it; if it returns null nothing changes; if it throws,
   * nothing changes and `update` rejects with the same error.
   */
  update(origin: string, fn: (current: LogRecord | null) => LogRecord | null): Promise<LogRecord | null>;
  /** Persists evidence of a log's misbehaviour (public material only). Returns the file name. */
  recordEvidence(origin: string, evidence: Record<string, unknown>): string;
}

interface StateFile {
  version: 1;
  logs: Record<string, LogRecord>;
}

/** The file text for `logs` (a null-prototype object, so every origin is an own key). */
function formatState(logs: ReadonlyMap<string, LogRecord>): string {
  const out: Record<string, LogRecord> = Object.create(null);
  for (const [origin, r] of logs)
    Object.defineProperty(out, origin, {
      value: copyRecord(r),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  const file: StateFile = { version: 1, logs: out };
  return JSON.stringify(file, null, 1) + '\n';
}

/** Writes `data` to `path` atomically and durably (temp file, fsync, rename, fsync of the directory). */
export function writeFileAtomic(dir: string, name: string, data: string, mode = 0o600): void {
  const tmp = join(dir, `.${name}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, name));
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

export class FileWitnessState implements WitnessState {
  private logs: ReadonlyMap<string, LogRecord>;
  private queue: Promise<unknown> = Promise.resolve();

  /** Opens (or starts empty) the state in `dir`. A corrupt state file is WITNESS_STATE: never silently reset. */
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.logs = readState(join(dir, STATE_FILE));
  }

  latest(origin: string): LogRecord | null {
    return this.logs.get(origin) ?? null;
  }

  update(origin: string, fn: (current: LogRecord | null) => LogRecord | null): Promise<LogRecord | null> {
    const run = this.queue.then(() => {
      const next = fn(this.latest(origin));
      if (next === null) return null;
      const logs = new Map(this.logs).set(origin, copyRecord(next));
      writeFileAtomic(this.dir, STATE_FILE, formatState(logs));
      this.logs = logs;
      return next;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  recordEvidence(origin: string, evidence: Record<string, unknown>): string {
    const dir = join(this.dir, EVIDENCE_DIR);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const body = JSON.stringify({ origin, recordedAt: new Date().toISOString(), ...evidence }, null, 1) + '\n';
    const name = `${Date.now()}-${createHash('sha256').update(body).digest('hex').slice(0, 16)}.json`;
    writeFileAtomic(dir, name, body, 0o644);
    return name;
  }
}

function readState(path: string): Map<string, LogRecord> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new LogError('WITNESS_STATE', `cannot read witness state ${path}`, {
      path,
      errno: (e as NodeJS.ErrnoException).code,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new LogError('WITNESS_STATE', `witness state ${path} is not JSON`, { path });
  }
  const f = parsed as Partial<StateFile>;
  if (f?.version !== 1 || typeof f.logs !== 'object' || f.logs === null)
    throw new LogError('WITNESS_STATE', 'unknown witness state format', { path });
  const logs = new Map<string, LogRecord>();
  for (const [origin, r] of Object.entries(f.logs)) {
    if (
      !Number.isSafeInteger(r?.size) ||
      r.size < 0 ||
      typeof r.checkpoint !== 'string' ||
      (r.cosignature !== undefined && typeof r.cosignature !== 'string')
    ) {
      throw new LogError('WITNESS_STATE', 'malformed record in witness state', { path, origin });
    }
    logs.set(origin, copyRecord(r));
  }
  return logs;
}
