/**
 * Forwarding formats: rules (signed, strict, canonical), sealed content keys (HPKE bound to PCR0
 * and the studio key) and receipts (signed, with per-delivery Merkle proofs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isVerifierError } from '../src/errors.ts';
import {
  type ForwardRules,
  signRules,
  openRules,
  checkRulesTime,
  parseRules,
  rulesDigest,
} from '../src/forward/rules.ts';
import { sealContentKeys, openSealedKeys, generateHpkeKeyPair } from '../src/forward/sealed-keys.ts';
import {
  DeliveryTree,
  signReceipt,
  openReceipt,
  checkDelivery,
  parseDeliveryProof,
  type Receipt,
} from '../src/forward/receipt.ts';
import { toHex, utf8 } from '../src/encoding/bytes.ts';

const studio = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const pem = (k: typeof studio) => k.publicKey.export({ type: 'spki', format: 'pem' }).toString();

export function sampleRules(over: Partial<ForwardRules> = {}): ForwardRules {
  return {
    type: 'keycast-forward-rules/v2',
    film: { cplId: 'urn:uuid:11111111-2222-4333-8444-555555555555', title: 'A Film' },
    contentKeyIds: ['urn:uuid:aaaaaaaa-2222-4333-8444-555555555555'],
    kdmWindow: { notBefore: '2026-01-01T00:00:00+00:00', notAfter: '2026-01-15T00:00:00+00:00' },
    forwardFrom: '2025-12-01T00:00:00Z',
    forwardUntil: '2026-01-10T00:00:00Z',
    recipients: { thumbprints: ['2jmj7l5rSw0yVb/vlWAYkK/YBwk='], roots: [], excluded: [], roles: ['SM'] },
    formats: ['kdm'],
    limits: { maxKdmValidityDays: 30, maxRecipients: 10 },
    ...over,
  };
}

test('rules: sign → open round trip, digest over the canonical payload', () => {
  const env = signRules(sampleRules(), studio.privateKey);
  const o = openRules(env, pem(studio));
  assert.equal(o.rules.film.title, 'A Film');
  assert.match(o.digest, /^[0-9a-f]{64}$/);
  checkRulesTime(o.rules, new Date('2025-12-20T00:00:00Z'));
});

test('rules: another key, tampering, unknown fields, non-canonical payloads are refused', () => {
  const env = signRules(sampleRules(), studio.privateKey);
  assert.throws(
    () => openRules(env, pem(other)),
    (e) => isVerifierError(e, 'RULES_SIGNATURE'),
  );
  const j = JSON.parse(env);
  const payload = JSON.parse(Buffer.from(j.payload, 'base64').toString());
  payload.film.title = 'Other';
  j.payload = Buffer.from(JSON.stringify(payload)).toString('base64');
  assert.throws(
    () => openRules(JSON.stringify(j), pem(studio)),
    (e) => isVerifierError(e, 'RULES_SIGNATURE'),
  );
  assert.throws(
    () => parseRules(utf8(JSON.stringify({ ...sampleRules(), extra: 1 }))),
    (e) => isVerifierError(e, 'RULES_INVALID'),
  );
  assert.throws(
    () => parseRules(utf8(JSON.stringify(sampleRules(), null, 1))),
    (e) => isVerifierError(e, 'RULES_INVALID'),
  );
  assert.throws(
    () =>
      signRules(
        sampleRules({ kdmWindow: { notBefore: '2026-01-01T00:00:00Z', notAfter: '2026-01-15T00:00:00+00:00' } }),
        studio.privateKey,
      ),
    (e) => isVerifierError(e, 'RULES_INVALID'),
  );
  assert.throws(
    () => signRules(sampleRules({ limits: { maxKdmValidityDays: 3, maxRecipients: 1 } }), studio.privateKey),
    (e) => isVerifierError(e, 'RULES_INVALID'),
  );
});

test('rules: v1 (no formats, no roles) is RULES_OUTDATED; v2 must name at least one known format and role', () => {
  const { formats: _f, ...noFormats } = sampleRules();
  const v1 = { ...noFormats, type: 'keycast-forward-rules/v1', recipients: { ...sampleRules().recipients } };
  delete (v1.recipients as { roles?: string[] }).roles;
  assert.throws(
    () => parseRules(utf8(JSON.stringify(v1))),
    (e) => isVerifierError(e, 'RULES_OUTDATED'),
  );
  for (const over of [
    { formats: [] },
    { formats: ['pdf'] },
    { formats: ['kdm', 'kdm'] },
    { recipients: { ...sampleRules().recipients, roles: [] } },
    { recipients: { ...sampleRules().recipients, roles: ['sm lower'] } },
  ] as Array<Partial<ForwardRules>>) {
    assert.throws(
      () => signRules(sampleRules(over), studio.privateKey),
      (e) => isVerifierError(e, 'RULES_INVALID'),
      JSON.stringify(over),
    );
  }
  assert.equal(rulesDigest(sampleRules()), openRules(signRules(sampleRules(), studio.privateKey), pem(studio)).digest);
});

test('rules: expired and not-yet-valid rules are RULES_EXPIRED', () => {
  const r = sampleRules();
  assert.throws(
    () => checkRulesTime(r, new Date('2025-11-30T00:00:00Z')),
    (e) => isVerifierError(e, 'RULES_EXPIRED'),
  );
  assert.throws(
    () => checkRulesTime(r, new Date('2026-01-11T00:00:00Z')),
    (e) => isVerifierError(e, 'RULES_EXPIRED'),
  );
});

test('sealed keys: open only with the same PCR0, enclave key and header', async () => {
  const enclave = await generateHpkeKeyPair();
  const pcr0 = new Uint8Array(randomBytes(48));
  const key = new Uint8Array(randomBytes(16));
  const fk = {
    cplId: 'urn:uuid:11111111-2222-4333-8444-555555555555',
    keys: [{ id: 'urn:uuid:aaaaaaaa-2222-4333-8444-555555555555', type: 'MDIK' as const, key }],
  };
  const digest = rulesDigest(sampleRules());
  const sealed = await sealContentKeys(fk, enclave.publicKey, pcr0, pem(studio), digest);
  assert.ok(!sealed.includes(toHex(key)) && !sealed.includes(Buffer.from(key).toString('base64')));
  const opened = await openSealedKeys(sealed, enclave.privateKey, pcr0, digest);
  assert.deepEqual(opened.keys[0]!.key, key);
  assert.equal(opened.rulesKey.pem, pem(studio));
  await assert.rejects(openSealedKeys(sealed, enclave.privateKey, new Uint8Array(48), digest), (e) =>
    isVerifierError(e, 'SEALED_BINDING'),
  );
  const wrongEnclave = await generateHpkeKeyPair();
  await assert.rejects(openSealedKeys(sealed, wrongEnclave.privateKey, pcr0, digest), (e) =>
    isVerifierError(e, 'SEALED_BINDING'),
  );
  // swapping in another studio's key in the header breaks the HPKE binding
  const j = JSON.parse(sealed);
  j.rulesKey = other.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  await assert.rejects(openSealedKeys(JSON.stringify(j), enclave.privateKey, pcr0, digest), (e) =>
    isVerifierError(e, 'SEALED_BINDING'),
  );
  await assert.rejects(openSealedKeys('{"type":1}', enclave.privateKey, pcr0, digest), (e) =>
    isVerifierError(e, 'SEALED_INVALID'),
  );
  // other rules (older, looser, the same studio key): refused before and by the HPKE binding
  const older = rulesDigest(
    sampleRules({
      recipients: { ...sampleRules().recipients, excluded: [] },
      limits: { maxKdmValidityDays: 30, maxRecipients: 9 },
    }),
  );
  await assert.rejects(openSealedKeys(sealed, enclave.privateKey, pcr0, older), (e) =>
    isVerifierError(e, 'SEALED_BINDING'),
  );
  const relabelled = { ...JSON.parse(sealed), rulesDigest: older };
  await assert.rejects(openSealedKeys(JSON.stringify(relabelled), enclave.privateKey, pcr0, older), (e) =>
    isVerifierError(e, 'SEALED_BINDING'),
  );
  // v1 (bound the studio key only): SEALED_OUTDATED
  const { rulesDigest: _d, ...v1 } = JSON.parse(sealed);
  await assert.rejects(
    openSealedKeys(JSON.stringify({ ...v1, type: 'keycast-sealed-keys/v1' }), enclave.privateKey, pcr0, digest),
    (e) => isVerifierError(e, 'SEALED_OUTDATED'),
  );
});

test('receipts: signed root, every delivery provable, tampering refused', () => {
  const t = new DeliveryTree();
  const outs = Array.from({ length: 7 }, (_, i) => utf8(`kdm ${i}`));
  for (const [i, o] of outs.entries()) t.add(new Uint8Array(20).fill(i), o);
  const receiptKey = generateKeyPairSync('ed25519');
  const r: Receipt = {
    type: 'keycast-forward-receipt/v1',
    requestDigest: '0'.repeat(64),
    rulesDigest: '1'.repeat(64),
    pcr0: '2'.repeat(96),
    time: '2026-01-01T00:00:00.000Z',
    format: 'kdm',
    recipients: t.size,
    root: toHex(t.root()),
  };
  const env = signReceipt(r, receiptKey.privateKey);
  const opened = openReceipt(env, pem(receiptKey));
  for (let i = 0; i < outs.length; i++) checkDelivery(opened, parseDeliveryProof(JSON.stringify(t.prove(i))), outs[i]);
  assert.throws(
    () => checkDelivery(opened, t.prove(2), outs[3]),
    (e) => isVerifierError(e, 'RECEIPT_INVALID'),
  );
  const p = t.prove(2);
  p.thumbprint = Buffer.alloc(20, 9).toString('base64');
  assert.throws(
    () => checkDelivery(opened, p),
    (e) => isVerifierError(e, 'RECEIPT_INVALID'),
  );
  assert.throws(
    () => openReceipt(env, pem(other)),
    (e) => isVerifierError(e, 'RECEIPT_INVALID'),
  );
});
