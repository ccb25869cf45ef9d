/**
 * After-commit duties: witness cosignatures are appended to the served checkpoint (and to the
 * checkpoint in the answer), and a failing object store never loses or delays an acknowledged
 * entry — the mirror catches up on the next batch, tiles still before their checkpoint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noteVerifier, openCheckpoint } from '#verifier';
import { formatSignatureLine, tilePath, tilesForSize } from '#verifier/build';
import { MemoryObjectStore } from '../src/objectstore/memory.ts';
import type { Witnesses } from '../src/ports.ts';
import { ORIGIN, leafBundle, post, startTestLog } from './helpers.ts';

test('witness cosignatures are served with the checkpoint and returned in the entry', async (t) => {
  const calls: Array<{ oldSize: number; proof: number }> = [];
  const witnesses: Witnesses = {
    async cosign(_note, oldSize, proof) {
      calls.push({ oldSize, proof: proof.length });
      // The witness client verifies real cosignatures; here only the log's handling of the lines matters.
      return [formatSignatureLine('witness.keycast.test/w1', 1, new Uint8Array(72))];
    },
  };
  const l = await startTestLog({ witnesses });
  t.after(() => l.close());
  const a = await post(l.url, leafBundle('w-1'));
  const b = await post(l.url, leafBundle('w-2'));
  assert.equal(b.status, 200);
  const served = await (await fetch(`${l.url}/checkpoint`)).text();
  assert.match(served, /\n— witness\.keycast\.test\/w1 /);
  assert.match(b.json.transparencyLogEntry.inclusionProof.checkpoint.envelope, /— witness\.keycast\.test\/w1 /);
  const cp = openCheckpoint(served, noteVerifier(l.vkey), ORIGIN).checkpoint;
  assert.equal(cp.size, 2);
  assert.deepEqual(calls[0], { oldSize: 0, proof: 0 });
  assert.equal(calls.at(-1)!.oldSize, a.json.index + 1);
});

test('malformed lines from a witness are dropped: the served checkpoint stays a valid signed note', async (t) => {
  const l = await startTestLog({ witnesses: { cosign: async () => ['not a signature line\n\n'] } });
  t.after(() => l.close());
  assert.equal((await post(l.url, leafBundle('m-1'))).status, 200);
  const served = await (await fetch(`${l.url}/checkpoint`)).text();
  assert.equal(openCheckpoint(served, noteVerifier(l.vkey), ORIGIN).checkpoint.size, 1);
  assert.ok(!served.includes('not a signature line'));
});

test('an object store outage delays the mirror, never an acknowledgement; the mirror catches up in order', async (t) => {
  const store = new MemoryObjectStore();
  let down = true;
  const flaky = {
    put: (key: string, body: Uint8Array, opts: { contentType: string; immutable: boolean }) =>
      down ? Promise.reject(new Error('503 from the bucket')) : store.put(key, body, opts),
    get: (key: string) => store.get(key),
  };
  const l = await startTestLog({ objectStore: flaky });
  t.after(() => l.close());
  for (let i = 0; i < 5; i++) assert.equal((await post(l.url, leafBundle(`o-${i}`))).status, 200);
  assert.equal(store.objects.size, 0);
  down = false;
  for (let i = 5; i < 300; i++) assert.equal((await post(l.url, leafBundle(`o-${i}`))).status, 200);
  const body = await store.get('checkpoint');
  assert.ok(body);
  const cp = openCheckpoint(body, noteVerifier(l.vkey), ORIGIN).checkpoint;
  assert.equal(cp.size, 300);
  const cpAt = store.history.lastIndexOf('checkpoint');
  for (const tile of tilesForSize(300)) {
    const at = store.history.indexOf(tilePath(tile));
    assert.ok(at >= 0 && at < cpAt, `${tilePath(tile)} mirrored before the checkpoint`);
  }
  assert.equal(store.objects.get('checkpoint')!.contentType, 'text/plain; charset=utf-8');
  assert.equal(store.objects.get('checkpoint')!.immutable, false);
});
