/**
 * Attack: a log whose origin is an Object.prototype name. A witness that kept its state in a
 * plain object stored the record for `__proto__` as the prototype, forgot it on restart, and
 * then cosigned a fork of a tree it had already cosigned. Such origins are valid C2SP key
 * names, so they are accepted, and the state must hold them like any other.
 *
 * For each origin: cosign A@5 and A@10, restart the witness (a new server on the same state
 * directory, on loopback), then submit a fork B@10 with old 0, a rollback B@3 with old 0, and
 * the fork again claiming old 10 with a forged proof — all refused, the state still A@10.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  MemoryTree,
  SIG_COSIGNATURE_V1,
  cosignatureSigner,
  formatAddCheckpoint,
  formatCheckpoint,
  formatSignerKey,
  generateNoteKey,
  noteSigner,
  proveConsistency,
  signNote,
} from '#verifier/build';
import { FileWitnessState, buildWitnessApp } from '../../log-server/index.ts';

const ORIGINS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'log.example.com/normal'];

function treeOf(prefix: string, n: number): MemoryTree {
  const t = new MemoryTree();
  for (let i = 0; i < n; i++) t.append(new TextEncoder().encode(`${prefix}-${i}`));
  return t;
}

async function startWitness(dir: string, origin: string, vkey: string, witnessSkey: string) {
  const state = new FileWitnessState(dir);
  const app = await buildWitnessApp({ state, signer: cosignatureSigner(witnessSkey), logs: [{ origin, vkey }] });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, state, url };
}

for (const origin of ORIGINS) {
  test(`witness state for origin ${JSON.stringify(origin)} survives a restart: fork and rollback refused`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keycast-hostile-witness-'));
    const log = generateNoteKey(origin);
    const signer = noteSigner(log.skey);
    const witnessSkey = formatSignerKey('witness.test/w', SIG_COSIGNATURE_V1, randomBytes(32));
    const checkpoint = (t: MemoryTree, size: number) =>
      signNote(formatCheckpoint({ origin, size, rootHash: t.root(size), extensions: [] }), [signer]);
    const a = treeOf('a', 10);
    const b = treeOf('b', 10);
    const send = async (url: string, oldSize: number, proof: Uint8Array[], note: string) => {
      const r = await fetch(`${url}/add-checkpoint`, {
        method: 'POST',
        body: formatAddCheckpoint({ oldSize, proof, checkpoint: note }),
      });
      return { status: r.status, body: await r.text() };
    };
    try {
      const w1 = await startWitness(dir, origin, log.vkey, witnessSkey);
      try {
        assert.equal((await send(w1.url, 0, [], checkpoint(a, 5))).status, 200);
        const ten = await send(w1.url, 5, proveConsistency(5, 10, a.hashReader()), checkpoint(a, 10));
        assert.equal(ten.status, 200, ten.body);
      } finally {
        await w1.app.close();
      }
      const file = JSON.parse(readFileSync(join(dir, 'witness-state.json'), 'utf8'));
      assert.ok(Object.hasOwn(file.logs, origin), 'the record is an own key of the state file');
      assert.equal(file.logs[origin].size, 10);

      const w2 = await startWitness(dir, origin, log.vkey, witnessSkey);
      try {
        assert.equal(w2.state.latest(origin)?.size, 10, 'the restarted witness remembers the log');
        const fork = await send(w2.url, 0, [], checkpoint(b, 10));
        assert.equal(fork.status, 409, `fork B@10 old 0: ${fork.body}`);
        assert.equal(fork.body, '10\n');
        const rollback = await send(w2.url, 0, [], checkpoint(b, 3));
        assert.equal(rollback.status, 409, `rollback B@3 old 0: ${rollback.body}`);
        const forged = await send(w2.url, 10, [], checkpoint(b, 10));
        assert.equal(forged.status, 422, `fork B@10 old 10: ${forged.body}`);
        const rollbackA = await send(w2.url, 10, [], checkpoint(a, 3));
        assert.equal(rollbackA.status, 400, `rollback A@3 old 10: ${rollbackA.body}`);
        assert.equal(w2.state.latest(origin)?.checkpoint, checkpoint(a, 10));
        // The honest log still moves on.
        const a12 = treeOf('a', 12);
        const next = await send(w2.url, 10, proveConsistency(10, 12, a12.hashReader()), checkpoint(a12, 12));
        assert.equal(next.status, 200, next.body);
      } finally {
        await w2.app.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('FileWitnessState keeps prototype-named origins apart from each other and from the prototype', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-hostile-witness-'));
  try {
    const s = new FileWitnessState(dir);
    for (const [i, o] of ORIGINS.entries()) await s.update(o, () => ({ size: i + 1, checkpoint: `cp-${i}` }));
    const again = new FileWitnessState(dir);
    for (const [i, o] of ORIGINS.entries())
      assert.deepEqual(again.latest(o), { size: i + 1, checkpoint: `cp-${i}` }, o);
    assert.equal(again.latest('valueOf'), null);
    assert.equal(Object.getPrototypeOf({}).size, undefined, 'nothing leaked into Object.prototype');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
