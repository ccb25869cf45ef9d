/**
 * Memory across calls: the latest verified checkpoint of each log, kept under the user's state
 * directory ($XDG_STATE_HOME/keycast, else ~/.local/state/keycast; --state DIR overrides). One
 * file per log key, named for the log's origin and key ID, holding the signed note as received.
 * Writes are atomic (a temporary file, fsync, rename, fsync of the directory), so a crash leaves
 * the old checkpoint or the new one, never half of one. Callers save only what they verified;
 * what is loaded is re-opened under the pinned key before it is trusted (a file is no authority).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync, unlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseVerifierKey } from '../index.ts';
import { MAX_NOTE_BYTES, sha256, toHex, utf8 } from '../build.ts';
import { readUserFile } from './io.ts';

/** The contract: load what was saved for a log key (null if nothing), save a verified note. */
export interface CheckpointStore {
  load(logKey: string): string | null;
  save(logKey: string, note: string): void;
}

/** For tests and one-shot runs. */
export class MemoryCheckpointStore implements CheckpointStore {
  readonly notes = new Map<string, string>();
  load(logKey: string): string | null {
    return this.notes.get(logKey) ?? null;
  }
  save(logKey: string, note: string): void {
    this.notes.set(logKey, note);
  }
}

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.local', 'state'), 'keycast');
}

/** Writes `data` to `path` atomically (same directory temp file, fsync, rename, fsync dir). */
export function writeAtomic(path: string, dir: string, data: Uint8Array): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.tmp-${process.pid}-${toHex(randomBytes(6))}`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  const d = openSync(dir, 'r');
  try {
    fsyncSync(d);
  } finally {
    closeSync(d);
  }
}

export class FileCheckpointStore implements CheckpointStore {
  readonly dir: string;
  constructor(stateDir: string = defaultStateDir()) {
    this.dir = join(stateDir, 'checkpoints');
  }

  /** `<origin with unsafe characters as _>.<first 16 hex of SHA-256(vkey)>` */
  fileFor(logKey: string): string {
    const name = parseVerifierKey(logKey)
      .name.replace(/[^A-Za-z0-9._-]/g, '_')
      .slice(0, 100);
    return join(this.dir, `${name}.${toHex(sha256(utf8(logKey))).slice(0, 16)}`);
  }

  load(logKey: string): string | null {
    try {
      return new TextDecoder().decode(readUserFile(this.fileFor(logKey), MAX_NOTE_BYTES, 'saved checkpoint'));
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return null;
      throw e;
    }
  }

  save(logKey: string, note: string): void {
    writeAtomic(this.fileFor(logKey), this.dir, utf8(note));
  }
}
