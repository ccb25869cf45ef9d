/**
 * An in-memory ObjectStore for tests and in-process logs. Same contract as ports.ts ObjectStore;
 * "durable" here means "stored in this process". It also enforces immutability, so a test
 * catches a log that rewrites a tile with different bytes.
 */
import type { ObjectStore } from '../ports.ts';

export interface StoredObject {
  body: Uint8Array;
  contentType: string;
  immutable: boolean;
}

export class MemoryObjectStore implements ObjectStore {
  readonly objects = new Map<string, StoredObject>();
  /** Keys in the order they were put: lets tests check tiles precede their checkpoint. */
  readonly history: string[] = [];

  async put(key: string, body: Uint8Array, opts: { contentType: string; immutable: boolean }): Promise<void> {
    const prev = this.objects.get(key);
    if (prev?.immutable && !Buffer.from(prev.body).equals(Buffer.from(body))) {
      throw new Error(`immutable object ${key} rewritten with different bytes`);
    }
    this.objects.set(key, { body: new Uint8Array(body), contentType: opts.contentType, immutable: opts.immutable });
    this.history.push(key);
  }

  async get(key: string): Promise<Uint8Array | null> {
    return this.objects.get(key)?.body ?? null;
  }
}
