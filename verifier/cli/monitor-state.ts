/**
 * What `keycast monitor` remembers about one log between passes: the last checkpoint it verified,
 * the next entry to read, and what it learned from the entries up to there (releases, revocations,
 * the replay keys that make a re-logged statement a duplicate). One JSON file per log key under
 * the state directory, written atomically, and only after a pass verified without alarms.
 */
import { join } from 'node:path';
import { parseVerifierKey } from '../index.ts';
import { sha256, toHex, utf8 } from '../build.ts';
import { readUserFile } from './io.ts';
import { writeAtomic } from './state.ts';

export interface KnownRelease {
  pcr0: string;
  repo: string | null;
  commit: string | null;
}

export interface MonitorState {
  version: 1;
  /** The last verified checkpoint note, or null before the first pass. */
  checkpoint: string | null;
  /** The next entry index to read. */
  next: number;
  releases: Record<string, KnownRelease>;
  /** release index → index of the first revocation of it */
  revoked: Record<string, number>;
  /** revocation index → the release index it revokes */
  revocations: Record<string, number>;
  replayKeys: string[];
}

export function emptyState(): MonitorState {
  return { version: 1, checkpoint: null, next: 0, releases: {}, revoked: {}, revocations: {}, replayKeys: [] };
}

/** The contract: load (an empty state if none) and save (only verified state). */
export interface MonitorStore {
  load(logKey: string): MonitorState;
  save(logKey: string, s: MonitorState): void;
}

const MAX_STATE_BYTES = 256 * 1024 * 1024;

export class FileMonitorStore implements MonitorStore {
  readonly dir: string;
  constructor(stateDir: string) {
    this.dir = join(stateDir, 'monitor');
  }
  fileFor(logKey: string): string {
    const name = parseVerifierKey(logKey)
      .name.replace(/[^A-Za-z0-9._-]/g, '_')
      .slice(0, 100);
    return join(this.dir, `${name}.${toHex(sha256(utf8(logKey))).slice(0, 16)}.json`);
  }
  load(logKey: string): MonitorState {
    let bytes: Uint8Array;
    try {
      bytes = readUserFile(this.fileFor(logKey), MAX_STATE_BYTES, 'monitor state');
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return emptyState();
      throw e;
    }
    const s = JSON.parse(new TextDecoder().decode(bytes)) as MonitorState;
    if (s.version !== 1 || !Number.isSafeInteger(s.next))
      throw new Error(`${this.fileFor(logKey)} is not a keycast monitor state file`);
    return s;
  }
  save(logKey: string, s: MonitorState): void {
    writeAtomic(this.fileFor(logKey), this.dir, utf8(JSON.stringify(s)));
  }
}
