/**
 * The strict X.509 reader, the P-384 certificate writer and the chain rules (RFC 5280 §4.1,
 * §4.2.1.3, §4.2.1.9, §6.1 restricted to the Nitro profile): writer output parses with node's
 * X509Certificate and our parser, real AWS certificates parse as notes/nitro.md §3.3 says, and
 * each constraint violation in a test PKI is refused with the certificate that broke it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import {
  verifyCertificateChain,
  parseAttestationDocument,
  awsNitroRootG1,
  isVerifierError,
  type VerifierErrorCode,
} from '../index.ts';
import { buildCertificate, parseCertificate } from '../build.ts';
import { makeTestPki, realVectors, type TestCa } from './attestation-fixtures.ts';

const NOW = Date.UTC(2026, 0, 1);
const AT = new Date(NOW + 60_000);
const p384 = () => generateKeyPairSync('ec', { namedCurve: 'P-384' });
const coded = (code: VerifierErrorCode, index?: number) => (e: unknown) =>
  isVerifierError(e, code) && (index === undefined || e.evidence.index === index);

function leaf(issuer: TestCa, over: Partial<Parameters<typeof buildCertificate>[0]> = {}): Uint8Array {
  return buildCertificate({
    subject: { CN: 'leaf.test' },
    issuer: issuer.name,
    serial: 5n,
    notBefore: new Date(NOW),
    notAfter: new Date(NOW + 3 * 3600_000),
    publicKey: p384().publicKey,
    issuerPrivateKey: issuer.key,
    ca: false,
    keyUsage: ['digitalSignature', 'nonRepudiation'],
    ...over,
  });
}

test('the writer produces certificates node parses, with the fields asked for', () => {
  const k = p384();
  const der = buildCertificate({
    subject: { C: 'US', O: 'Amazon', OU: 'AWS', CN: 'root.test' },
    issuer: { C: 'US', O: 'Amazon', OU: 'AWS', CN: 'root.test' },
    serial: Uint8Array.of(0x80, 1),
    notBefore: new Date(Date.UTC(2020, 0, 1)),
    notAfter: new Date(Date.UTC(2060, 0, 1)),
    publicKey: k.publicKey,
    issuerPrivateKey: k.privateKey,
    ca: true,
    pathLen: 3,
    keyUsage: ['digitalSignature', 'keyCertSign', 'cRLSign'],
  });
  const x = new X509Certificate(der);
  assert.equal(x.subject, 'C=US\nO=Amazon\nOU=AWS\nCN=root.test');
  assert.equal(x.ca, true);
  assert.equal(x.serialNumber, '8001');
  assert.equal(new Date(x.validTo).toISOString(), '2060-01-01T00:00:00.000Z'); // GeneralizedTime after 2049
  assert.ok(x.verify(k.publicKey));
  const p = parseCertificate(der);
  assert.deepEqual(
    [p.basicConstraints, [...p.keyUsage!.usages], p.keyUsage!.critical, p.subject],
    [
      { ca: true, pathLen: 3, critical: true },
      ['digitalSignature', 'keyCertSign', 'cRLSign'],
      true,
      'C=US, O=Amazon, OU=AWS, CN=root.test',
    ],
  );
  const l = parseCertificate(leaf({ name: { CN: 'root.test' }, der, key: k.privateKey }));
  assert.deepEqual(
    [l.basicConstraints, [...l.keyUsage!.usages], l.keyUsage!.critical],
    [{ ca: false, critical: true }, ['digitalSignature', 'nonRepudiation'], false],
  );
});

test('the writer refuses out-of-profile input', () => {
  const k = p384();
  const base = {
    subject: { CN: 'x' },
    issuer: { CN: 'x' },
    serial: 1n,
    notBefore: new Date(NOW),
    notAfter: new Date(NOW + 1000),
    publicKey: k.publicKey,
    issuerPrivateKey: k.privateKey,
    ca: true,
    keyUsage: ['keyCertSign'],
  };
  assert.throws(
    () => buildCertificate({ ...base, publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey }),
    TypeError,
  );
  assert.throws(
    () => buildCertificate({ ...base, issuerPrivateKey: generateKeyPairSync('ed25519').privateKey }),
    TypeError,
  );
  assert.throws(() => buildCertificate({ ...base, ca: false, pathLen: 0 }), RangeError);
  assert.throws(() => buildCertificate({ ...base, serial: 0n }), RangeError);
  assert.throws(() => buildCertificate({ ...base, keyUsage: ['everything'] }), RangeError);
  assert.throws(() => buildCertificate({ ...base, notAfter: new Date(NOW - 1000) }), RangeError);
  assert.throws(() => buildCertificate({ ...base, notBefore: new Date(NOW + 1) }), RangeError); // whole seconds only
});

test('real AWS certificates parse with the profile notes/nitro.md §3.3 describes', () => {
  const doc = parseAttestationDocument(realVectors().find((v) => v.name.startsWith('marlin-verifier'))!.bytes);
  const [root, regional, zonal, instance] = doc.cabundle.map(parseCertificate) as [
    ReturnType<typeof parseCertificate>,
    ReturnType<typeof parseCertificate>,
    ReturnType<typeof parseCertificate>,
    ReturnType<typeof parseCertificate>,
  ];
  const l = parseCertificate(doc.certificate);
  assert.deepEqual(root.basicConstraints, { ca: true, critical: true });
  assert.equal(regional.basicConstraints?.pathLen, 2);
  assert.equal(zonal.basicConstraints?.pathLen, 1);
  assert.equal(instance.basicConstraints?.pathLen, 0);
  assert.deepEqual([...instance.keyUsage!.usages], ['keyCertSign']);
  assert.deepEqual(
    [
      l.basicConstraints?.ca,
      [...l.keyUsage!.usages],
      l.notAfter.getTime() - l.notBefore.getTime() <= 3 * 3600_000 + 5000,
    ],
    [false, ['digitalSignature', 'nonRepudiation'], true],
  );
  assert.deepEqual(root.der, awsNitroRootG1());
  assert.equal(root.notBefore.toISOString(), '2019-10-28T13:28:05.000Z');
});

test('the reader is strict DER: non-minimal lengths, indefinite lengths, trailing bytes and wrong algorithms are CERT_MALFORMED', () => {
  const der = awsNitroRootG1();
  const hex = Buffer.from(der).toString('hex');
  const cases = [
    '3083' + '000211' + hex.slice(8), // long-form length with a leading zero octet
    '3080' + hex.slice(8) + '0000', // indefinite length
    hex + '00', // trailing byte
    hex.replace('06082a8648ce3d040303', '06082a8648ce3d040302'), // ecdsa-with-SHA256
    hex.replace('06052b81040022', '06052b81040023'), // secp521r1 OID with a P-384-sized point
    hex.replace('a003020102', 'a003020101'), // v2
  ];
  for (const c of cases)
    assert.throws(() => parseCertificate(Buffer.from(c, 'hex')), coded('CERT_MALFORMED'), c.slice(0, 16));
  assert.throws(() => parseCertificate(new Uint8Array(20_000)), coded('CERT_MALFORMED'));
});

test('a well-formed AWS-shaped test chain validates only with its root trusted', () => {
  const pki = makeTestPki(NOW);
  const l = leaf(pki.instance);
  const r = verifyCertificateChain(pki.cabundle, l, [pki.root.der], AT);
  assert.deepEqual(
    r.certificates.map((c) => c.role),
    ['root', 'cabundle[1]', 'cabundle[2]', 'cabundle[3]', 'certificate'],
  );
  assert.throws(() => verifyCertificateChain(pki.cabundle, l, [awsNitroRootG1()], AT), coded('ROOT_UNTRUSTED', 0));
});

test('constraint violations are refused with the index of the certificate that broke them', () => {
  // regional pathLen 1, but zonal and instance (2 CAs) sit below it
  let pki = makeTestPki(NOW, { pathLens: [1, 1, 0] });
  assert.throws(
    () => verifyCertificateChain(pki.cabundle, leaf(pki.instance), [pki.root.der], AT),
    coded('CERT_CONSTRAINTS', 1),
  );
  // instance pathLen absent is fine; zonal pathLen 0 with instance below is not
  pki = makeTestPki(NOW, { pathLens: [2, 0, undefined] });
  assert.throws(
    () => verifyCertificateChain(pki.cabundle, leaf(pki.instance), [pki.root.der], AT),
    coded('CERT_CONSTRAINTS', 2),
  );
  pki = makeTestPki(NOW);
  // a CA leaf, a leaf without digitalSignature, an issuing certificate that is not a CA or lacks keyCertSign
  assert.throws(
    () =>
      verifyCertificateChain(
        pki.cabundle,
        leaf(pki.instance, { ca: true, keyUsage: ['digitalSignature', 'keyCertSign'] }),
        [pki.root.der],
        AT,
      ),
    coded('CERT_CONSTRAINTS', 4),
  );
  assert.throws(
    () => verifyCertificateChain(pki.cabundle, leaf(pki.instance, { keyUsage: ['keyAgreement'] }), [pki.root.der], AT),
    coded('CERT_CONSTRAINTS', 4),
  );
  const notCa = leaf(pki.zonal, {
    subject: pki.instance.name,
    ca: false,
    keyUsage: ['keyCertSign', 'digitalSignature'],
    publicKey: pki.instance.key,
  });
  assert.throws(
    () =>
      verifyCertificateChain(
        [pki.root.der, pki.regional.der, pki.zonal.der, notCa],
        leaf(pki.instance),
        [pki.root.der],
        AT,
      ),
    coded('CERT_CONSTRAINTS', 3),
  );
  const noSign = leaf(pki.zonal, {
    subject: pki.instance.name,
    ca: true,
    pathLen: 0,
    keyUsage: ['digitalSignature'],
    publicKey: pki.instance.key,
  });
  assert.throws(
    () =>
      verifyCertificateChain(
        [pki.root.der, pki.regional.der, pki.zonal.der, noSign],
        leaf(pki.instance),
        [pki.root.der],
        AT,
      ),
    coded('CERT_CONSTRAINTS', 3),
  );
});

test('broken links are CERT_CHAIN: wrong issuer name, wrong signing key, reordered bundle', () => {
  const pki = makeTestPki(NOW);
  assert.throws(
    () =>
      verifyCertificateChain(pki.cabundle, leaf({ ...pki.instance, name: { CN: 'someone else' } }), [pki.root.der], AT),
    coded('CERT_CHAIN', 4),
  );
  assert.throws(
    () => verifyCertificateChain(pki.cabundle, leaf({ ...pki.instance, key: pki.zonal.key }), [pki.root.der], AT),
    coded('CERT_CHAIN', 4),
  );
  assert.throws(
    () =>
      verifyCertificateChain(
        [pki.root.der, pki.zonal.der, pki.regional.der, pki.instance.der],
        leaf(pki.instance),
        [pki.root.der],
        AT,
      ),
    coded('CERT_CHAIN', 1),
  );
  assert.throws(() => verifyCertificateChain([], leaf(pki.instance), [pki.root.der], AT), coded('CERT_CHAIN'));
});

test('validity is checked for every certificate, root included, with its window as evidence', () => {
  const pki = makeTestPki(NOW);
  const l = leaf(pki.instance);
  // the instance certificate lives one day: a leaf still "valid" later is refused because of it
  const late = leaf(pki.instance, {
    notBefore: new Date(NOW + 2 * 86400_000),
    notAfter: new Date(NOW + 3 * 86400_000),
  });
  assert.throws(
    () => verifyCertificateChain(pki.cabundle, late, [pki.root.der], new Date(NOW + 2.5 * 86400_000)),
    (e: unknown) =>
      coded('CERT_VALIDITY', 3)(e) &&
      (e as { evidence: { notAfter: string } }).evidence.notAfter ===
        new Date(NOW - 3600_000 + 86400_000).toISOString(),
  );
  assert.throws(
    () => verifyCertificateChain(pki.cabundle, l, [pki.root.der], new Date(NOW - 2 * 86400_000)),
    coded('CERT_VALIDITY', 0),
  );
  assert.throws(() => verifyCertificateChain(pki.cabundle, l, [pki.root.der], new Date(Number.NaN)), TypeError);
});

test('an unknown critical extension is refused (RFC 5280 §4.2); an unknown non-critical one is ignored', async () => {
  const { seq, tlv, derInteger, derOid, derBoolean, derOctets, derBits, derTime } = await import(
    '../src/encoding/der.ts'
  );
  const { encodeName } = await import('../src/x509/names.ts');
  const { sign } = await import('node:crypto');
  const pki = makeTestPki(NOW);
  const k = p384();
  const alg = seq(derOid('1.2.840.10045.4.3.3'));
  const make = (critical: boolean) => {
    const ext = (oid: string, crit: boolean, value: Uint8Array) =>
      seq(derOid(oid), ...(crit ? [derBoolean(true)] : []), derOctets(value));
    const tbs = seq(
      tlv(0xa0, derInteger(2)),
      derInteger(9),
      alg,
      encodeName(pki.instance.name),
      seq(derTime(new Date(NOW)), derTime(new Date(NOW + 3600_000))),
      encodeName({ CN: 'leaf' }),
      new Uint8Array(k.publicKey.export({ type: 'spki', format: 'der' })),
      tlv(
        0xa3,
        seq(
          ext('2.5.29.19', true, seq()),
          ext('2.5.29.15', false, derBits(Uint8Array.of(0x80), 7)),
          ext('1.3.6.1.4.1.99999.1', critical, seq()),
        ),
      ),
    );
    return seq(tbs, alg, derBits(new Uint8Array(sign('sha384', tbs, pki.instance.key))));
  };
  assert.deepEqual(parseCertificate(make(true)).unknownCritical, ['1.3.6.1.4.1.99999.1']);
  assert.throws(
    () => verifyCertificateChain(pki.cabundle, make(true), [pki.root.der], AT),
    (e: unknown) =>
      coded('CERT_CONSTRAINTS', 4)(e) && JSON.stringify((e as { evidence: unknown }).evidence).includes('99999'),
  );
  assert.equal(verifyCertificateChain(pki.cabundle, make(false), [pki.root.der], AT).certificates.length, 5);
});

test('fuzz: mutated real certificates parse or fail only with CERT_MALFORMED', async () => {
  const fc = (await import('fast-check')).default;
  const certs = parseAttestationDocument(realVectors()[0]!.bytes).cabundle;
  fc.assert(
    fc.property(
      fc.nat({ max: certs.length - 1 }),
      fc.array(fc.tuple(fc.nat({ max: 700 }), fc.integer({ min: 1, max: 255 }), fc.boolean()), {
        minLength: 1,
        maxLength: 3,
      }),
      (ci, edits) => {
        const b = [...certs[ci]!];
        for (const [pos, x, del] of edits) {
          const p = pos % b.length;
          if (del) b.splice(p, 1);
          else b[p]! ^= x;
        }
        try {
          parseCertificate(Uint8Array.from(b));
        } catch (e) {
          assert.ok(isVerifierError(e, 'CERT_MALFORMED'), String(e));
        }
      },
    ),
    { numRuns: 1000 },
  );
});
