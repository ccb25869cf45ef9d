/**
 * Where a KMS keeps its keys. Contract for every implementation:
 *  - `get` resolves to the key or `undefined` (never throws for an absent key); `keyId` is a
 *    UUID already checked by the caller;
 *  - `put` is durable and atomic once it resolves: a reader sees the old record or the new one,
 *    never a mix, and a crash never leaves a half-written key;
 *  - `list` gives every key id;
 *  - nothing here logs; the records hold key material and are never put into an error.
 * Two implementations: MemoryKeyStore (tests) and DirectoryKeyStore (directory-store.ts).
 */
export interface StoredKey {
  keyId: string;
  arn: string;
  /** seconds since the epoch */
  creationDate: number;
  description: string;
  /** the 32-byte AES-256 key that seals CiphertextBlobs */
  material: Uint8Array;
  /** the key policy document, as given */
  policy: string;
}

export interface KeyStore {
  get(keyId: string): Promise<StoredKey | undefined>;
  put(key: StoredKey): Promise<void>;
  list(): Promise<string[]>;
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function copy(k: StoredKey): StoredKey {
  return { ...k, material: Uint8Array.from(k.material) };
}

export class MemoryKeyStore implements KeyStore {
  private readonly keys = new Map<string, StoredKey>();

  async get(keyId: string): Promise<StoredKey | undefined> {
    const k = this.keys.get(keyId);
    return k && copy(k);
  }

  async put(key: StoredKey): Promise<void> {
    this.keys.set(key.keyId, copy(key));
  }

  async list(): Promise<string[]> {
    return [...this.keys.keys()];
  }
}
