/**
 * Where the host keeps what the enclave hands out to store: the sealed identity and KMS's
 * CiphertextBlob, and the answers of forward requests served. Contract: `put` is all-or-nothing (a reader
 * never sees half a write), `get` of a missing name is null, names are [a-z0-9._-]{1,128}, not starting with a dot.
 * `putIfAbsent` is create-once: of any number of concurrent callers — other processes, other
 * hosts sharing the store — exactly one gets true and its bytes stay; the others get false and
 * change nothing (a directory: link(2) of a finished temporary file, which fails with EEXIST as
 * O_CREAT|O_EXCL does but never shows a half-written file; S3: PUT with `If-None-Match: *`).
 * Three implementations: a local directory (default), S3 (@aws-sdk/client-s3), and memory.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { link, open, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { EnclaveError } from '../common/errors.ts';

export interface ArtefactStore {
  get(name: string): Promise<Uint8Array | null>;
  put(name: string, bytes: Uint8Array): Promise<void>;
  /** Creates `key` with `body` unless it exists: true = created, false = already existed (left as it was). */
  putIfAbsent(key: string, body: Uint8Array): Promise<boolean>;
  readonly where: string;
}

function checkName(name: string): void {
  if (!/^[a-z0-9][a-z0-9._-]{0,127}$/.test(name)) throw new TypeError(`bad artefact name ${JSON.stringify(name)}`);
}

export class MemoryStore implements ArtefactStore {
  readonly where = 'memory';
  readonly items = new Map<string, Uint8Array>();
  async get(name: string): Promise<Uint8Array | null> {
    checkName(name);
    return this.items.get(name)?.slice() ?? null;
  }
  async put(name: string, bytes: Uint8Array): Promise<void> {
    checkName(name);
    this.items.set(name, bytes.slice());
  }
  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    checkName(key);
    if (this.items.has(key)) return false;
    this.items.set(key, body.slice());
    return true;
  }
}

export class DirStore implements ArtefactStore {
  constructor(readonly where: string) {
    mkdirSync(where, { recursive: true, mode: 0o700 });
  }
  async get(name: string): Promise<Uint8Array | null> {
    checkName(name);
    try {
      return new Uint8Array(readFileSync(join(this.where, name)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new EnclaveError('STORE_FAILED', `could not read ${name}`, {
        name,
        errno: (e as NodeJS.ErrnoException).code ?? null,
      });
    }
  }
  async put(name: string, bytes: Uint8Array): Promise<void> {
    checkName(name);
    const tmp = join(this.where, `.${name}.${randomBytes(6).toString('hex')}`);
    try {
      writeFileSync(tmp, bytes, { mode: 0o600, flush: true });
      renameSync(tmp, join(this.where, name));
    } catch (e) {
      throw new EnclaveError('STORE_FAILED', `could not write ${name}`, {
        name,
        errno: (e as NodeJS.ErrnoException).code ?? null,
      });
    }
  }
  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    checkName(key);
    const tmp = join(this.where, `.${key}.${randomBytes(6).toString('hex')}`);
    try {
      await writeFile(tmp, body, { mode: 0o600, flag: 'wx', flush: true });
      try {
        await link(tmp, join(this.where, key)); // atomic and exclusive: EEXIST when another got there first
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw e;
      }
      const dir = await open(this.where, 'r');
      try {
        await dir.sync(); // the new name survives a crash
      } finally {
        await dir.close();
      }
      return true;
    } catch (e) {
      throw new EnclaveError('STORE_FAILED', `could not create ${key}`, {
        name: key,
        errno: (e as NodeJS.ErrnoException).code ?? null,
      });
    } finally {
      await rm(tmp, { force: true });
    }
  }
}

type S3 = typeof import('@aws-sdk/client-s3');

/** s3://bucket/prefix through @aws-sdk/client-s3 (loaded when first used). */
export class S3Store implements ArtefactStore {
  readonly where: string;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly client: Promise<{ mod: S3; c: InstanceType<S3['S3Client']> }>;

  constructor(url: string, clientConfig: Record<string, unknown> = {}) {
    const m = /^s3:\/\/([a-z0-9.-]{3,63})(?:\/(.*))?$/.exec(url);
    if (!m) throw new TypeError('the store URL must be s3://bucket[/prefix]');
    this.where = url;
    this.bucket = m[1]!;
    this.prefix = m[2] ? m[2].replace(/\/*$/, '/') : '';
    this.client = import('@aws-sdk/client-s3').then((mod) => ({ mod, c: new mod.S3Client(clientConfig) }));
  }

  async get(name: string): Promise<Uint8Array | null> {
    checkName(name);
    const { mod, c } = await this.client;
    try {
      const r = await c.send(new mod.GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + name }));
      return r.Body ? await r.Body.transformToByteArray() : new Uint8Array();
    } catch (e) {
      if ((e as { name?: string }).name === 'NoSuchKey') return null;
      throw new EnclaveError('STORE_FAILED', `could not read ${name} from S3`, {
        name,
        reason: (e as { name?: string }).name ?? 'error',
      });
    }
  }

  async put(name: string, bytes: Uint8Array): Promise<void> {
    checkName(name);
    const { mod, c } = await this.client;
    try {
      await c.send(new mod.PutObjectCommand({ Bucket: this.bucket, Key: this.prefix + name, Body: bytes }));
    } catch (e) {
      throw new EnclaveError('STORE_FAILED', `could not write ${name} to S3`, {
        name,
        reason: (e as { name?: string }).name ?? 'error',
      });
    }
  }

  /**
   * PUT with `If-None-Match: *`: S3 answers 412 PreconditionFailed when the key exists (false),
   * and 409 ConditionalRequestConflict while a concurrent conditional write to it is in flight
   * (asked again, up to three times). A store that ignores the header (s3rver, old gateways)
   * would let every caller win: run against real S3 or a store that honours it.
   */
  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    checkName(key);
    const { mod, c } = await this.client;
    for (let attempt = 1; ; attempt++) {
      try {
        await c.send(
          new mod.PutObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Body: body, IfNoneMatch: '*' }),
        );
        return true;
      } catch (e) {
        const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 412 || (e as { name?: string }).name === 'PreconditionFailed') return false;
        if (status === 409 && attempt < 3) {
          await new Promise((r) => setTimeout(r, 100 * attempt));
          continue;
        }
        throw new EnclaveError('STORE_FAILED', `could not create ${key} in S3`, {
          name: key,
          reason: (e as { name?: string }).name ?? 'error',
          status: status ?? null,
        });
      }
    }
  }
}

export function openStore(spec: string, s3Config: Record<string, unknown> = {}): ArtefactStore {
  return spec.startsWith('s3://') ? new S3Store(spec, s3Config) : new DirStore(spec);
}
