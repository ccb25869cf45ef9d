/**
 * raw-hpke deliveries (HPKE to an X25519 receiver certificate): round trip, and the receiver's
 * refusals — wrong key, tampered ciphertext or header, a delivery for another recipient or request.
 * Also X25519 subject keys in the certificate builder and parser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { VerifierError } from '../src/errors.ts';
import { buildDcCertificate } from '../build/kdm/certificate-build.ts';
import { certificateThumbprint, parseDcCertificate } from '../src/kdm/certificate.ts';
import { checkDcProfile, verifyDcChain } from '../src/kdm/profile.ts';
import { encodeKeyBlock } from '../src/kdm/block.ts';
import { openRawHpkeDelivery, sealRawHpkeDelivery, type RawHpkeContext } from '../src/forward/raw-hpke.ts';
import { chain } from './kdm-fixtures.ts';

const CPL = 'urn:uuid:11111111-2222-4333-8444-555555555555';
const KEYS = [
  { id: 'urn:uuid:aaaaaaaa-2222-4333-8444-555555555555', type: 'MDIK', key: new Uint8Array(randomBytes(16)) },
  { id: 'urn:uuid:bbbbbbbb-2222-4333-8444-555555555555', type: 'MDAK', key: new Uint8Array(randomBytes(16)) },
];
const WINDOW = { notBefore: '2026-01-01T00:00:00+00:00', notAfter: '2026-02-01T00:00:00+00:00' };
const blocks = () =>
  KEYS.map((k) => ({
    id: k.id,
    type: k.type,
    block: encodeKeyBlock({
      signerThumbprint: new Uint8Array(20).fill(7),
      cplId: CPL,
      keyType: k.type,
      keyId: k.id,
      ...WINDOW,
      key: k.key,
    }),
  }));

const receiver = generateKeyPairSync('x25519');
const ctx: RawHpkeContext = {
  recipient: Buffer.alloc(20, 1).toString('base64'),
  cplId: CPL,
  requestDigest: 'ab'.repeat(32),
};
const seal = (c = ctx) => sealRawHpkeDelivery(receiver.publicKey, { ...c, ...WINDOW }, blocks());
const coded = (code: string) => (e: unknown) => e instanceof VerifierError && e.code === code;

test('raw-hpke: the receiver opens exactly the keys sent, in order', async () => {
  const doc = await seal();
  const o = await openRawHpkeDelivery(doc, receiver.privateKey, ctx);
  assert.equal(o.cplId, CPL);
  assert.deepEqual(
    o.keys.map((k) => [k.keyId, k.keyType, Buffer.from(k.key).toString('hex'), k.notBefore, k.notAfter]),
    KEYS.map((k) => [k.id, k.type, Buffer.from(k.key).toString('hex'), WINDOW.notBefore, WINDOW.notAfter]),
  );
  // no key bytes in the clear
  const text = Buffer.from(doc).toString('latin1');
  for (const k of KEYS)
    assert.ok(!Buffer.from(doc).includes(Buffer.from(k.key)) && !text.includes(Buffer.from(k.key).toString('hex')));
});

test('raw-hpke: another private key is refused with RAW_DELIVERY_BINDING', async () => {
  const other = generateKeyPairSync('x25519');
  await assert.rejects(openRawHpkeDelivery(await seal(), other.privateKey, ctx), coded('RAW_DELIVERY_BINDING'));
});

test('raw-hpke: a tampered ciphertext, swapped blocks or an edited header are refused', async () => {
  const doc = JSON.parse(Buffer.from(await seal()).toString('utf8'));
  const ct = Buffer.from(doc.keys[0].ciphertext, 'base64');
  ct[5]! ^= 1;
  const tampered = { ...doc, keys: [{ ...doc.keys[0], ciphertext: ct.toString('base64') }, doc.keys[1]] };
  await assert.rejects(
    openRawHpkeDelivery(JSON.stringify(tampered), receiver.privateKey, ctx),
    coded('RAW_DELIVERY_BINDING'),
  );
  const swapped = { ...doc, keys: [doc.keys[1], doc.keys[0]] };
  await assert.rejects(
    openRawHpkeDelivery(JSON.stringify(swapped), receiver.privateKey, ctx),
    coded('RAW_DELIVERY_BINDING'),
  );
  const later = { ...doc, notAfter: '2027-02-01T00:00:00+00:00' };
  await assert.rejects(
    openRawHpkeDelivery(JSON.stringify(later), receiver.privateKey, ctx),
    coded('RAW_DELIVERY_BINDING'),
  );
  await assert.rejects(openRawHpkeDelivery('{"format":1}', receiver.privateKey, ctx), coded('RAW_DELIVERY_MALFORMED'));
  await assert.rejects(openRawHpkeDelivery('not json', receiver.privateKey, ctx), coded('RAW_DELIVERY_MALFORMED'));
});

test("raw-hpke: another recipient's or another request's delivery is refused, even relabelled", async () => {
  const forOther = { ...ctx, recipient: Buffer.alloc(20, 2).toString('base64') };
  // named honestly: refused on the header
  await assert.rejects(
    openRawHpkeDelivery(await seal(forOther), receiver.privateKey, ctx),
    coded('RAW_DELIVERY_BINDING'),
  );
  // relabelled to look like ours: refused by HPKE (info binds the recipient)
  const relabel = (d: Uint8Array, c: RawHpkeContext) =>
    JSON.stringify({ ...JSON.parse(Buffer.from(d).toString('utf8')), ...c });
  await assert.rejects(
    openRawHpkeDelivery(relabel(await seal(forOther), ctx), receiver.privateKey, ctx),
    coded('RAW_DELIVERY_BINDING'),
  );
  const otherRequest = { ...ctx, requestDigest: 'cd'.repeat(32) };
  await assert.rejects(
    openRawHpkeDelivery(await seal(), receiver.privateKey, otherRequest),
    coded('RAW_DELIVERY_BINDING'),
  );
  await assert.rejects(
    openRawHpkeDelivery(relabel(await seal(), otherRequest), receiver.privateKey, otherRequest),
    coded('RAW_DELIVERY_BINDING'),
  );
});

test('certificates: an X25519 receiver leaf builds, parses, chains without the ST 430-2 profile, and fails it', () => {
  const c = chain();
  const k = generateKeyPairSync('x25519');
  const der = buildDcCertificate({
    subject: { O: 'TEST.COM', OU: 'Tests', CN: 'RX.hpke-receiver' },
    issuer: c.ca,
    serial: 9n,
    notBefore: c.leaf.notBefore,
    notAfter: c.leaf.notAfter,
    publicKey: k.publicKey,
    issuerPrivateKey: c.caKey,
    ca: false,
    keyUsage: ['keyAgreement'],
  });
  const leaf = parseDcCertificate(der);
  assert.equal(leaf.keyType, 'x25519');
  assert.equal(leaf.modulusBits, 0);
  assert.equal(leaf.publicKey.asymmetricKeyType, 'x25519');
  assert.equal(certificateThumbprint(leaf).length, 28);
  assert.equal(c.leaf.keyType, 'rsa');
  const path = verifyDcChain(leaf, { intermediates: [c.ca], roots: [c.root], at: new Date(), profile: false });
  assert.equal(path.length, 3);
  assert.throws(() => checkDcProfile(leaf, 'leaf', 'SM'), coded('CERT_PROFILE'));
  // a corrupted X25519 key length is refused as malformed
  const bad = Buffer.from(der);
  const at = bad.indexOf(Buffer.from('032100', 'hex'));
  assert.ok(at > 0);
  bad[at + 1] = 0x20;
  assert.throws(() => parseDcCertificate(new Uint8Array(bad)), coded('CERT_MALFORMED'));
});
