/**
 * Mirrors the log to an ObjectStore (S3 or memory) in c2sp.org/tlog-tiles layout, so reads can
 * be served from a bucket or CDN. Order: every tile and entry bundle a checkpoint implies is
 * uploaded before that checkpoint is (clients never see a checkpoint whose tiles are missing).
 * SQLite remains the source of truth: publishing catches up from `publishedSize` after a failure
 * or a crash, so nothing depends on an upload succeeding the first time.
 */
import { entriesPath, newEntryBundles, newTiles, tilePath, utf8 } from '#verifier';
import type { LogStorage, LogWriter, ObjectStore, StoredCheckpoint } from './ports.ts';
import type { TileReader } from './tiles.ts';

const TILE = { contentType: 'application/octet-stream', immutable: true };
const CHECKPOINT = { contentType: 'text/plain; charset=utf-8', immutable: false };
const PARALLEL = 8;

export class Publisher {
  private tilesDone = 0;
  private published = 0;

  constructor(
    private readonly storage: LogStorage,
    private readonly tiles: TileReader,
    private readonly store: ObjectStore,
    private readonly writer: LogWriter,
  ) {}

  /** Uploads every tile and bundle new between the last published size and `size`. */
  async publishTiles(size: number): Promise<void> {
    const from = Math.max(this.published, this.storage.publishedSize());
    if (size <= from) return;
    const jobs: Array<() => Promise<void>> = [];
    for (const t of newEntryBundles(from, size)) {
      jobs.push(() =>
        this.store.put(entriesPath(t.index, t.width), this.tiles.entryBundle(t.index, t.width, size), TILE),
      );
    }
    for (const t of newTiles(from, size))
      jobs.push(() => this.store.put(tilePath(t), this.tiles.hashTile(t, size), TILE));
    for (let i = 0; i < jobs.length; i += PARALLEL) await Promise.all(jobs.slice(i, i + PARALLEL).map((j) => j()));
    this.tilesDone = size;
  }

  /** Uploads the checkpoint, only if the tiles it implies are up; then records the published size. */
  async publishCheckpoint(cp: StoredCheckpoint): Promise<void> {
    if (this.tilesDone < cp.size) await this.publishTiles(cp.size);
    await this.store.put('checkpoint', utf8(cp.cosigned), CHECKPOINT);
    await this.writer.setPublishedSize(cp.size);
    this.published = cp.size;
  }
}
