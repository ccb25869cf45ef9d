/**
 * The enclave's identity through KMS (the in-memory KmsPort over the same core dev-kms serves):
 * first boot seals, a restart and a second instance of the same image unseal the same keys, a
 * new logged release unseals them once the key policy lists its PCR0 (and not before), a
 * tampered blob is refused, the keys are bound into every attestation document, and nothing
 * private ever appears in a response.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { verifyAttestationDocument, parseIdentityBinding } from '#verifier';
import {
  formatEnclaveConfig,
  formatProofBundle,
  fromBase64,
  toBase64,
  toHex,
  formatIdentityBinding,
} from '#verifier/build';
import {
  bootEnclave,
  SimulatedNsm,
  memoryKms,
  createTestPki,
  sealedDigest,
  sealIdentity,
  generateIdentity,
  publicIdentity,
  type KmsPort,
  type BootedEnclave,
} from '../index.ts';
import { rawPrivate } from '../runtime/identity/keys.ts';
import { ADMIN, ENCLAVE_ROLE, attestedPolicy } from './kms-fixtures.ts';
import { GateWorld, measurements, type Measured } from '#test-kit';

const pki = createTestPki();
const v1 = measurements('identity-v1');
const v2 = measurements('identity-v2');

async function setup() {
  const w = new GateWorld();
  const i1 = w.publish(v1);
  const kms = memoryKms(ENCLAVE_ROLE, { trustedRoots: [pki.rootDer] });
  const key = await kms.core.createKey(ADMIN, { policy: attestedPolicy([v1.pcr0]) });
  let calls = 0;
  const port: KmsPort = {
    generateDataKey: (c) => {
      calls++;
      return kms.port.generateDataKey(c);
    },
    decrypt: (c) => {
      calls++;
      return kms.port.decrypt(c);
    },
  };
  const config = formatEnclaveConfig(w.config({ kms: { keyArn: key.Arn, region: 'us-east-1' } }));
  const start = async (m: Measured): Promise<BootedEnclave> =>
    bootEnclave({
      nsm: new SimulatedNsm({ pki, pcrs: m }),
      kms: port,
      configBytes: config,
      now: () => w.now,
      recheckMs: 0,
      attestationRoots: [pki.rootDer],
    });
  return { w, i1, kms, key, start, calls: () => calls };
}

const json = (payload: unknown) => ({
  method: 'POST' as const,
  url: '/v1/identity',
  headers: { 'content-type': 'application/json' },
  payload: JSON.stringify(payload),
});
const gate = (e: BootedEnclave, w: GateWorld, i: number) =>
  e.app.inject({
    method: 'POST',
    url: '/v1/gate',
    headers: { 'content-type': 'application/json' },
    payload: formatProofBundle(w.bundle(i)),
  });

test('first boot seals; restart and a second instance unseal the same keys; attestation binds them', async () => {
  const { w, i1, start, calls } = await setup();
  const a = await start(v1);
  assert.equal((await gate(a, w, i1)).statusCode, 200);
  const first = await a.app.inject(json({}));
  assert.equal(first.statusCode, 200, first.body);
  const f = first.json();
  assert.equal(f.created, true);
  assert.equal(f.pending, true);
  assert.equal(calls(), 1);
  // pending: nothing is served with it until the host confirms it stored the blob
  assert.equal((await a.app.inject({ method: 'GET', url: '/v1/status' })).json().identity.ready, false);
  const early = await a.app.inject({ method: 'GET', url: `/v1/attestation?nonce=${'cd'.repeat(16)}` });
  assert.equal(early.json().code, 'IDENTITY_NOT_READY');
  // asked again (a host that died before storing it): the same pending identity, no new KMS call
  assert.deepEqual((await a.app.inject(json({}))).json(), f);
  assert.equal(calls(), 1);
  assert.equal((await a.app.inject(json({ confirm: 'ab'.repeat(32) }))).json().code, 'IDENTITY_NOT_PENDING');
  const confirmed = await a.app.inject(json({ confirm: toHex(sealedDigest(fromBase64(f.stored.sealed))) }));
  assert.equal(confirmed.statusCode, 200, confirmed.body);
  assert.deepEqual(confirmed.json(), { created: true, confirmed: true, identity: f.identity });
  assert.equal((await a.app.inject({ method: 'GET', url: '/v1/status' })).json().identity.ready, true);
  // a second establish in the same process is refused
  assert.equal((await a.app.inject(json({}))).json().code, 'IDENTITY_EXISTS');

  const b = await start(v1); // restart, or a second instance of the same image
  assert.equal((await gate(b, w, i1)).statusCode, 200);
  const again = await b.app.inject(json(f.stored));
  assert.equal(again.statusCode, 200, again.body);
  assert.deepEqual(again.json(), { created: false, identity: f.identity });

  const nonce = 'ab'.repeat(32);
  const doc = await b.app.inject({ method: 'GET', url: `/v1/attestation?nonce=${nonce}` });
  assert.equal(doc.statusCode, 200);
  assert.equal(doc.headers['content-type'], 'application/cbor');
  const v = verifyAttestationDocument(new Uint8Array(doc.rawPayload), {
    trustedRoots: [pki.rootDer],
    policy: { expectedPcrs: { 0: v1.pcr0 }, nonce: Uint8Array.from(Buffer.from(nonce, 'hex')) },
  });
  const bound = parseIdentityBinding(v.userData, v.publicKey);
  assert.equal(toBase64(bound.hpkeX25519), f.identity.hpkeX25519);
  assert.equal(toBase64(bound.receiptsEd25519), f.identity.receiptsEd25519);

  // no private key or sealed plaintext in anything the enclave answered
  const k = b.identity.current!;
  const secrets = [rawPrivate(k.hpke.privateKey), rawPrivate(k.receipts.privateKey)];
  for (const body of [first.body, again.body, Buffer.from(doc.rawPayload).toString('latin1')]) {
    for (const s of secrets) {
      assert.ok(
        !body.includes(s.toString('hex')) &&
          !body.includes(s.toString('base64')) &&
          !body.includes(s.toString('latin1')),
        'a private key leaked',
      );
    }
  }
  await a.stop();
  await b.stop();
});

test('a tampered sealed blob is refused (UNSEAL_FAILED) and the enclave keeps serving', async () => {
  const { w, i1, start } = await setup();
  const a = await start(v1);
  await gate(a, w, i1);
  const stored = (await a.app.inject(json({}))).json().stored as { sealed: string; ciphertextBlob: string };
  const b = await start(v1);
  await gate(b, w, i1);
  const sealed = fromBase64(stored.sealed);
  sealed[sealed.length - 20]! ^= 1;
  const r = await b.app.inject(json({ sealed: toBase64(sealed), ciphertextBlob: stored.ciphertextBlob }));
  assert.equal(r.statusCode, 422);
  assert.equal(r.json().code, 'UNSEAL_FAILED');
  const junk = await b.app.inject(
    json({ sealed: toBase64(new Uint8Array(40)), ciphertextBlob: stored.ciphertextBlob }),
  );
  assert.equal(junk.json().code, 'SEALED_MALFORMED');
  const blob = fromBase64(stored.ciphertextBlob);
  blob[blob.length - 1]! ^= 1;
  const badBlob = await b.app.inject(json({ sealed: stored.sealed, ciphertextBlob: toBase64(blob) }));
  assert.equal(badBlob.statusCode >= 400 && badBlob.statusCode < 500, true, badBlob.body);
  // still serving, and a good pair still works
  assert.equal((await b.app.inject(json(stored))).statusCode, 200);
  await a.stop();
  await b.stop();
});

test('a new logged release unseals the identity once the key policy lists its PCR0; an unlogged image never calls KMS', async () => {
  const { w, i1, kms, key, start, calls } = await setup();
  const a = await start(v1);
  await gate(a, w, i1);
  const f = (await a.app.inject(json({}))).json() as { identity: unknown; stored: unknown };
  const i2 = w.publish(v2);
  const b = await start(v2);
  assert.equal((await gate(b, w, i2)).statusCode, 200);
  const denied = await b.app.inject(json(f.stored));
  assert.equal(denied.statusCode, 403);
  assert.equal(denied.json().code, 'KMS_DENIED');
  await kms.core.putKeyPolicy(ADMIN, { keyId: key.KeyId, policy: attestedPolicy([v1.pcr0, v2.pcr0]) });
  const ok = await b.app.inject(json(f.stored));
  assert.equal(ok.statusCode, 200, ok.body);
  assert.deepEqual(ok.json().identity, f.identity);

  const before = calls();
  const rogue = await start(measurements('unlogged'));
  const r1 = await rogue.app.inject({
    method: 'POST',
    url: '/v1/gate',
    headers: { 'content-type': 'application/json' },
    payload: formatProofBundle(w.bundle(i2)),
  });
  assert.equal(r1.statusCode, 503);
  const r2 = await rogue.app.inject(json(f.stored));
  assert.equal(r2.statusCode, 503);
  assert.equal(r2.json().code, 'GATE_CLOSED');
  assert.equal(calls(), before, 'KMS was called by an image the gate refused');
  for (const e of [a, b, rogue]) await e.stop();
});

/** What a host that knows the data key can do to a sealed blob: rewrite its records. */
function resealWithout(sealed: Uint8Array, dataKey: Uint8Array, keyArn: string, drop: number[]): Uint8Array {
  const b = Buffer.from(sealed);
  const aad = Buffer.from(`keycast.dev/enclave-identity-seal/v${b[4]}\n${keyArn}\n`);
  const d = createDecipheriv('aes-256-gcm', dataKey, b.subarray(5, 17));
  d.setAAD(aad);
  d.setAuthTag(b.subarray(b.length - 16));
  const plain = Buffer.concat([d.update(b.subarray(17, b.length - 16)), d.final()]);
  const kept: Buffer[] = [];
  for (let at = 0; at < plain.length; ) {
    const len = plain.readUInt16BE(at + 1);
    if (!drop.includes(plain[at]!)) kept.push(plain.subarray(at, at + 3 + len));
    at += 3 + len;
  }
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', dataKey, nonce);
  c.setAAD(aad);
  const body = Buffer.concat([c.update(Buffer.concat(kept)), c.final()]);
  return new Uint8Array(Buffer.concat([b.subarray(0, 5), nonce, body, c.getAuthTag()]));
}

test('a host allowed kms:Encrypt seals keys of its own choosing: every forged genesis is refused, nothing is served', async () => {
  const { w, i1, kms, key, start, calls } = await setup();
  // the red-team policy: the enclave role (whose credentials the host holds) may also Encrypt
  const bad = JSON.parse(attestedPolicy([v1.pcr0])) as { Statement: object[] };
  bad.Statement.push({
    Sid: 'Oops',
    Effect: 'Allow',
    Principal: { AWS: ENCLAVE_ROLE },
    Action: 'kms:Encrypt',
    Resource: '*',
  });
  await kms.core.putKeyPolicy(ADMIN, { keyId: key.KeyId, policy: JSON.stringify(bad) });
  const dataKey = randomBytes(32);
  const { ciphertextBlob } = await kms.core.encrypt(ENCLAVE_ROLE, { keyId: key.Arn, plaintext: dataKey });
  const mine = generateIdentity(); // the host's own keys: it knows every private byte
  const pub = publicIdentity(mine);
  const honest = await start(v1);
  assert.equal((await gate(honest, w, i1)).statusCode, 200);
  const release = honest.gate.openRelease();
  const binding = { publicKey: pub.hpkeX25519, userData: formatIdentityBinding(pub), nonce: null };
  const forgeries: Array<[string, Uint8Array, string, string | null]> = [];
  const sealedWith = (document: Uint8Array) => sealIdentity(mine, { document, ...release }, dataKey, key.Arn);
  // 1. no genesis at all
  forgeries.push([
    'no genesis',
    resealWithout(sealedWith(new Uint8Array(1)), dataKey, key.Arn, [5, 6, 7]),
    'IDENTITY_GENESIS_MISSING',
    null,
  ]);
  // 2. the honest enclave's own attestation (it binds the honest keys, not the host's)
  const honestDoc = await honest.app.inject({ method: 'GET', url: `/v1/attestation?nonce=${'01'.repeat(16)}` });
  assert.equal(honestDoc.json().code, 'IDENTITY_NOT_READY', 'the honest enclave has no identity yet either');
  const genuine = await new SimulatedNsm({ pki, pcrs: v1 }).attestation({
    publicKey: generateIdentity().hpke.publicKey,
    userData: formatIdentityBinding(publicIdentity(generateIdentity())),
  });
  forgeries.push([
    'a genuine document binding other keys',
    sealedWith(genuine),
    'IDENTITY_GENESIS_INVALID',
    'IDENTITY_BINDING',
  ]);
  // 3. another AWS customer: a genuine NSM (same root) running an image of its own, attesting the host's keys
  const other = await new SimulatedNsm({ pki, pcrs: measurements('their-own-image') }).attestation(binding);
  forgeries.push(['an unlogged image’s document', sealedWith(other), 'IDENTITY_GENESIS_INVALID', 'PCR_MISMATCH']);
  // 4. a document from an NSM under a root of the host's own making
  const own = await new SimulatedNsm({ pki: createTestPki(), pcrs: v1 }).attestation(binding);
  forgeries.push(['a document under another root', sealedWith(own), 'IDENTITY_GENESIS_INVALID', 'ROOT_UNTRUSTED']);
  // 5. the old format, which had no genesis: refused before KMS is asked
  const v1blob = resealWithout(sealedWith(own), dataKey, key.Arn, [5, 6, 7]);
  v1blob[4] = 1;
  forgeries.push(['a version 1 blob', v1blob, 'IDENTITY_GENESIS_MISSING', null]);

  for (const [name, sealed, code, verifierCode] of forgeries) {
    const before = calls();
    const r = await honest.app.inject(json({ sealed: toBase64(sealed), ciphertextBlob: toBase64(ciphertextBlob) }));
    assert.equal(r.statusCode, 422, `${name}: ${r.body}`);
    assert.equal(r.json().code, code, name);
    if (verifierCode) assert.equal(r.json().evidence.verifierCode, verifierCode, name);
    if (name === 'a version 1 blob') assert.equal(calls(), before, 'no KMS call for a genesis-less format');
    assert.equal(honest.identity.current, null, `${name}: nothing unsealed is served`);
  }
  const att = await honest.app.inject({ method: 'GET', url: `/v1/attestation?nonce=${'02'.repeat(16)}` });
  assert.equal(att.json().code, 'IDENTITY_NOT_READY', 'the enclave never attests the host’s keys');
  // the honest first boot still works afterwards
  const first = (await honest.app.inject(json({}))).json();
  assert.equal(first.pending, true);
  await honest.stop();
});
