/**
 * raw-rsa-oaep deliveries (each key block under RSA-OAEP-SHA256 to an RSA receiver): the writer
 * prepared once per request writes exactly the JSON the format names, and the receiver's opener
 * refuses what is not for it — wrong key, tampered ciphertext or header, another recipient or CPL,
 * malformed or oversized documents — without ever putting key bytes into an error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { VerifierError } from '../src/errors.ts';
import { encodeKeyBlock } from '../src/kdm/block.ts';
import { RAW_RSA_OAEP_ENCRYPTION, openRawRsaOaepDelivery, rawRsaOaepSealer } from '../src/forward/raw-rsa-oaep.ts';

const CPL = 'urn:uuid:11111111-2222-4333-8444-555555555555';
const KEYS = [
  { id: 'urn:uuid:aaaaaaaa-2222-4333-8444-555555555555', type: 'MDIK', key: new Uint8Array(randomBytes(16)) },
  { id: 'urn:uuid:bbbbbbbb-2222-4333-8444-555555555555', type: 'MDAK', key: new Uint8Array(randomBytes(16)) },
];
const WINDOW = { notBefore: '2026-01-01T00:00:00+00:00', notAfter: '2026-02-01T00:00:00+00:00' };
const blockFor = (k: (typeof KEYS)[number], over: Partial<{ cplId: string; notAfter: string }> = {}) =>
  encodeKeyBlock({
    signerThumbprint: new Uint8Array(20).fill(7),
    cplId: over.cplId ?? CPL,
    keyType: k.type,
    keyId: k.id,
    notBefore: WINDOW.notBefore,
    notAfter: over.notAfter ?? WINDOW.notAfter,
    key: k.key,
  });
const receiver = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ME = Buffer.alloc(20, 1).toString('base64');
const sealer = rawRsaOaepSealer(
  { cplId: CPL, ...WINDOW },
  KEYS.map((k) => ({ id: k.id, type: k.type, block: blockFor(k) })),
);
const keyHex = KEYS.map((k) => Buffer.from(k.key).toString('hex'));

function refused(f: () => unknown, code: string): VerifierError {
  let err: unknown;
  assert.throws(f, (e) => {
    err = e;
    return e instanceof VerifierError && e.code === code;
  });
  const text = JSON.stringify((err as VerifierError).toJSON()) + (err as Error).message;
  for (const h of keyHex) assert.ok(!text.includes(h), 'a refusal must not carry key bytes');
  return err as VerifierError;
}

test('the writer produces exactly the documented JSON, and the receiver opens it to the keys sent', () => {
  const bytes = sealer.seal(receiver.publicKey, ME);
  const doc = JSON.parse(bytes.toString('utf8'));
  assert.equal(bytes.toString('utf8'), JSON.stringify(doc), 'no whitespace, keys in the documented order');
  assert.deepEqual(Object.keys(doc), ['format', 'encryption', 'recipient', 'cplId', 'notBefore', 'notAfter', 'keys']);
  assert.equal(doc.encryption, RAW_RSA_OAEP_ENCRYPTION);
  assert.equal(doc.recipient, ME);
  assert.deepEqual(
    doc.keys.map((k: { id: string; type: string }) => [k.id, k.type]),
    KEYS.map((k) => [k.id, k.type]),
  );
  for (const h of keyHex) assert.ok(!bytes.toString('hex').includes(h), 'no content key in the clear');
  const o = openRawRsaOaepDelivery(bytes, receiver.privateKey, { recipient: ME, cplId: CPL });
  assert.equal(o.cplId, CPL);
  assert.equal(o.notAfter, WINDOW.notAfter);
  assert.deepEqual(
    o.keys.map((k) => Buffer.from(k.key).toString('hex')),
    keyHex,
  );
  // fresh OAEP randomness per delivery
  assert.notDeepEqual(sealer.seal(receiver.publicKey, ME), bytes);
});

test('another key, another recipient, another CPL: RAW_DELIVERY_BINDING', () => {
  const bytes = sealer.seal(receiver.publicKey, ME);
  refused(() => openRawRsaOaepDelivery(bytes, other.privateKey, { recipient: ME }), 'RAW_DELIVERY_BINDING');
  const e = refused(
    () => openRawRsaOaepDelivery(bytes, receiver.privateKey, { recipient: Buffer.alloc(20, 2).toString('base64') }),
    'RAW_DELIVERY_BINDING',
  );
  assert.equal(e.evidence.field, 'recipient');
  refused(
    () =>
      openRawRsaOaepDelivery(bytes, receiver.privateKey, {
        recipient: ME,
        cplId: 'urn:uuid:99999999-2222-4333-8444-555555555555',
      }),
    'RAW_DELIVERY_BINDING',
  );
});

test('tampered ciphertexts and headers that disagree with the blocks are refused', () => {
  const doc = JSON.parse(sealer.seal(receiver.publicKey, ME).toString('utf8'));
  const flip = structuredClone(doc);
  const ct = Buffer.from(flip.keys[1].ciphertext, 'base64');
  ct[10] = ct[10]! ^ 1;
  flip.keys[1].ciphertext = ct.toString('base64');
  refused(
    () => openRawRsaOaepDelivery(JSON.stringify(flip), receiver.privateKey, { recipient: ME }),
    'RAW_DELIVERY_BINDING',
  );
  // a window stretched in the header only
  const window = { ...doc, notAfter: '2027-02-01T00:00:00+00:00' };
  refused(
    () => openRawRsaOaepDelivery(JSON.stringify(window), receiver.privateKey, { recipient: ME }),
    'RAW_DELIVERY_BINDING',
  );
  // keys swapped between ids
  const swapped = { ...doc, keys: [{ ...doc.keys[0], ciphertext: doc.keys[1].ciphertext }, doc.keys[1]] };
  refused(
    () => openRawRsaOaepDelivery(JSON.stringify(swapped), receiver.privateKey, { recipient: ME }),
    'RAW_DELIVERY_BINDING',
  );
  // a header CPL that is not the blocks' (the receiver asked for the header's)
  const cpl = 'urn:uuid:99999999-2222-4333-8444-555555555555';
  refused(
    () => openRawRsaOaepDelivery(JSON.stringify({ ...doc, cplId: cpl }), receiver.privateKey, { recipient: ME }),
    'RAW_DELIVERY_BINDING',
  );
});

test('malformed, unknown-field, wrong-format and oversized documents are RAW_DELIVERY_MALFORMED', () => {
  const doc = JSON.parse(sealer.seal(receiver.publicKey, ME).toString('utf8'));
  const open = (x: string | Uint8Array) => () => openRawRsaOaepDelivery(x, receiver.privateKey, { recipient: ME });
  refused(open('{"format":'), 'RAW_DELIVERY_MALFORMED');
  refused(open('[]'), 'RAW_DELIVERY_MALFORMED');
  refused(open(JSON.stringify({ ...doc, extra: 1 })), 'RAW_DELIVERY_MALFORMED');
  refused(open(JSON.stringify({ ...doc, encryption: 'HPKE-X25519-SHA256-AES256GCM' })), 'RAW_DELIVERY_MALFORMED');
  refused(open(JSON.stringify({ ...doc, keys: [] })), 'RAW_DELIVERY_MALFORMED');
  refused(open(JSON.stringify({ ...doc, keys: [{ id: 1, type: 'MDIK', ciphertext: '' }] })), 'RAW_DELIVERY_MALFORMED');
  refused(open(new Uint8Array(300 * 1024).fill(0x20)), 'RAW_DELIVERY_MALFORMED');
});

test('the writer refuses an empty or oversized key list', () => {
  assert.throws(() => rawRsaOaepSealer({ cplId: CPL, ...WINDOW }, []), RangeError);
});
