/**
 * Nitro attestation documents against the 13 real documents and 2 NEGATIVE ones in
 * testdata/nitro/attestation, the pinned AWS root, policy checks, and sign→verify
 * round trips with an AWS-shaped test PKI (which is trusted only when passed explicitly).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  verifyAttestationDocument,
  parseAttestationDocument,
  awsNitroRootG1,
  isVerifierError,
  type VerifierErrorCode,
} from '../index.ts';
import { AWS_NITRO_ROOT_G1_SHA256 } from '../src/attestation/aws-root.ts';
import { toHex, fromHex, isDebugMode } from '../build.ts';
import {
  NITRO,
  realVectors,
  vectors,
  hexOrNull,
  makeTestPki,
  issueDocument,
  pcrs,
  MODULE_ID,
} from './attestation-fixtures.ts';

const coded = (code: VerifierErrorCode) => (e: unknown) => isVerifierError(e, code);
const atOf = (ms: number) => new Date(ms);

test('the embedded AWS root is byte-identical to the test vector DER and PEM, with the pinned fingerprint', () => {
  const der = readFileSync(resolve(NITRO, 'aws-nitro-enclaves-root-g1.der'));
  const pem = new X509Certificate(readFileSync(resolve(NITRO, 'aws-nitro-enclaves-root-g1.pem')));
  const root = awsNitroRootG1();
  assert.deepEqual(Buffer.from(root), der);
  assert.deepEqual(Buffer.from(root), pem.raw);
  assert.equal(createHash('sha256').update(root).digest('hex'), AWS_NITRO_ROOT_G1_SHA256);
  assert.equal(AWS_NITRO_ROOT_G1_SHA256, '641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b');
  root[0] = 0; // callers get a copy: the pin itself cannot be altered
  assert.equal(awsNitroRootG1()[0], 0x30);
});

test('there are 13 real documents and 2 NEGATIVE ones', () => {
  assert.equal(realVectors().length, 13);
  assert.equal(vectors().filter((v) => v.name.startsWith('NEGATIVE-')).length, 2);
});

for (const v of realVectors()) {
  test(`real document ${v.name} verifies at its own time with the pinned AWS root, fields as its sidecar says`, () => {
    const debug = v.name.includes('debugmode');
    const expectedPcrs = Object.fromEntries(Object.entries(v.side.pcrs).map(([k, h]) => [Number(k), h]));
    const r = verifyAttestationDocument(v.bytes, {
      at: atOf(v.side.verify_at_unix_ms),
      policy: {
        allowDebug: debug,
        expectedPcrs,
        nonce: hexOrNull(v.side.nonce_hex),
        userData: hexOrNull(v.side.user_data_hex),
        publicKey: hexOrNull(v.side.public_key_hex),
      },
    });
    assert.equal(r.moduleId, v.side.module_id);
    assert.equal(r.timestamp, v.side.timestamp_ms);
    assert.equal(r.debug, debug);
    assert.equal(r.pcrs.size, Object.keys(v.side.pcrs).length);
    for (const [k, h] of Object.entries(v.side.pcrs)) assert.equal(toHex(r.pcrs.get(Number(k))!), h);
    assert.equal(r.rootSha256, AWS_NITRO_ROOT_G1_SHA256);
    assert.equal(r.chain.length, 5);
    assert.equal(r.chain[4]!.role, 'certificate');
    assert.equal(r.chain[0]!.subject, 'C=US, O=Amazon, OU=AWS, CN=aws.nitro-enclaves');
    // the same bytes with CBOR tag 18 (COSE_Sign1_Tagged) verify too
    const tagged = new Uint8Array([0xd2, ...v.bytes]);
    assert.equal(
      verifyAttestationDocument(tagged, { at: atOf(v.side.verify_at_unix_ms), policy: { allowDebug: true } }).document
        .tagged,
      true,
    );
  });

  test(`real document ${v.name} is refused outside its chain's validity window`, () => {
    const [from, to] = v.side.chain_validity_window.map((s) => Date.parse(s)) as [number, number];
    for (const at of [from - 1000, to + 1000, Date.UTC(2049, 11, 31), Date.UTC(2019, 0, 1)]) {
      assert.throws(
        () => verifyAttestationDocument(v.bytes, { at: atOf(at), policy: { allowDebug: true } }),
        (e: unknown) => {
          assert.ok(isVerifierError(e, 'CERT_VALIDITY'), String(e));
          assert.equal(typeof e.evidence.subject, 'string');
          assert.equal(typeof e.evidence.notAfter, 'string');
          return true;
        },
      );
    }
    // and "now" (the default) is long past every real document's 3-hour leaf
    assert.throws(() => verifyAttestationDocument(v.bytes, { policy: { allowDebug: true } }), coded('CERT_VALIDITY'));
  });
}

test('NEGATIVE: the document with an invalid COSE signature is refused with ATTESTATION_SIGNATURE', () => {
  const v = vectors().find((x) => x.name.startsWith('NEGATIVE-eternis-invalid-signature'))!;
  assert.throws(
    () => verifyAttestationDocument(v.bytes, { at: atOf(v.side.verify_at_unix_ms), policy: { allowDebug: true } }),
    coded('ATTESTATION_SIGNATURE'),
  );
});

test('NEGATIVE: the self-consistent document under a mock root is refused with ROOT_UNTRUSTED, and passes only when that root is trusted explicitly', () => {
  const v = vectors().find((x) => x.name.startsWith('NEGATIVE-marlin-custom-root'))!;
  const at = atOf(v.side.verify_at_unix_ms);
  assert.throws(
    () => verifyAttestationDocument(v.bytes, { at }),
    (e: unknown) => isVerifierError(e, 'ROOT_UNTRUSTED') && e.evidence.subject === 'CN=root',
  );
  // root pinning is the only thing wrong with it: trusting its mock root explicitly, it verifies
  const mockRoot = parseAttestationDocument(v.bytes).cabundle[0]!;
  const r = verifyAttestationDocument(v.bytes, { at, trustedRoots: [mockRoot] });
  assert.equal(r.rootSha256, createHash('sha256').update(mockRoot).digest('hex'));
  assert.throws(
    () =>
      verifyAttestationDocument(v.bytes, { at, trustedRoots: [awsNitroRootG1(), makeTestPki(Date.now()).root.der] }),
    coded('ROOT_UNTRUSTED'),
  );
});

test('debug-mode documents are refused by default and accepted only with allowDebug', () => {
  const debug = realVectors().filter((v) => /^0+$/.test(v.side.pcrs['0']!));
  assert.deepEqual(
    debug,
    realVectors().filter((v) => v.name.includes('debugmode')),
  );
  assert.equal(debug.length, 6); // the 7th debug-mode capture is the NEGATIVE bad-signature one
  for (const v of debug) {
    const at = atOf(v.side.verify_at_unix_ms);
    assert.throws(() => verifyAttestationDocument(v.bytes, { at }), coded('DEBUG_MODE'));
    assert.equal(verifyAttestationDocument(v.bytes, { at, policy: { allowDebug: true } }).debug, true);
  }
  for (const v of realVectors().filter((x) => !x.name.includes('debugmode')))
    assert.equal(verifyAttestationDocument(v.bytes, { at: atOf(v.side.verify_at_unix_ms) }).debug, false);
});

test('expected PCRs are checked by iterating the expected set: a missing PCR fails, a wrong one fails with both values', () => {
  const v = realVectors().find((x) => x.name.startsWith('marlin-aws-pcr16'))!;
  const at = atOf(v.side.verify_at_unix_ms);
  // PCR16 present in this document: expecting it passes; PCR17 is not in it: expecting it fails
  verifyAttestationDocument(v.bytes, {
    at,
    policy: { expectedPcrs: { 0: v.side.pcrs['0']!, 16: v.side.pcrs['16']! } },
  });
  assert.throws(
    () => verifyAttestationDocument(v.bytes, { at, policy: { expectedPcrs: { 17: '00'.repeat(48) } } }),
    (e: unknown) => isVerifierError(e, 'PCR_MISMATCH') && e.evidence.pcr === 17 && e.evidence.actual === null,
  );
  const wrong = 'ab'.repeat(48);
  assert.throws(
    () => verifyAttestationDocument(v.bytes, { at, policy: { expectedPcrs: new Map([[0, fromHex(wrong)]]) } }),
    (e: unknown) =>
      isVerifierError(e, 'PCR_MISMATCH') && e.evidence.expected === wrong && e.evidence.actual === v.side.pcrs['0'],
  );
  // a malformed policy is the caller's bug, not the document's
  assert.throws(() => verifyAttestationDocument(v.bytes, { at, policy: { expectedPcrs: { 0: 'abcd' } } }), RangeError);
  assert.throws(() => verifyAttestationDocument(v.bytes, { at, policy: { expectedPcrs: { 32: wrong } } }), RangeError);
});

test('nonce, user data and public key bind exactly; null and empty are different', () => {
  const v = realVectors().find((x) => x.name.startsWith('marlin-aws-pcr16'))!; // user_data = h'', nonce = null
  const at = atOf(v.side.verify_at_unix_ms);
  verifyAttestationDocument(v.bytes, { at, policy: { userData: new Uint8Array(0), nonce: null } });
  assert.throws(
    () => verifyAttestationDocument(v.bytes, { at, policy: { userData: null } }),
    coded('USER_DATA_MISMATCH'),
  );
  assert.throws(
    () => verifyAttestationDocument(v.bytes, { at, policy: { nonce: new Uint8Array(0) } }),
    coded('NONCE_MISMATCH'),
  );
  assert.throws(
    () => verifyAttestationDocument(v.bytes, { at, policy: { publicKey: new Uint8Array(32) } }),
    coded('PUBLIC_KEY_MISMATCH'),
  );
  const e = realVectors().find((x) => x.name.startsWith('eternis-example'))!; // has a nonce
  const nonce = fromHex(e.side.nonce_hex!);
  verifyAttestationDocument(e.bytes, { at: atOf(e.side.verify_at_unix_ms), policy: { allowDebug: true, nonce } });
  nonce[nonce.length - 1]! ^= 1;
  assert.throws(
    () =>
      verifyAttestationDocument(e.bytes, { at: atOf(e.side.verify_at_unix_ms), policy: { allowDebug: true, nonce } }),
    coded('NONCE_MISMATCH'),
  );
});

test('maximum age: refused when older than maxAgeMs or dated in the future beyond the skew', () => {
  const v = realVectors().find((x) => x.name.startsWith('marlin-verifier'))!;
  const ts = v.side.timestamp_ms;
  verifyAttestationDocument(v.bytes, { at: atOf(ts + 60_000), policy: { maxAgeMs: 120_000 } });
  assert.throws(
    () => verifyAttestationDocument(v.bytes, { at: atOf(ts + 60_000), policy: { maxAgeMs: 30_000 } }),
    (e: unknown) => isVerifierError(e, 'ATTESTATION_AGE') && e.evidence.ageMs === 60_000,
  );
});

test('simulated documents (test PKI, AWS shape) verify with the test root and are refused without it', () => {
  const now = Date.UTC(2026, 0, 1);
  const pki = makeTestPki(now);
  const doc = issueDocument(pki, now, { nonce: new Uint8Array([1, 2, 3]), userData: new Uint8Array(0) });
  const at = atOf(now + 60_000);
  const r = verifyAttestationDocument(doc.bytes, {
    at,
    trustedRoots: [pki.root.der],
    policy: {
      nonce: Uint8Array.of(1, 2, 3),
      userData: new Uint8Array(0),
      publicKey: null,
      expectedPcrs: { 0: pcrs().get(0)! },
    },
  });
  assert.equal(r.moduleId, MODULE_ID);
  assert.equal(r.chain.length, 5);
  assert.throws(() => verifyAttestationDocument(doc.bytes, { at }), coded('ROOT_UNTRUSTED'));
  // another test root is not this one
  assert.throws(
    () => verifyAttestationDocument(doc.bytes, { at, trustedRoots: [makeTestPki(now).root.der] }),
    coded('ROOT_UNTRUSTED'),
  );
  // the document is accepted exactly as parsed: the parse gives back what was encoded
  const p = parseAttestationDocument(doc.bytes);
  assert.deepEqual(
    [p.moduleId, p.timestamp, p.nonce, p.userData, p.publicKey],
    [MODULE_ID, now, Uint8Array.of(1, 2, 3), new Uint8Array(0), null],
  );
});

test('simulated debug-mode documents (all-zero PCR0/1/2/8) are refused unless allowed', () => {
  const now = Date.UTC(2026, 0, 1);
  const pki = makeTestPki(now);
  const zero = pcrs((i) => ([0, 1, 2, 8].includes(i) ? 0 : i));
  assert.equal(isDebugMode(zero), true);
  const doc = issueDocument(pki, now, { pcrs: zero });
  const opts = { at: atOf(now + 1000), trustedRoots: [pki.root.der] };
  assert.throws(() => verifyAttestationDocument(doc.bytes, opts), coded('DEBUG_MODE'));
  assert.equal(verifyAttestationDocument(doc.bytes, { ...opts, policy: { allowDebug: true } }).debug, true);
});

test('a document dated outside its leaf certificate is refused', () => {
  const now = Date.UTC(2026, 0, 1);
  const pki = makeTestPki(now);
  const doc = issueDocument(
    pki,
    now + 4 * 3600_000,
    {},
    { notBefore: new Date(now), notAfter: new Date(now + 3 * 3600_000) },
  );
  assert.throws(
    () => verifyAttestationDocument(doc.bytes, { at: atOf(now + 60_000), trustedRoots: [pki.root.der] }),
    (e: unknown) => isVerifierError(e, 'CERT_VALIDITY') && e.evidence.role === 'certificate',
  );
});
