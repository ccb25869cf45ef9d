/**
 * The host store's conditional create (putIfAbsent): however many callers race on one name,
 * exactly one creates it and its body is what every later reader sees; a second create is false
 * and changes nothing; no temporary file is left behind. The served-forward records of issue 23
 * depend on it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirStore, MemoryStore } from '../host/store.ts';

for (const [name, make] of [
  ['directory', () => new DirStore(mkdtempSync(join(tmpdir(), 'keycast-store-')))],
  ['memory', () => new MemoryStore()],
] as const) {
  test(`${name} store: putIfAbsent creates once, under a race, and never overwrites`, async () => {
    const s = make();
    try {
      const bodies = Array.from({ length: 16 }, (_, i) => new TextEncoder().encode(`answer ${i}`));
      const won = await Promise.all(bodies.map((b) => s.putIfAbsent('forward-x.json', b)));
      assert.equal(won.filter(Boolean).length, 1);
      const winner = bodies[won.indexOf(true)]!;
      assert.deepEqual(await s.get('forward-x.json'), winner);
      assert.equal(await s.putIfAbsent('forward-x.json', new Uint8Array([1])), false);
      assert.deepEqual(await s.get('forward-x.json'), winner);
      await assert.rejects(s.putIfAbsent('../escape', new Uint8Array()), TypeError);
      if (s instanceof DirStore) assert.deepEqual(readdirSync(s.where), ['forward-x.json']);
    } finally {
      if (s instanceof DirStore) rmSync(s.where, { recursive: true, force: true });
    }
  });
}
