/**
 * Replays from the attacker's side: anyone holding a published bundle can resubmit it, or flip
 * its ECDSA signature to the other valid form (s → n − s) or re-encode it, which yields a valid
 * bundle with different leaf bytes. The log must answer each with the entry logged first —
 * same index, same leaf, no growth of the tree — and never log the statement twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { newPublisher, releaseBundle, ROOT } from './log-fixtures.ts';
import { serveLog } from './enclave-e2e-helpers.ts';

const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

function derInt(b: Buffer): bigint {
  return BigInt('0x' + (b.toString('hex') || '0'));
}
function intDer(n: bigint): Buffer {
  let h = n.toString(16);
  if (h.length % 2) h = '0' + h;
  let b = Buffer.from(h, 'hex');
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return Buffer.concat([Buffer.from([0x02, b.length]), b]);
}

/** The other valid ECDSA signature of the same message: (r, n − s). */
function malleate(sigB64: string): string {
  const d = Buffer.from(sigB64, 'base64');
  assert.equal(d[0], 0x30);
  const rLen = d[3]!;
  const r = derInt(d.subarray(4, 4 + rLen));
  const s = derInt(d.subarray(6 + rLen, 6 + rLen + d[5 + rLen]!));
  const body = Buffer.concat([intDer(r), intDer(P256_N - s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]).toString('base64');
}

test('replayed and signature-malleated bundles return the first entry and never grow the log', {
  timeout: 60_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-replay-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const init = spawnSync(
    process.execPath,
    [join(ROOT, 'bin/keycast.mjs'), 'log', 'init', '--data', join(dir, 'log'), '--origin', 'replay.keycast.test/log'],
    { encoding: 'utf8' },
  );
  assert.equal(init.status, 0, init.stderr);
  const pub = newPublisher();
  writeFileSync(join(dir, 'pub.pem'), pub.publicPem);
  const served = await serveLog(join(dir, 'log'), ['--trust-signer', join(dir, 'pub.pem')]);
  t.after(() => served.child.kill('SIGKILL'));
  const post = async (body: string) => {
    const r = await fetch(`${served.url}/add-entry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    return {
      status: r.status,
      json: (await r.json()) as {
        index: number;
        leafHash: string;
        duplicate: boolean;
        transparencyLogEntry: { canonicalizedBody: string };
      },
    };
  };

  const original = releaseBundle(pub, 'replayed');
  const first = await post(original);
  assert.equal(first.status, 200);
  assert.equal(first.json.duplicate, false);

  const b = JSON.parse(original);
  const flipped = malleate(b.dsseEnvelope.signatures[0].sig);
  assert.notEqual(flipped, b.dsseEnvelope.signatures[0].sig);
  // The flipped signature really is valid: this is a replay, not a forgery.
  const payload = Buffer.from(b.dsseEnvelope.payload, 'base64');
  const pae = Buffer.concat([Buffer.from(`DSSEv1 28 application/vnd.in-toto+json ${payload.length} `), payload]);
  assert.ok(verify('sha256', pae, createPublicKey(pub.publicPem), Buffer.from(flipped, 'base64')));
  b.dsseEnvelope.signatures[0].sig = flipped;

  for (const replay of [original, JSON.stringify(b), JSON.stringify(JSON.parse(original), null, 2)]) {
    const again = await post(replay);
    assert.equal(again.status, 200);
    assert.equal(again.json.index, first.json.index);
    assert.equal(again.json.duplicate, true);
    assert.equal(again.json.leafHash, first.json.leafHash, 'answers with the leaf logged first');
    assert.equal(again.json.transparencyLogEntry.canonicalizedBody, first.json.transparencyLogEntry.canonicalizedBody);
  }
  const cp = await (await fetch(`${served.url}/checkpoint`)).text();
  assert.equal(cp.split('\n')[1], '1', 'the tree holds one entry');
  const next = await post(releaseBundle(pub, 'a different release'));
  assert.equal(next.json.index, first.json.index + 1);
});
