/**
 * An in-memory, no-false-negative filter of every replay key the log has accepted: the first
 * 28 bits of each (hex) key, in a Set of small integers. A submission whose prefix is absent
 * is new for certain, so the sequencer skips the storage lookup that otherwise costs every
 * append a SQLite query; a present prefix (a replay, or about one in 2^28/size by chance)
 * falls through to the exact lookup. Loaded from storage at startup (about 20–40 bytes per
 * entry: ~30 MB for a million entries) and added to as entries are pooled, so it is always a
 * superset of what is stored.
 */
import type { LogStorage } from './ports.ts';

function prefix(key: string): number {
  // A fixed function of the key, so a key that was added is always found, whatever it holds
  // (replay keys are hex; anything else just collides more often and falls through).
  return parseInt(key.slice(0, 7), 16);
}

export class SeenKeys {
  private readonly set = new Set<number>();

  static load(storage: LogStorage): SeenKeys {
    const s = new SeenKeys();
    for (const k of storage.replayKeys()) s.add(k);
    return s;
  }

  /** False: never accepted. True: maybe (ask storage). */
  mightContain(key: string): boolean {
    return this.set.has(prefix(key));
  }

  add(key: string): void {
    this.set.add(prefix(key));
  }
}
