/**
 * Cross-folder: documents from the enclave's NSM simulator go through the verifier's own
 * attestation check. They pass only when the simulator's test root is trusted explicitly, fail
 * with ROOT_UNTRUSTED under the default (AWS) roots, carry the EIF measurement in PCR0/1/2, bind
 * user_data/nonce/public_key exactly (null ≠ empty), and fail on any tampered byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SimulatedNsm, createTestPki, exportTestPki, importTestPki } from '../enclave/index.ts';
import { parseAttestationDocument, verifyAttestationDocument, isVerifierError } from '#verifier';
import { measureEif } from '#verifier/build';

const vectors = resolve(import.meta.dirname, '../testdata/nitro');
const sidecar = JSON.parse(readFileSync(resolve(vectors, 'eif/synthetic-x86_64.json'), 'utf8'));
/** A real EIF measured from its bytes (the same measureEif the builder and release signer use). */
const pcrs = measureEif(new Uint8Array(readFileSync(resolve(vectors, 'eif/synthetic-x86_64.eif'))));
const NOW = Date.UTC(2026, 10, 26, 22, 0, 0);
const pki = createTestPki({ now: NOW - 60_000 });
const hex = (u: Uint8Array) => Buffer.from(u).toString('hex');

function sim(clock = () => NOW) {
  return new SimulatedNsm({ pki, pcrs, clock });
}

test('a simulated document verifies with the test root trusted, and not by default', async () => {
  const doc = await sim().attestation({ nonce: Uint8Array.of(1, 2, 3) });
  const at = new Date(NOW + 1000);
  const ok = verifyAttestationDocument(doc, { trustedRoots: [pki.rootDer], at });
  assert.ok(ok);
  assert.throws(
    () => verifyAttestationDocument(doc, { at }),
    (e: unknown) => isVerifierError(e, 'ROOT_UNTRUSTED'),
  );
});

test('the PCRs come from the measured EIF (matching the reference tool), passed to the simulator as measureEif returns them', () => {
  assert.equal(pcrs.pcr0, sidecar.expected_measurements.PCR0);
  assert.equal(pcrs.pcr1, sidecar.expected_measurements.PCR1);
  assert.equal(pcrs.pcr2, sidecar.expected_measurements.PCR2);
});

test('expected-PCR policy and debug mode: the verifier policy sees the simulator PCRs', async () => {
  const doc = await sim().attestation();
  const at = new Date(NOW);
  assert.ok(
    verifyAttestationDocument(doc, {
      trustedRoots: [pki.rootDer],
      at,
      policy: { expectedPcrs: { 0: pcrs.pcr0, 1: pcrs.pcr1, 2: pcrs.pcr2 } },
    }),
  );
  assert.throws(
    () =>
      verifyAttestationDocument(doc, {
        trustedRoots: [pki.rootDer],
        at,
        policy: { expectedPcrs: { 0: 'ab'.repeat(48) } },
      }),
    (e: unknown) => isVerifierError(e, 'PCR_MISMATCH'),
  );
  const debugDoc = await new SimulatedNsm({ pki, pcrs, clock: () => NOW, debug: true }).attestation();
  assert.throws(
    () => verifyAttestationDocument(debugDoc, { trustedRoots: [pki.rootDer], at }),
    (e: unknown) => isVerifierError(e, 'DEBUG_MODE'),
  );
  assert.ok(verifyAttestationDocument(debugDoc, { trustedRoots: [pki.rootDer], at, policy: { allowDebug: true } }));
});

test('the document has the real structure: untagged COSE_Sign1 ES384, 9 keys, locked PCRs 0..15, EIF PCRs', async () => {
  const nsm = sim();
  await nsm.extendPcr(16, Uint8Array.of(7));
  await nsm.lockPcr(16);
  await nsm.extendPcr(17, Uint8Array.of(7)); // extended but not locked: not in the document
  const doc = await nsm.attestation({});
  assert.equal(doc[0], 0x84);
  assert.equal(hex(doc.subarray(1, 6)), '44a1013822');
  const p = parseAttestationDocument(doc);
  assert.equal(p.moduleId, nsm.moduleId);
  assert.equal(p.digest, 'SHA384');
  assert.equal(p.timestamp, NOW);
  assert.deepEqual([...p.pcrs.keys()], [...Array(17).keys()]);
  assert.equal(hex(p.pcrs.get(0)!), pcrs.pcr0);
  assert.equal(hex(p.pcrs.get(1)!), pcrs.pcr1);
  assert.equal(hex(p.pcrs.get(2)!), pcrs.pcr2);
  assert.equal(hex(p.pcrs.get(16)!), hex((await nsm.describePcr(16)).data));
  assert.equal(p.cabundle.length, 4);
  assert.deepEqual(p.cabundle[0], pki.rootDer);
  assert.equal(p.userData, null);
  assert.equal(p.nonce, null);
  assert.equal(p.publicKey, null);
});

test('user_data, nonce and public_key round trip; empty stays empty and absent stays null', async () => {
  const ud = Uint8Array.from(Buffer.from('keycast user data'));
  const nonce = new Uint8Array(1024).fill(0x5a);
  const p = parseAttestationDocument(await sim().attestation({ userData: ud, nonce, publicKey: new Uint8Array(0) }));
  assert.deepEqual(p.userData, ud);
  assert.deepEqual(p.nonce, nonce);
  assert.deepEqual(p.publicKey, new Uint8Array(0));
});

test("each document has a fresh 3-hour leaf and the clock's timestamp; it expires with the leaf", async () => {
  let t = NOW;
  const nsm = sim(() => t);
  const a = parseAttestationDocument(await nsm.attestation());
  t += 5000;
  const b = parseAttestationDocument(await nsm.attestation());
  assert.equal(b.timestamp, NOW + 5000);
  assert.notDeepEqual(a.certificate, b.certificate);
  const doc = await nsm.attestation();
  assert.ok(verifyAttestationDocument(doc, { trustedRoots: [pki.rootDer], at: new Date(t + 2 * 3600_000) }));
  assert.throws(
    () => verifyAttestationDocument(doc, { trustedRoots: [pki.rootDer], at: new Date(t + 3 * 3600_000 + 1000) }),
    (e: unknown) => isVerifierError(e, 'CERT_VALIDITY'),
  );
});

test('tampering with any byte makes verification fail', async () => {
  const doc = await sim().attestation({ userData: Uint8Array.of(1), nonce: Uint8Array.of(2) });
  const at = new Date(NOW + 1000);
  const step = Math.max(1, Math.floor(doc.length / 400));
  let checked = 0;
  for (let i = 0; i < doc.length; i += i < 64 || i > doc.length - 128 ? 1 : step) {
    const bad = Uint8Array.from(doc);
    bad[i]! ^= 0x01;
    assert.throws(
      () => verifyAttestationDocument(bad, { trustedRoots: [pki.rootDer], at }),
      (e: unknown) => {
        assert.ok(
          isVerifierError(e),
          `byte ${i} of ${doc.length}: expected a coded VerifierError, got ${(e as Error)?.stack ?? String(e)}`,
        );
        return true;
      },
      `byte ${i} of ${doc.length} was accepted after tampering`,
    );
    checked++;
  }
  assert.ok(checked > 300);
});

test('a PKI persisted and reloaded (as the demo does across processes) still signs verifiable documents', async () => {
  const reloaded = importTestPki(JSON.parse(JSON.stringify(exportTestPki(pki, { keys: 'issuing' }))));
  const doc = await new SimulatedNsm({ pki: reloaded, pcrs, clock: () => NOW }).attestation();
  assert.ok(verifyAttestationDocument(doc, { trustedRoots: [pki.rootDer], at: new Date(NOW) }));
  const other = createTestPki({ now: NOW - 60_000 });
  assert.throws(
    () => verifyAttestationDocument(doc, { trustedRoots: [other.rootDer], at: new Date(NOW) }),
    (e: unknown) => isVerifierError(e, 'ROOT_UNTRUSTED'),
  );
});
