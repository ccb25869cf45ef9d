/**
 * COSE_Sign1 ES384 (RFC 9052 §4.2/§4.4) as the NSM emits it: sign→verify round trips, the exact
 * Sig_structure bytes, the real documents' envelopes, and strict refusal of everything else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { verifyCoseSign1, isVerifierError } from '../index.ts';
import { decodeCoseSign1 } from '../src/cose/sign1.ts';
import { signCoseSign1, sigStructure, ES384_PROTECTED, toHex, fromHex } from '../build.ts';
import { vectors } from './attestation-fixtures.ts';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const other = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const malformed = (e: unknown) => isVerifierError(e, 'COSE_MALFORMED');

test('sign → verify round trip; the output is the untagged NSM layout', () => {
  const payload = new Uint8Array([0xa1, 0x01, 0x02]);
  const doc = signCoseSign1(payload, privateKey);
  assert.equal(toHex(doc.subarray(0, 7)), '8444a1013822a0');
  const c = decodeCoseSign1(doc);
  assert.deepEqual(
    [toHex(c.protected), toHex(c.payload), c.signature.length, c.tagged],
    ['a1013822', 'a10102', 96, false],
  );
  assert.equal(verifyCoseSign1(doc, publicKey), true);
  assert.equal(verifyCoseSign1(doc, other.publicKey), false);
  const tagged = new Uint8Array([0xd2, ...doc]);
  assert.equal(decodeCoseSign1(tagged).tagged, true);
  assert.equal(verifyCoseSign1(tagged, publicKey), true);
});

test('Sig_structure is ["Signature1", protected, h\'\', payload] with definite lengths', () => {
  assert.equal(
    toHex(sigStructure(ES384_PROTECTED, Uint8Array.of(1, 2, 3))),
    '846a5369676e61747572653144a101382240' + '43010203',
  );
  assert.equal(
    toHex(sigStructure(ES384_PROTECTED, new Uint8Array(300)).subarray(0, 21)),
    '846a5369676e61747572653144a101382240' + '59012c',
  );
});

test('every test vector envelope decodes as its sidecar describes', () => {
  for (const v of vectors()) {
    const c = decodeCoseSign1(v.bytes);
    const side = v.side as unknown as { protected_header_hex: string; payload_len: number; signature_len: number };
    assert.equal(toHex(c.protected), side.protected_header_hex);
    assert.equal(c.payload.length, side.payload_len);
    assert.equal(c.signature.length, side.signature_len);
  }
});

test('the envelope is strict: tags, headers, lengths and trailing bytes', () => {
  const doc = signCoseSign1(Uint8Array.of(0xa0), privateKey);
  const hex = toHex(doc);
  const bad = [
    'd1' + hex, // tag 17 (COSE_Mac0) is not COSE_Sign1
    hex.replace(/^84/, '83'), // three elements
    hex.replace('44a1013822', '43a10126').replace(/^/, ''), // ES256 header
    hex.replace('44a1013822a0', '44a1013822a1016161'), // non-empty unprotected map (re-layout breaks later fields too)
    hex.replace('a0', 'a1'), // unprotected map header claims one entry
    hex + '00', // trailing byte
    hex.slice(0, -2), // truncated signature
    '8444a1013822a0f6' + hex.slice(hex.indexOf('5860')), // detached (nil) payload
    '8444a1013822a041a0' + '585f' + '00'.repeat(95), // 95-byte signature
    '9f44a1013822a041a05860' + '00'.repeat(96) + 'ff', // indefinite-length array
  ];
  for (const b of bad) assert.throws(() => decodeCoseSign1(fromHex(b)), malformed, b.slice(0, 24));
  assert.throws(
    () => decodeCoseSign1(new Uint8Array(65 * 1024)),
    (e: unknown) => isVerifierError(e, 'OVERSIZED'),
  );
  assert.throws(
    () => signCoseSign1(Uint8Array.of(0), generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
    TypeError,
  );
});
