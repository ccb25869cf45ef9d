/**
 * Where the log keeps sealed delivery manifests (issue 19), by the hex SHA-256 of their bytes:
 * the leaf of a delivery entry names a manifest by digest and size, and the log stores the bytes
 * durably BEFORE it acknowledges the entry, so a studio can always fetch what an entry names
 * (`GET /delivery-manifest/<sha256>`). Content-addressed and immutable: a second put of one
 * digest is a no-op, and a get checks the bytes against their name.
 *
 * Apart from the log's own storage (entries, hashes, checkpoint) on purpose: manifests are up to
 * 32 MiB each and never take part in sequencing. A SQLite log keeps them as files under its data
 * directory (written to a temporary name, fsynced, renamed, directory fsynced); a PostgreSQL log
 * in a table of its database, so every server on it serves them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { LogError } from '../errors.ts';

export interface ManifestStore {
  /** Stores `body` under `sha256` (its hex digest) durably before resolving. Rejects STORAGE_FAILED. */
  put(sha256: string, body: Uint8Array): Promise<void>;
  /** The stored bytes, or null. */
  get(sha256: string): Promise<Uint8Array | null>;
}

const HEX64 = /^[0-9a-f]{64}$/;

function digestOf(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

function checkName(sha256: string, body: Uint8Array): void {
  if (!HEX64.test(sha256) || digestOf(body) !== sha256)
    throw new LogError('STORAGE_FAILED', 'a manifest is stored only under its own SHA-256', { sha256 });
}

/** In memory (tests, and logs started on in-memory storage). */
export class MemoryManifestStore implements ManifestStore {
  readonly blobs = new Map<string, Uint8Array>();
  async put(sha256: string, body: Uint8Array): Promise<void> {
    checkName(sha256, body);
    this.blobs.set(sha256, body.slice());
  }
  async get(sha256: string): Promise<Uint8Array | null> {
    return this.blobs.get(sha256) ?? null;
  }
}

/** Files `<dir>/<first two hex>/<sha256>` (a SQLite log: `<data>/manifests`). */
export class FileManifestStore implements ManifestStore {
  constructor(private readonly dir: string) {}

  private path(sha256: string): { dir: string; file: string } {
    const dir = join(this.dir, sha256.slice(0, 2));
    return { dir, file: join(dir, sha256) };
  }

  async put(sha256: string, body: Uint8Array): Promise<void> {
    checkName(sha256, body);
    const { dir, file } = this.path(sha256);
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(body);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
      const d = await open(dir, 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => {});
      throw new LogError('STORAGE_FAILED', 'the delivery manifest could not be stored', { sha256 }, { cause: e });
    }
  }

  async get(sha256: string): Promise<Uint8Array | null> {
    if (!HEX64.test(sha256)) return null;
    try {
      const body = new Uint8Array(await readFile(this.path(sha256).file));
      // a file altered on disk is not served as the manifest an entry names
      return digestOf(body) === sha256 ? body : null;
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return null;
      throw new LogError('STORAGE_FAILED', 'the delivery manifest could not be read', { sha256 }, { cause: e });
    }
  }
}

const PG_SCHEMA = `CREATE TABLE IF NOT EXISTS log_delivery_manifests (
  sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'), body bytea NOT NULL)`;

/** A table of the log's PostgreSQL database (COMMIT returns once the WAL is flushed). */
export class PgManifestStore implements ManifestStore {
  private ready: Promise<unknown> | null = null;
  constructor(private readonly pool: pg.Pool) {}

  private table(): Promise<unknown> {
    this.ready ??= this.pool.query(PG_SCHEMA).catch((e) => {
      this.ready = null;
      throw e;
    });
    return this.ready;
  }

  async put(sha256: string, body: Uint8Array): Promise<void> {
    checkName(sha256, body);
    try {
      await this.table();
      await this.pool.query(
        'INSERT INTO log_delivery_manifests (sha256, body) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING',
        [sha256, Buffer.from(body.buffer, body.byteOffset, body.byteLength)],
      );
    } catch (e) {
      throw new LogError('STORAGE_FAILED', 'the delivery manifest could not be stored', { sha256 }, { cause: e });
    }
  }

  async get(sha256: string): Promise<Uint8Array | null> {
    if (!HEX64.test(sha256)) return null;
    try {
      await this.table();
      const r = await this.pool.query('SELECT body FROM log_delivery_manifests WHERE sha256 = $1', [sha256]);
      const body = r.rows[0]?.body as Buffer | undefined;
      return body && digestOf(body) === sha256 ? new Uint8Array(body) : null;
    } catch (e) {
      throw new LogError('STORAGE_FAILED', 'the delivery manifest could not be read', { sha256 }, { cause: e });
    }
  }
}
