/**
 * KeyStore in a directory (store.ts contract): one `<uuid>.json` per key under DIR/keys,
 * mode 0600, written to a temporary file, fsynced, renamed over the old one and the directory
 * fsynced — so a key is either fully there or not at all. DIR/keys is created 0700.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { EnclaveError } from '../../common/errors.ts';
import { UUID_RE, type KeyStore, type StoredKey } from './store.ts';

interface KeyFile {
  format: 'keycast-dev-kms-key-v1';
  keyId: string;
  arn: string;
  creationDate: number;
  description: string;
  material: string;
  policy: string;
}

export class DirectoryKeyStore implements KeyStore {
  private readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'keys');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  private path(keyId: string): string {
    if (!UUID_RE.test(keyId)) throw new RangeError('DirectoryKeyStore: key ids are UUIDs');
    return join(this.dir, `${keyId}.json`);
  }

  async get(keyId: string): Promise<StoredKey | undefined> {
    const file = this.path(keyId);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new EnclaveError('KMS_KEY_STORE', 'a key file could not be read', {
        keyId,
        errno: (e as NodeJS.ErrnoException).code ?? null,
      });
    }
    let f: KeyFile;
    try {
      f = JSON.parse(text) as KeyFile;
    } catch {
      throw new EnclaveError('KMS_KEY_STORE', 'a key file is not JSON', { keyId });
    }
    const material = Buffer.from(typeof f.material === 'string' ? f.material : '', 'base64');
    if (
      f.format !== 'keycast-dev-kms-key-v1' ||
      f.keyId !== keyId ||
      material.length !== 32 ||
      typeof f.policy !== 'string'
    ) {
      throw new EnclaveError('KMS_KEY_STORE', 'a key file is not a dev-kms key', { keyId });
    }
    return {
      keyId,
      arn: f.arn,
      creationDate: f.creationDate,
      description: f.description,
      material: new Uint8Array(material),
      policy: f.policy,
    };
  }

  async put(key: StoredKey): Promise<void> {
    const final = this.path(key.keyId);
    const tmp = join(this.dir, `.${key.keyId}.${randomBytes(6).toString('hex')}.tmp`);
    const body: KeyFile = {
      format: 'keycast-dev-kms-key-v1',
      keyId: key.keyId,
      arn: key.arn,
      creationDate: key.creationDate,
      description: key.description,
      material: Buffer.from(key.material).toString('base64'),
      policy: key.policy,
    };
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(JSON.stringify(body));
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, final);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw new EnclaveError('KMS_KEY_STORE', 'a key file could not be written', {
        keyId: key.keyId,
        errno: (e as NodeJS.ErrnoException).code ?? null,
      });
    }
    const d = await open(this.dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }

  async list(): Promise<string[]> {
    return readdirSync(this.dir)
      .filter((n) => n.endsWith('.json'))
      .map((n) => n.slice(0, -5))
      .filter((id) => UUID_RE.test(id));
  }
}
