/**
 * The enclave runtime on a simulated NSM: 503 with the refusal's code until the gate passes,
 * KMS never called while shut, the door opening on a good bundle and shutting on revocation,
 * staleness (re-check) and a split view (latched); bad input at the enclave API answered 4xx
 * with a code while the state stays as it was.
 */
import { test } from 'node:test';
import type { InjectOptions } from 'fastify';
import assert from 'node:assert/strict';
import { formatProofBundle, formatEnclaveConfig } from '#verifier/build';
import { bootEnclave, SimulatedNsm, createTestPki, type KmsPort } from '../index.ts';
import { GateWorld, measurements } from '#test-kit';

const mine = measurements('runtime');
const pki = createTestPki();

function countingKms(): KmsPort & { calls: number } {
  const k = {
    calls: 0,
    async generateDataKey(): Promise<never> {
      k.calls++;
      throw new Error('not in this test');
    },
    async decrypt(): Promise<never> {
      k.calls++;
      throw new Error('not in this test');
    },
  };
  return k;
}

async function boot(w: GateWorld, clock = { now: w.now }) {
  const kms = countingKms();
  const nsm = new SimulatedNsm({ pki, pcrs: mine });
  const e = await bootEnclave({
    nsm,
    kms,
    configBytes: formatEnclaveConfig(w.config()),
    now: () => clock.now,
    recheckMs: 0,
  });
  return { e, kms, clock };
}

const post = (bundle: unknown) => ({
  method: 'POST' as const,
  url: '/v1/gate',
  headers: { 'content-type': 'application/json' },
  payload: typeof bundle === 'string' ? bundle : formatProofBundle(bundle as never),
});

test('shut until a good bundle: every route 503 GATE_CLOSED with the reason, zero KMS calls', async () => {
  const w = new GateWorld();
  const { e, kms } = await boot(w);
  const s = await e.app.inject({ method: 'GET', url: '/v1/status' });
  assert.equal(s.statusCode, 503);
  assert.equal(s.json().gate.refusal.code, 'PROOF_MISSING');
  const id = await e.app.inject({
    method: 'POST',
    url: '/v1/identity',
    headers: { 'content-type': 'application/json' },
    payload: '{}',
  });
  assert.equal(id.statusCode, 503);
  assert.equal(id.json().code, 'GATE_CLOSED');
  assert.equal(id.json().evidence.refusal, 'PROOF_MISSING');
  const att = await e.app.inject({ method: 'GET', url: '/v1/attestation?nonce=00ff' });
  assert.equal(att.json().code, 'GATE_CLOSED');
  // an unlogged image: the host has nothing better than another release's proof
  const other = w.publish(measurements('not-this-image'));
  const r = await e.app.inject(post(w.bundle(other)));
  assert.equal(r.statusCode, 503);
  assert.equal(r.json().evidence.refusal, 'PCR_MISMATCH');
  assert.equal(kms.calls, 0);
  await e.stop();
});

test('opens on a good bundle; revocation shuts it at the next bundle; staleness at the next re-check', async () => {
  const w = new GateWorld();
  const i = w.publish(mine);
  const { e, clock } = await boot(w);
  const r = await e.app.inject(post(w.bundle(i)));
  assert.equal(r.statusCode, 200, r.body);
  assert.equal(r.json().gate.release.index, i);
  assert.equal((await e.app.inject({ method: 'GET', url: '/v1/status' })).statusCode, 200);
  const held = e.gate.state().heldSize!;
  // re-check with newer proofs keeps it open
  w.publish(measurements('later'));
  assert.equal((await e.app.inject(post(w.bundle(i, { fromSize: held })))).statusCode, 200);
  // stale: nobody brings a newer proof for more than the max age
  clock.now += 601;
  assert.equal(e.gate.recheck().refusal?.code, 'CHECKPOINT_STALE');
  assert.equal((await e.app.inject({ method: 'GET', url: '/v1/status' })).json().gate.refusal.code, 'CHECKPOINT_STALE');
  // a fresh bundle reopens; a revocation shuts
  w.now = clock.now;
  const held2 = e.gate.state().heldSize!;
  assert.equal((await e.app.inject(post(w.bundle(i, { fromSize: held2 })))).statusCode, 200);
  w.revoke(i);
  const rv = await e.app.inject(post(w.bundle(i, { fromSize: e.gate.state().heldSize! })));
  assert.equal(rv.statusCode, 503);
  assert.equal(rv.json().evidence.refusal, 'RELEASE_REVOKED');
  // the scheduled re-check does not reopen the door with the bundle from before the revocation
  assert.equal(e.gate.recheck().refusal?.code, 'RELEASE_REVOKED');
  assert.equal(e.gate.isOpen, false);
  await e.stop();
});

test('a replayed older bundle is 409 BUNDLE_REPLAYED and changes nothing', async () => {
  const w = new GateWorld();
  const i = w.publish(mine);
  const { e } = await boot(w);
  const old = w.bundle(i);
  w.publish(measurements('later'));
  assert.equal((await e.app.inject(post(w.bundle(i)))).statusCode, 200);
  const r = await e.app.inject(post(old));
  assert.equal(r.statusCode, 409);
  assert.equal(r.json().code, 'BUNDLE_REPLAYED');
  assert.equal(e.gate.isOpen, true);
  await e.stop();
});

test('while open, an under-witnessed newer bundle is 409 BUNDLE_UNWITNESSED and the held one stands until stale', async () => {
  const w = new GateWorld();
  const i = w.publish(mine);
  const { e, clock } = await boot(w);
  assert.equal((await e.app.inject(post(w.bundle(i)))).statusCode, 200);
  w.revoke(i);
  const r = await e.app.inject(post(w.bundle(i, { witnesses: 1, fromSize: e.gate.state().heldSize! })));
  assert.equal(r.statusCode, 409);
  assert.equal(r.json().code, 'BUNDLE_UNWITNESSED');
  assert.equal(e.gate.isOpen, true);
  clock.now += 601;
  assert.equal(
    e.gate.recheck().refusal?.code,
    'CHECKPOINT_STALE',
    'withholding the witnessed revocation buys no more than the age limit',
  );
  await e.stop();
});

test('an inconsistent newer checkpoint latches the door shut', async () => {
  const w = new GateWorld();
  const i = w.publish(mine);
  const { e } = await boot(w);
  assert.equal((await e.app.inject(post(w.bundle(i)))).statusCode, 200);
  // a fork: a different tree of the same log, signed by the log key, with "a proof" from the held size
  const fork = new GateWorld();
  Object.assign(fork, { log: w.log, witnessKeys: w.witnessKeys, publisher: w.publisher, now: w.now });
  fork.publish(measurements('fork-a'));
  const fi = fork.publish(mine);
  fork.publish(measurements('fork-b'));
  fork.publish(measurements('fork-c'));
  const r = await e.app.inject(post(fork.bundle(fi, { fromSize: e.gate.state().heldSize! })));
  assert.equal(r.statusCode, 503);
  assert.equal(r.json().evidence.refusal, 'INCONSISTENT');
  w.publish(measurements('later'));
  const again = await e.app.inject(post(w.bundle(i, { fromSize: e.gate.state().heldSize! })));
  assert.equal(again.statusCode, 503, 'a consistent bundle does not reopen a latched gate');
  assert.equal(e.gate.state().latched, true);
  await e.stop();
});

test('after a refused revocation the pre-revocation bundle cannot reopen the door: latched, no release shown', async () => {
  const w = new GateWorld();
  const i = w.publish(mine);
  const { e } = await boot(w);
  const before = w.bundle(i);
  assert.equal((await e.app.inject(post(before))).statusCode, 200);
  w.revoke(i);
  const rv = await e.app.inject(post(w.bundle(i, { fromSize: e.gate.state().heldSize! })));
  assert.equal(rv.json().evidence.refusal, 'RELEASE_REVOKED');
  assert.equal(e.gate.state().heldSize, w.tree.size, 'the held tree advanced to the refused checkpoint');
  const replay = await e.app.inject(post(before));
  assert.equal(replay.statusCode, 409);
  assert.equal(replay.json().code, 'BUNDLE_REPLAYED');
  // a bundle at the held size for this release still says revoked; the latch holds regardless
  const same = await e.app.inject(post(w.bundle(i, { fromSize: w.tree.size })));
  assert.equal(same.statusCode, 503);
  const s = await e.app.inject({ method: 'GET', url: '/v1/status' });
  assert.equal(s.statusCode, 503);
  assert.equal(s.json().gate.latched, true);
  assert.equal(s.json().gate.release, null);
  assert.equal(s.json().gate.refusal.code, 'RELEASE_REVOKED');
  assert.equal(e.gate.recheck().open, false);
  await e.stop();
});

test('bad input at the enclave API: 4xx with a code, state unchanged, still serving', async () => {
  const w = new GateWorld();
  const i = w.publish(mine);
  const { e, kms } = await boot(w);
  assert.equal((await e.app.inject(post(w.bundle(i)))).statusCode, 200);
  const cases: Array<[InjectOptions, number, string]> = [
    [post('{"version":1'), 400, 'GATE_BUNDLE_MALFORMED'],
    [post('[]'), 400, 'GATE_BUNDLE_MALFORMED'],
    [post('{"version":1,"entry":"AA==","proof":"x","status":"y","evil":1}'), 400, 'GATE_BUNDLE_MALFORMED'],
    [
      { method: 'POST', url: '/v1/gate', headers: { 'content-type': 'text/plain' }, payload: 'hi' },
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      {
        method: 'POST',
        url: '/v1/gate',
        headers: { 'content-type': 'application/json' },
        payload: 'x'.repeat(400 * 1024),
      },
      413,
      'REQUEST_TOO_LARGE',
    ],
    [
      {
        method: 'POST',
        url: '/v1/identity',
        headers: { 'content-type': 'application/json' },
        payload: '{"sealed":"AAAA"}',
      },
      400,
      'REQUEST_MALFORMED',
    ],
    [
      {
        method: 'POST',
        url: '/v1/identity',
        headers: { 'content-type': 'application/json' },
        payload: '{"sealed":"!!","ciphertextBlob":"AAAA"}',
      },
      400,
      'REQUEST_MALFORMED',
    ],
    [
      { method: 'POST', url: '/v1/identity', headers: { 'content-type': 'application/json' }, payload: '{"x":1}' },
      400,
      'REQUEST_MALFORMED',
    ],
    [{ method: 'GET', url: '/v1/attestation' }, 400, 'REQUEST_MALFORMED'],
    [{ method: 'GET', url: '/v1/attestation?nonce=XYZ' }, 400, 'REQUEST_MALFORMED'],
    [{ method: 'GET', url: `/v1/attestation?nonce=${'ab'.repeat(513)}` }, 400, 'REQUEST_MALFORMED'],
    [{ method: 'GET', url: '/v1/attestation?nonce=ab' }, 503, 'IDENTITY_NOT_READY'],
    [{ method: 'GET', url: '/v1/nothing' }, 404, 'NOT_FOUND'],
  ];
  for (const [req, status, code] of cases) {
    const r = await e.app.inject(req);
    assert.equal(r.statusCode, status, `${JSON.stringify(req).slice(0, 100)} → ${r.body.slice(0, 200)}`);
    assert.equal(r.json().code, code);
  }
  assert.equal(e.gate.isOpen, true);
  assert.equal(kms.calls, 0);
  await e.stop();
});

test('debug-mode enclave never opens', async () => {
  const w = new GateWorld();
  const i = w.publish(mine);
  const nsm = new SimulatedNsm({ pki, pcrs: mine, debug: true });
  const e = await bootEnclave({
    nsm,
    kms: countingKms(),
    configBytes: formatEnclaveConfig(w.config()),
    now: () => w.now,
    recheckMs: 0,
  });
  const r = await e.app.inject(post(w.bundle(i)));
  assert.equal(r.json().evidence.refusal, 'DEBUG_MODE');
  await e.stop();
});
