/**
 * KDMs (SMPTE ST 430-1) and ST 430-2 certificates: the writer's output parses, verifies with the
 * reader's independent XML-DSig implementation (xmldsigjs) and decrypts to exactly the keys sent;
 * tampering, wrong keys, wrapping tricks and out-of-profile certificates are refused with codes.
 * External checks (XSD, xmlsec1, xml-crypto) are in test/kdm-interop.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isVerifierError } from '../src/errors.ts';
import { buildKdm, kdmSigner } from '../build/kdm/write.ts';
import { parseKdm, verifyKdmSignature, decryptKdm, checkKdmSignerChain, checkKdmRecipient } from '../src/kdm/read.ts';
import { decodeKeyBlock, encodeKeyBlock, KEY_BLOCK_BYTES } from '../src/kdm/block.ts';
import { checkDcProfile, verifyDcChain } from '../src/kdm/profile.ts';
import { rfc2253, publicKeyThumbprint, nameValue } from '../src/kdm/certificate.ts';
import { chain } from './kdm-fixtures.ts';

const signer = chain({ leafCn: 'CS.keycast-test' });
const projector = chain({ O: 'MAKER.COM', leafCn: 'LE SPB MD SM.PROJ-1.MAKER' });
const keys = [
  { id: 'urn:uuid:aaaaaaaa-2222-4333-8444-555555555555', type: 'MDIK', key: new Uint8Array(randomBytes(16)) },
  { id: 'urn:uuid:bbbbbbbb-2222-4333-8444-555555555555', type: 'MDAK', key: new Uint8Array(randomBytes(16)) },
];
const input = {
  cplId: 'urn:uuid:11111111-2222-4333-8444-555555555555',
  title: 'Film & <Title> "quoted"',
  keys,
  notBefore: '2026-01-01T00:00:00+00:00',
  notAfter: '2026-01-15T00:00:00+00:00',
  issueDate: '2025-12-01T00:00:00+00:00',
  recipient: projector.leaf,
  signer: kdmSigner([signer.leaf, signer.ca, signer.root], signer.leafKey),
};

test('a written KDM verifies with xmldsigjs and decrypts to exactly the keys sent', async () => {
  const xml = buildKdm(input);
  for (const k of keys)
    assert.ok(
      !xml.includes(Buffer.from(k.key).toString('base64')) && !xml.includes(Buffer.from(k.key).toString('hex')),
    );
  const { kdm, signer: s } = await verifyKdmSignature(xml);
  assert.equal(kdm.cplId, input.cplId);
  assert.equal(kdm.title, input.title);
  assert.equal(kdm.notBefore, input.notBefore);
  checkKdmRecipient(kdm, projector.leaf);
  assert.equal(checkKdmSignerChain(kdm, s, { at: new Date() }).length, 3);
  const got = decryptKdm(kdm, projector.leafKey, s);
  assert.deepEqual(
    got.map((g) => [g.id, g.type, Buffer.from(g.key).toString('hex')]),
    keys.map((k) => [k.id, k.type, Buffer.from(k.key).toString('hex')]),
  );
  assert.throws(
    () => checkKdmRecipient(kdm, signer.leaf),
    (e) => isVerifierError(e, 'KDM_MALFORMED'),
  );
});

test('tampered KDMs fail the signature; wrong private keys fail decryption', async () => {
  const xml = buildKdm(input);
  for (const [from, to] of [
    ['2026-01-15T00:00:00+00:00</ContentKeysNotValidAfter>', '2027-01-15T00:00:00+00:00</ContentKeysNotValidAfter>'],
    ['>MDAK</KeyType>', '>MDSK</KeyType>'],
    ['<enc:CipherValue>', '<enc:CipherValue>AAAA'],
  ] as const) {
    const bad = xml.replace(from, to);
    assert.notEqual(bad, xml);
    await assert.rejects(
      verifyKdmSignature(bad),
      (e) => isVerifierError(e, 'KDM_SIGNATURE') || isVerifierError(e, 'KDM_MALFORMED'),
      from,
    );
  }
  // whitespace inside a signed element is part of the canonical form
  await assert.rejects(verifyKdmSignature(xml.replace('<MessageId>', '<MessageId> ')), (e) =>
    isVerifierError(e, 'KDM_SIGNATURE'),
  );
  assert.throws(
    () => decryptKdm(parseKdm(xml), signer.leafKey),
    (e) => isVerifierError(e, 'KDM_DECRYPT'),
  );
});

test('wrapping routes are refused: DOCTYPE, duplicate Id, extra references', async () => {
  const xml = buildKdm(input);
  assert.throws(
    () =>
      parseKdm(
        xml.replace(
          '<?xml version="1.0" encoding="UTF-8"?>\n',
          '<?xml version="1.0"?>\n<!DOCTYPE x [<!ATTLIST x Id ID #IMPLIED>]>\n',
        ),
      ),
    (e) => isVerifierError(e, 'KDM_MALFORMED'),
  );
  assert.throws(
    () => parseKdm(xml.replace('<NonCriticalExtensions>', '<NonCriticalExtensions Id="ID_AuthenticatedPrivate">')),
    (e) => isVerifierError(e, 'KDM_MALFORMED'),
  );
  assert.throws(
    () => parseKdm('<a>'),
    (e) => isVerifierError(e, 'KDM_MALFORMED'),
  );
  assert.throws(
    () => parseKdm(new Uint8Array([0xff, 0xfe])),
    (e) => isVerifierError(e, 'KDM_MALFORMED'),
  );
});

test('the 138-byte block round-trips and refuses a wrong structure id', () => {
  const b = {
    signerThumbprint: new Uint8Array(20).fill(1),
    cplId: input.cplId,
    keyType: 'MDIK',
    keyId: keys[0]!.id,
    notBefore: input.notBefore,
    notAfter: input.notAfter,
    key: keys[0]!.key,
  };
  const enc = encodeKeyBlock(b);
  assert.equal(enc.length, KEY_BLOCK_BYTES);
  assert.deepEqual(decodeKeyBlock(enc), b);
  enc[0] = 0;
  assert.throws(
    () => decodeKeyBlock(enc),
    (e) => isVerifierError(e, 'KDM_MALFORMED'),
  );
  assert.throws(() => encodeKeyBlock({ ...b, notBefore: '2026-01-01T00:00:00Z' }), RangeError);
});

test('ST 430-2 profile and chain: names, dnQualifier, roles, key size, validity, roots', () => {
  const c = projector.leaf;
  assert.equal(nameValue(c.subjectRdns, 'dnQualifier'), publicKeyThumbprint(c.pkcs1));
  assert.ok(rfc2253(c.subjectRdns).startsWith('dnQualifier='));
  assert.ok(c.subject.includes(',CN=LE SPB MD SM.PROJ-1.MAKER,OU=Tests,O=MAKER.COM'));
  checkDcProfile(c, 'leaf', 'SM');
  assert.throws(
    () => checkDcProfile(signer.leaf, 'leaf', 'SM'),
    (e) => isVerifierError(e, 'CERT_PROFILE'),
  );
  assert.throws(
    () => checkDcProfile(projector.root, 'leaf'),
    (e) => isVerifierError(e, 'CERT_PROFILE'),
  );
  const now = new Date();
  assert.equal(
    verifyDcChain(c, { intermediates: [projector.ca], roots: [projector.root], at: now, requiredRole: 'SM' }).length,
    3,
  );
  assert.throws(
    () => verifyDcChain(c, { intermediates: [projector.ca], roots: [signer.root], at: now }),
    (e) => isVerifierError(e, 'CERT_CHAIN'),
  );
  assert.throws(
    () => verifyDcChain(c, { intermediates: [], roots: [projector.root], at: now }),
    (e) => isVerifierError(e, 'CERT_CHAIN'),
  );
  assert.throws(
    () =>
      verifyDcChain(c, {
        intermediates: [projector.ca],
        roots: [projector.root],
        at: new Date(Date.now() + 20 * 365 * 86_400_000),
      }),
    (e) => isVerifierError(e, 'CERT_VALIDITY'),
  );
  const small = chain({ leafBits: 1024, leafCn: 'SM.small' });
  assert.throws(
    () => verifyDcChain(small.leaf, { intermediates: [small.ca], roots: [small.root], at: now }),
    (e) => isVerifierError(e, 'CERT_PROFILE'),
  );
});

test('mutated KDM bytes never crash the reader: a coded refusal or a clean parse', async () => {
  const xml = Buffer.from(buildKdm(input));
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let i = 0; i < 60; i++) {
    const b = Buffer.from(xml);
    for (let j = 0; j < 3; j++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    try {
      // a byte outside the signed elements (e.g. whitespace between them) may legitimately still verify;
      // then what it carries must be unchanged
      const { kdm, signer: s } = await verifyKdmSignature(new Uint8Array(b));
      assert.deepEqual(
        decryptKdm(kdm, projector.leafKey, s).map((k) => k.key),
        keys.map((k) => k.key),
      );
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      assert.ok(isVerifierError(e), String(e));
    }
  }
  await assert.rejects(verifyKdmSignature('x'.repeat(1024 * 1024 + 1)), (e) => isVerifierError(e, 'OVERSIZED'));
});
