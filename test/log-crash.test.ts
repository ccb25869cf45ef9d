/**
 * Crash safety of the log: the real `keycast log serve` process is SIGKILLed at random
 * points during heavy concurrent appends, several times, and restarted. Afterwards every entry
 * the log ever acknowledged must be present with the same leaf, and every checkpoint it ever
 * served must be consistent (RFC 6962 consistency proof, checked with #verifier) with the final
 * tree: the log never lost an acknowledged entry nor signed two inconsistent checkpoints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { checkConsistency, noteVerifier, openCheckpoint } from '#verifier';
import { bytesEqual, fromBase64, hashLeaf, toHex, EMPTY_ROOT } from '#verifier/build';
import type { Checkpoint } from '#verifier';
import { createLog } from '../log-server/index.ts';
import { newPublisher, releaseBundle } from './log-fixtures.ts';
import { serveLog } from './enclave-e2e-helpers.ts';

const ORIGIN = 'crash.keycast.test/log';
const ROUNDS = 4;
const CLIENTS = 16;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('SIGKILL during heavy appends loses no acknowledged entry, and every served checkpoint is consistent with the final tree', {
  timeout: 60_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-crash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { vkey } = createLog(join(dir, 'log'), ORIGIN);
  const publisher = newPublisher();
  writeFileSync(join(dir, 'publisher.pem'), publisher.publicPem);
  const flags = ['--trust-signer', join(dir, 'publisher.pem')];
  const verifier = noteVerifier(vkey);
  const acked = new Map<number, string>();
  const served = new Set<string>();
  let seq = 0;
  let kills = 0;

  for (let round = 0; round < ROUNDS; round++) {
    const s = await serveLog(join(dir, 'log'), flags);
    let stop = false;
    const client = async () => {
      while (!stop) {
        const body = releaseBundle(publisher, `crash-${seq++}`);
        try {
          const r = await fetch(`${s.url}/add-entry`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          });
          const j = await r.json();
          if (r.status === 200) {
            const prior = acked.get(j.index);
            assert.ok(
              prior === undefined || prior === j.leafHash,
              `index ${j.index} acknowledged for two different leaves`,
            );
            acked.set(j.index, j.leafHash);
            served.add(j.transparencyLogEntry.inclusionProof.checkpoint.envelope);
          }
        } catch {
          return; // the server died mid-request: not acknowledged
        }
      }
    };
    const poller = async () => {
      while (!stop) {
        try {
          served.add(await (await fetch(`${s.url}/checkpoint`)).text());
        } catch {
          return;
        }
        await sleep(10);
      }
    };
    const loops = [...Array.from({ length: CLIENTS }, client), poller()];
    // Kill at a random point once appends are flowing in this round (bounded wait).
    const before = acked.size;
    for (let waited = 0; acked.size < before + 20 && waited < 10_000; waited += 20) await sleep(20);
    await sleep(Math.floor(Math.random() * 700));
    s.child.kill('SIGKILL');
    kills++;
    await once(s.child, 'exit');
    stop = true;
    await Promise.all(loops);
  }

  const s = await serveLog(join(dir, 'log'), flags);
  t.after(() => s.child.kill('SIGKILL'));
  const final = openCheckpoint(await (await fetch(`${s.url}/checkpoint`)).text(), verifier, ORIGIN).checkpoint;
  assert.equal(kills, ROUNDS);
  assert.ok(acked.size > 50, `heavy appends happened (${acked.size} acknowledged)`);
  for (const [index, leafHash] of acked) {
    assert.ok(index < final.size, `acknowledged index ${index} is inside the final tree of ${final.size}`);
    const e = await (await fetch(`${s.url}/entry/${index}`)).json();
    assert.equal(toHex(hashLeaf(fromBase64(e.leaf))), leafHash, `entry ${index} survived unchanged`);
  }
  let checked = 0;
  for (const note of served) {
    const cp: Checkpoint = openCheckpoint(note, verifier, ORIGIN).checkpoint;
    assert.ok(cp.size <= final.size, `a served checkpoint (size ${cp.size}) is not ahead of the final tree`);
    if (cp.size === 0) assert.ok(bytesEqual(cp.rootHash, EMPTY_ROOT));
    else if (cp.size === final.size) assert.ok(bytesEqual(cp.rootHash, final.rootHash));
    else {
      const p = await (await fetch(`${s.url}/proof/consistency?old=${cp.size}&new=${final.size}`)).json();
      checkConsistency(p.hashes.map(fromBase64), cp.size, final.size, cp.rootHash, final.rootHash);
    }
    checked++;
  }
  assert.ok(checked > ROUNDS, `checked ${checked} served checkpoints`);
  // The restarted log still appends.
  const r = await fetch(`${s.url}/add-entry`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: releaseBundle(publisher, 'after-crash'),
  });
  assert.equal(r.status, 200);
  assert.equal((await r.json()).index, final.size);
  t.diagnostic(
    `${kills} SIGKILLs, ${acked.size} acknowledged entries, ${served.size} distinct checkpoints, final size ${final.size}`,
  );
});
