/**
 * Mirrors the log to an ObjectStore (S3 or memory) in c2sp.org/tlog-tiles layout, so reads can
 * be served from a bucket or CDN. Order: every tile and entry bundle a checkpoint implies is
 * uploaded before that checkpoint is (clients never see a checkpoint whose tiles are missing).
 * SQLite remains the source of truth: publishing catches up from `publishedSize` after a failure
 * or a crash, so nothing depends on an upload succeeding the first time.
 */
import {
  bytesEqual,
  encodeEntryBundle,
  entriesPath,
  newEntryBundles,
  newTiles,
  tilePath,
  utf8,
  TILE_HEIGHT,
  TILE_WIDTH,
} from '#verifier/build';
import type { HashReader } from '#verifier/build';
import { LogError } from './errors.ts';
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

/**
 * The tlog-tiles objects (hash tiles and entry bundles) new between tree sizes `from` and `to`,
 * cut from a HashReader and a leaf reader (the state a batch is about to commit, before any
 * LogStorage holds it).
 */
export function newTileObjects(
  from: number,
  to: number,
  read: HashReader,
  leafAt: (index: number) => Uint8Array,
): Array<{ key: string; body: Uint8Array }> {
  const out: Array<{ key: string; body: Uint8Array }> = [];
  for (const t of newEntryBundles(from, to)) {
    const leaves = Array.from({ length: t.width }, (_, i) => leafAt(t.index * TILE_WIDTH + i));
    out.push({ key: entriesPath(t.index, t.width), body: encodeEntryBundle(leaves) });
  }
  for (const t of newTiles(from, to)) {
    const body = new Uint8Array(t.width * 32);
    for (let i = 0; i < t.width; i++) body.set(read(t.level * TILE_HEIGHT, t.index * TILE_WIDTH + i), i * 32);
    out.push({ key: tilePath(t), body });
  }
  return out;
}

/**
 * Writes immutable objects so that a retry is harmless and a fork is loud: an absent key is
 * written, a key already holding the same bytes counts as success (another server, or this one
 * before a crash, wrote it), and a key holding different bytes is PUBLISH_FAILED with the key
 * as evidence (the bucket and the log disagree about the tree; nothing more is written).
 */
export async function putImmutable(
  store: ObjectStore,
  objects: Array<{ key: string; body: Uint8Array }>,
): Promise<void> {
  const one = async (o: { key: string; body: Uint8Array }) => {
    const have = await store.get(o.key);
    if (have === null) return store.put(o.key, o.body, TILE);
    if (!bytesEqual(have, o.body))
      throw new LogError('PUBLISH_FAILED', 'the object store holds different bytes for an immutable tile', {
        key: o.key,
      });
  };
  for (let i = 0; i < objects.length; i += PARALLEL) await Promise.all(objects.slice(i, i + PARALLEL).map(one));
}

/** Uploads the mutable `checkpoint` object. */
export function putCheckpoint(store: ObjectStore, cosigned: string): Promise<void> {
  return store.put('checkpoint', utf8(cosigned), CHECKPOINT);
}
