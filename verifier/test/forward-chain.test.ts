/**
 * The pure decisions behind issue 16 item 2 and the recipient-name medium: every certificate above
 * a leaf must be a CA (basicConstraints CA:TRUE and keyCertSign) whatever the output format — the
 * raw formats skipped the ST 430-2 profile, and with it this — and a leaf CN role is checked even
 * without the profile; a recipient's names must be plain (no control character, no multi-valued RDN).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildDcCertificate } from '../build/kdm/certificate-build.ts';
import { parseDcCertificate, type DcCertificate } from '../src/kdm/certificate.ts';
import { checkCaBasics, checkDcNames, verifyDcChain } from '../src/kdm/profile.ts';
import { isVerifierError } from '../src/errors.ts';
import { chain, rsa } from './kdm-fixtures.ts';

const c = chain();
const at = new Date();
const sec = (ms: number) => new Date(Math.floor(ms / 1000) * 1000);

/** A leaf the chain's own leaf signs: CA:FALSE above it. */
function underLeaf(): DcCertificate {
  const k = rsa();
  return parseDcCertificate(
    buildDcCertificate({
      subject: { O: 'TEST.COM', OU: 'Tests', CN: 'CS SM.forged' },
      issuer: c.leaf,
      serial: 99n,
      notBefore: sec(c.leaf.notBefore.getTime() + 1000),
      notAfter: sec(c.leaf.notAfter.getTime() - 1000),
      publicKey: k.publicKey,
      issuerPrivateKey: c.leafKey,
      ca: false,
      keyUsage: ['digitalSignature', 'keyEncipherment'],
    }),
  );
}

test('a leaf signed by a CA:FALSE certificate does not chain, with or without the ST 430-2 profile', () => {
  const forged = underLeaf();
  for (const profile of [true, false])
    assert.throws(
      () => verifyDcChain(forged, { intermediates: [c.leaf, c.ca], roots: [c.root], at, profile }),
      (e) => isVerifierError(e, profile ? 'CERT_PROFILE' : 'CERT_CHAIN'),
      `profile ${profile}`,
    );
  assert.throws(
    () => checkCaBasics(c.leaf),
    (e) => isVerifierError(e, 'CERT_CHAIN'),
  );
  checkCaBasics(c.ca);
  checkCaBasics(c.root);
  // the honest leaf still chains both ways
  for (const profile of [true, false])
    assert.equal(verifyDcChain(c.leaf, { intermediates: [c.ca], roots: [c.root], at, profile }).length, 3);
});

test('the required role is checked without the profile too', () => {
  assert.throws(
    () => verifyDcChain(c.leaf, { intermediates: [c.ca], roots: [c.root], at, profile: false, requiredRole: 'LE' }),
    (e) => isVerifierError(e, 'CERT_PROFILE'),
  );
  verifyDcChain(c.leaf, { intermediates: [c.ca], roots: [c.root], at, profile: false, requiredRole: 'SM' });
});

test('names: a control character or a multi-valued RDN is CERT_NAME; plain names pass', () => {
  checkDcNames(c.leaf);
  const attr = (type: string, value: string) => ({ type, tag: 0x0c, value });
  for (const bad of [
    [[attr('CN', 'SM.proj\u0007ector')]],
    [[attr('CN', 'SM.proj\u009bector')]],
    [[attr('O', 'x')], [attr('CN', 'SM.a'), attr('dnQualifier', 'b')]],
  ]) {
    assert.throws(
      () => checkDcNames({ ...c.leaf, subjectRdns: bad }),
      (e) => isVerifierError(e, 'CERT_NAME'),
    );
    assert.throws(
      () => checkDcNames({ ...c.leaf, issuerRdns: bad }),
      (e) => isVerifierError(e, 'CERT_NAME'),
    );
  }
});
