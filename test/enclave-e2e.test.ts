/**
 * End to end on loopback through the real CLI: a SQLite log with a witness, `keycast dev-kms`
 * (the real @aws-sdk/client-kms talks to it), `keycast enclave run --nsm sim` (pinned config,
 * simulated NSM) and `keycast host run` feeding it proofs from the log, storing its sealed
 * identity and relaying its KMS traffic:
 *
 *   unlogged image → 503 PROOF_MISSING and zero KMS calls; publish → the gate opens within a
 *   refresh and the first boot seals; restart → the same public keys; a second instance → the
 *   same keys; a tampered sealed blob → UNSEAL_FAILED; a stale checkpoint → CHECKPOINT_STALE;
 *   revoke → the door shuts within one re-check. Bad input at both APIs is a coded 4xx while
 *   both keep serving, and no private key or data key appears in any output of the run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { DecryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { openForRecipient, parseIdentityBinding, verifyAttestationDocument } from '#verifier';
import { formatEnclaveConfig, fromBase64, toBase64 } from '#verifier/build';
import { SimulatedNsm, importTestPki, unsealIdentity } from '../enclave/index.ts';
import { releaseBundle, revocationBundle } from './log-fixtures.ts';
import { start, type Proc } from './enclave-e2e-helpers.ts';
import { CREDS, startStack } from './enclave-stack.ts';

test('enclave + host + dev-kms + log on loopback: the whole boot story, and nothing secret in any output', {
  timeout: 240_000,
}, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'keycast-enclave-e2e-'));
  const procs: Proc[] = [];
  const answers: string[] = [];
  t.after(() => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  });
  const run = async (args: string[], env?: Record<string, string>) => {
    const p = await start(args, env);
    procs.push(p);
    return p;
  };

  const { pub, log, pki, kms, kmsCalls, admin, key, f, pcrs, config, pair, publish } = await startStack(
    tmp,
    run,
    answers,
  );
  writeFileSync(join(tmp, 'enclave-short.json'), formatEnclaveConfig(config(3)));

  // 1. unlogged image: 503 with the code, and KMS never called
  const a = await pair('store');
  const s0 = await a.status();
  assert.equal(s0.code, 503);
  assert.equal(s0.body.enclave.gate.refusal?.code, 'PROOF_MISSING');
  const att0 = await fetch(`${a.host.url}/v1/attestation?nonce=${'11'.repeat(16)}`);
  assert.equal(att0.status, 503);
  assert.equal(((await att0.json()) as { code: string }).code, 'GATE_CLOSED');
  assert.equal(kmsCalls(), 0);

  // 2. publish → the gate opens within a refresh, and the first boot seals through KMS
  const index = await publish();
  const opened = await a.when('the first boot to seal', (s) => s.code === 200 && s.body.enclave.identity.ready);
  assert.equal(opened.body.enclave.gate.release?.index, index);
  const identity = {
    hpke: opened.body.enclave.identity.hpkeX25519!,
    receipts: opened.body.enclave.identity.receiptsEd25519!,
  };
  const stored = JSON.parse(readFileSync(join(tmp, 'store', 'identity.json'), 'utf8')) as {
    sealed: string;
    ciphertextBlob: string;
  };

  // the attestation binds the keys; a replayed nonce is refused
  const nonce = 'c3'.repeat(32);
  const att = await fetch(`${a.host.url}/v1/attestation?nonce=${nonce}`);
  assert.equal(att.status, 200);
  const doc = new Uint8Array(await att.arrayBuffer());
  const verified = verifyAttestationDocument(doc, {
    trustedRoots: [pki.rootDer],
    policy: {
      expectedPcrs: { 0: f.pcr0, 1: pcrs.pcr1, 2: pcrs.pcr2 },
      nonce: fromBase64(Buffer.from(nonce, 'hex').toString('base64')),
    },
  });
  const bound = parseIdentityBinding(verified.userData, verified.publicKey);
  assert.equal(toBase64(bound.hpkeX25519), identity.hpke);
  assert.equal(toBase64(bound.receiptsEd25519), identity.receipts);
  const replay = await fetch(`${a.host.url}/v1/attestation?nonce=${nonce}`);
  assert.equal(replay.status, 409);
  assert.equal(((await replay.json()) as { code: string }).code, 'NONCE_REPLAYED');

  // bad input at both APIs: coded 4xx, nothing stored, both keep serving
  for (const [path, code, want] of [
    ['/v1/attestation', 400, 'REQUEST_MALFORMED'],
    ['/v1/attestation?nonce=zz', 400, 'REQUEST_MALFORMED'],
    [`/v1/attestation?nonce=${'ab'.repeat(600)}`, 400, 'REQUEST_MALFORMED'],
    ['/v1/nope', 404, 'NOT_FOUND'],
  ] as const) {
    const x = await fetch(`${a.host.url}${path}`);
    answers.push(await x.clone().text());
    assert.equal(x.status, code, path);
    assert.equal(((await x.json()) as { code: string }).code, want);
  }
  for (const [body, type, code] of [
    ['{"version":1}', 'application/json', 400],
    ['x', 'text/plain', 415],
    ['{'.repeat(300_000), 'application/json', 413],
  ] as const) {
    const x = await fetch(`${a.enclave.url}/v1/gate`, { method: 'POST', headers: { 'content-type': type }, body });
    answers.push(await x.text());
    assert.equal(x.status, code);
  }
  const twice = await fetch(`${a.enclave.url}/v1/identity`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(twice.status, 409, 'a second first boot is refused');
  assert.deepEqual(
    JSON.parse(readFileSync(join(tmp, 'store', 'identity.json'), 'utf8')),
    stored,
    'nothing new was stored',
  );
  assert.equal((await a.status()).code, 200, 'bad input left the gate open');

  // 3. restart: the same public keys from the stored blob
  await a.stop();
  const b = await pair('store');
  const sb = await b.when('the restarted enclave to unseal', (s) => s.body.enclave.identity.ready);
  assert.deepEqual(
    { hpke: sb.body.enclave.identity.hpkeX25519, receipts: sb.body.enclave.identity.receiptsEd25519 },
    identity,
  );
  assert.equal(sb.body.host.lastRefresh?.identity, 'unsealed');

  // 4. a second instance of the same image, beside it: the same keys
  const c = await pair('store');
  const sc = await c.when('the second instance to unseal', (s) => s.body.enclave.identity.ready);
  assert.deepEqual(
    { hpke: sc.body.enclave.identity.hpkeX25519, receipts: sc.body.enclave.identity.receiptsEd25519 },
    identity,
  );

  // 5. a tampered sealed blob is refused; the enclave keeps no identity but keeps serving
  cpSync(join(tmp, 'store'), join(tmp, 'store-tampered'), { recursive: true });
  const sealed = fromBase64(stored.sealed);
  sealed[sealed.length - 20]! ^= 1;
  writeFileSync(join(tmp, 'store-tampered', 'identity.json'), JSON.stringify({ ...stored, sealed: toBase64(sealed) }));
  const d = await pair('store-tampered');
  const sd = await d.when('the tampered blob to be refused', (s) => s.body.host.lastRefresh?.code === 'UNSEAL_FAILED');
  assert.equal(sd.body.enclave.identity.ready, false);
  await d.stop();

  // 6. a stale checkpoint: an image pinning a 3 s age limit opens on a fresh cosignature, then shuts
  const filler = await fetch(`${log.url}/add-entry`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: releaseBundle(pub, 'unrelated'),
  });
  assert.equal(filler.status, 200);
  const e = await pair('store-short', 'enclave-short.json');
  await e.when('the short-lived gate to open', (s) => s.body.enclave.gate.open, 10_000).catch(() => undefined);
  const se = await e.when(
    'the checkpoint to go stale',
    (s) => s.body.enclave.gate.refusal?.code === 'CHECKPOINT_STALE',
    15_000,
  );
  assert.equal(se.code, 503);
  await e.stop();

  // 7. revoke → the door shuts within one re-check, on every instance
  const rv = await fetch(`${log.url}/add-entry`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: revocationBundle(pub, index, f.pcr0),
  });
  assert.equal(rv.status, 200, await rv.text());
  for (const x of [b, c]) {
    const shut = await x.when(
      'the gate to shut on the revocation',
      (s) => s.code === 503 && s.body.enclave.gate.refusal?.code === 'RELEASE_REVOKED',
      5_000,
    );
    assert.equal(shut.body.enclave.gate.refusal?.code, 'RELEASE_REVOKED');
  }
  const att2 = await fetch(`${b.host.url}/v1/attestation?nonce=${'d4'.repeat(32)}`);
  assert.equal(att2.status, 503);
  await b.stop();
  await c.stop();

  // 8. no private key, data key or plaintext in any output: open the sealed identity as an
  // attacker holding the simulator's keys could, and look for its bytes everywhere
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = new Uint8Array(rsa.publicKey.export({ format: 'der', type: 'spki' }));
  const sim = new SimulatedNsm({ pki: importTestPki(readFileSync(join(tmp, 'pki.json'), 'utf8')), pcrs });
  const reader = new KMSClient({ region: 'us-east-1', endpoint: kms.url, maxAttempts: 1, credentials: CREDS[1]! });
  const dk = await reader.send(
    new DecryptCommand({
      KeyId: key,
      CiphertextBlob: fromBase64(stored.ciphertextBlob),
      Recipient: {
        KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
        AttestationDocument: await sim.attestation({ publicKey: spki }),
      },
    }),
  );
  const dataKey = await openForRecipient(dk.CiphertextForRecipient!, rsa.privateKey);
  const { keys } = unsealIdentity(fromBase64(stored.sealed), dataKey, key);
  const secrets = [
    Buffer.from(dataKey),
    ...[keys.hpke.privateKey, keys.receipts.privateKey].map((k) =>
      k.export({ format: 'der', type: 'pkcs8' }).subarray(-32),
    ),
  ];
  assert.equal(toBase64(keys.hpke.publicKey), identity.hpke, 'the secrets searched for are the real ones');
  const everything = [...procs.map((p) => p.out()), ...answers].join('\n');
  for (const s of secrets) {
    for (const form of [s.toString('hex'), s.toString('base64'), s.toString('base64url'), s.toString('latin1')]) {
      assert.ok(!everything.includes(form), 'a secret appeared in an output of the run');
    }
  }
  admin.destroy();
  reader.destroy();
});
