/**
 * Delivery transparency formats (issue 19): delivery entries (signed by the receipt key they name),
 * identity leaves from a verified attestation, manifests sealed to the studio's audit key, the
 * add-entry bodies, the kdm-logged proof file and the rules' `audit` field — each with the attacker's
 * cases: another key, an altered count re-signed, a manifest sealed to another key or not matching
 * its root, oversized input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  DeliveryTree,
  VerifierError,
  auditPublicKey,
  checkKdmLogged,
  checkManifest,
  cplIdDigest,
  decodeDeliveryEntryLeaf,
  deliveryAddEntryBody,
  deliveryEntryLeaf,
  encodeManifest,
  formatKdmLoggedProof,
  formatEnclaveKeys,
  formatIdentityBinding,
  identityAddEntryBody,
  identityEntryLeaf,
  keyFingerprint,
  leafKind,
  manifestRoot,
  openDeliveryEntry,
  openManifest,
  parseAddEntryBody,
  parseAuditField,
  parseAuditPrivateKey,
  parseIdentityLeaf,
  parseKdmLoggedProof,
  parseManifest,
  receiptKeyBase64,
  sealManifest,
  signDeliveryEntry,
  signEnvelope,
  toBase64,
  toHex,
  utf8,
  canonicalize,
  validateRules,
  verifyAttestationDocument,
  MAX_MANIFEST_BYTES,
  DELIVERY_PAYLOAD_TYPE,
  type DeliveryEntry,
  type DeliveryManifest,
} from '../index.ts';
import { issueDocument, makeTestPki, pcrs } from './attestation-fixtures.ts';

const coded = (code: string) => (e: unknown) => e instanceof VerifierError && e.code === code;
const receipt = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const audit = generateKeyPairSync('x25519');
const auditPem = audit.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const REQ = 'ab'.repeat(32);
const CPL = 'urn:uuid:11111111-2222-4333-8444-555555555555';

function deliveries(n: number) {
  const tree = new DeliveryTree();
  const recipients = Array.from({ length: n }, (_, i) => {
    const thumb = new Uint8Array(randomBytes(20));
    const digest = tree.add(thumb, utf8(`kdm ${i}`));
    return { thumbprint: toBase64(thumb), subject: `CN=SM.projector-${i},O=Cinema`, outputDigest: toHex(digest) };
  });
  return { tree, recipients };
}

async function fixture(n = 3) {
  const { tree, recipients } = deliveries(n);
  const manifest: DeliveryManifest = {
    type: 'keycast-delivery-manifest/v1',
    requestDigest: REQ,
    rules: toBase64(utf8('{"signed":"rules"}')),
    recipients,
  };
  const sealed = await sealManifest(manifest, auditPublicKey(audit.privateKey));
  const entry: DeliveryEntry = {
    type: 'keycast-delivery/v1',
    pcr0: '01'.repeat(48),
    releaseIndex: 2,
    receiptKey: receiptKeyBase64(receipt.publicKey),
    rulesDigest: 'cd'.repeat(32),
    rulesSigner: 'ef'.repeat(32),
    cplIdDigest: cplIdDigest(CPL),
    count: n,
    root: toHex(tree.root()),
    requestDigest: REQ,
    time: '2026-12-07T22:00:00.000Z',
    manifest: { sha256: sealed.sha256, size: sealed.size },
  };
  const envelope = signDeliveryEntry(entry, receipt.privateKey);
  return { tree, manifest, sealed, entry, envelope };
}

test('a delivery entry signed by its receipt key opens; its leaf round-trips and names no recipient', async () => {
  const f = await fixture();
  const o = openDeliveryEntry(f.envelope);
  assert.deepEqual(o.entry, f.entry);
  assert.equal(o.receiptKeySha256, keyFingerprint(receipt.publicKey));
  assert.deepEqual(
    openDeliveryEntry(JSON.stringify(f.envelope), receipt.publicKey.export({ type: 'spki', format: 'pem' }).toString())
      .entry,
    f.entry,
  );
  const leaf = deliveryEntryLeaf(f.envelope);
  assert.equal(leafKind(leaf), 'delivery');
  assert.deepEqual(decodeDeliveryEntryLeaf(leaf).entry, f.entry);
  const text = Buffer.from(leaf).toString('utf8');
  const payload = Buffer.from(f.envelope.payload, 'base64').toString('utf8');
  for (const r of f.manifest.recipients) {
    assert.ok(!text.includes(r.thumbprint) && !payload.includes(r.thumbprint));
    assert.ok(!payload.includes(r.subject) && !payload.includes(r.outputDigest));
  }
  assert.equal(cplIdDigest(CPL), createHash('sha256').update(CPL).digest('hex'));
});

test('attack: an entry signed by another key, or naming another key, is refused', async () => {
  const f = await fixture();
  // another key signs an entry that names the registered receipt key
  const forged = signEnvelope(DELIVERY_PAYLOAD_TYPE, utf8(canonicalize(f.entry)), other.privateKey);
  assert.throws(() => openDeliveryEntry(forged), coded('DELIVERY_SIGNATURE'));
  // the signer refuses to sign for a key it is not
  assert.throws(() => signDeliveryEntry(f.entry, other.privateKey), TypeError);
  // an entry honestly signed by another key, checked against the expected receipt key
  const own = signDeliveryEntry({ ...f.entry, receiptKey: receiptKeyBase64(other.publicKey) }, other.privateKey);
  assert.throws(
    () => openDeliveryEntry(own, receipt.publicKey.export({ type: 'spki', format: 'der' })),
    coded('DELIVERY_SIGNATURE'),
  );
});

test('attack: an altered count (re-signed by another key, or not re-signed) is refused', async () => {
  const f = await fixture();
  const altered = { ...f.entry, count: f.entry.count + 1 };
  // payload swapped under the original signature
  const swapped = { ...f.envelope, payload: toBase64(utf8(canonicalize(altered))) };
  assert.throws(() => openDeliveryEntry(swapped), coded('DELIVERY_SIGNATURE'));
  const resigned = signEnvelope(DELIVERY_PAYLOAD_TYPE, utf8(canonicalize(altered)), other.privateKey);
  assert.throws(() => openDeliveryEntry(resigned), coded('DELIVERY_SIGNATURE'));
  // non-canonical payload (same values, spaces) under a valid signature is still refused
  const spaced = signEnvelope(DELIVERY_PAYLOAD_TYPE, utf8(JSON.stringify(f.entry, null, 1)), receipt.privateKey);
  assert.throws(() => openDeliveryEntry(spaced), coded('DELIVERY_INVALID'));
});

test('delivery entry schema: every field checked, unknown fields refused, oversized envelope refused', async () => {
  const f = await fixture();
  const bad: Array<Partial<Record<keyof DeliveryEntry, unknown>> & Record<string, unknown>> = [
    { count: 0 },
    { pcr0: 'AB'.repeat(48) },
    { root: 'ab' },
    { time: '2026-12-07 22:00:00' },
    { manifest: { sha256: 'ab'.repeat(32), size: MAX_MANIFEST_BYTES + 1 } },
    { manifest: { sha256: 'ab'.repeat(32), size: 1, extra: 1 } },
    { recipients: ['x'] },
    { type: 'keycast-delivery/v2' },
  ];
  for (const b of bad) {
    const env = signEnvelope(DELIVERY_PAYLOAD_TYPE, utf8(canonicalize({ ...f.entry, ...b })), receipt.privateKey);
    assert.throws(() => openDeliveryEntry(env), coded('DELIVERY_INVALID'), JSON.stringify(b));
  }
  const fractional = signEnvelope(
    DELIVERY_PAYLOAD_TYPE,
    utf8(JSON.stringify({ ...f.entry, count: 1.5 })),
    receipt.privateKey,
  );
  assert.throws(() => openDeliveryEntry(fractional), coded('DELIVERY_INVALID'));
  assert.throws(() => openDeliveryEntry('{"payloadType":"x"'), coded('DELIVERY_INVALID'));
  assert.throws(() => openDeliveryEntry(' '.repeat(17 * 1024)), coded('OVERSIZED'));
  assert.throws(
    () => openDeliveryEntry({ ...f.envelope, payloadType: 'application/vnd.keycast.forward-receipt+json' }),
    coded('DELIVERY_INVALID'),
  );
  assert.throws(() => cplIdDigest('urn:uuid:11111111-2222-4333-8444-55555555555A'), coded('DELIVERY_INVALID'));
});

test('a manifest opens only with the audit key and reproduces the entry root', async () => {
  const f = await fixture(5);
  const key = parseAuditPrivateKey(auditPem);
  const m = await openManifest(f.sealed.sealed, key, REQ);
  assert.deepEqual(m, f.manifest);
  checkManifest(f.entry, m, f.sealed.sealed);
  assert.equal(manifestRoot(m), toHex(f.tree.root()));
  assert.deepEqual(parseManifest(encodeManifest(m)), m);
});

test('attack: a manifest sealed to another key, for another request, or tampered does not open', async () => {
  const f = await fixture();
  const stranger = generateKeyPairSync('x25519');
  const elsewhere = await sealManifest(f.manifest, auditPublicKey(stranger.privateKey));
  await assert.rejects(openManifest(elsewhere.sealed, audit.privateKey, REQ), coded('MANIFEST_UNOPENABLE'));
  await assert.rejects(openManifest(f.sealed.sealed, audit.privateKey, 'cd'.repeat(32)), coded('MANIFEST_UNOPENABLE'));
  const flipped = f.sealed.sealed.slice();
  flipped[40]! ^= 1;
  await assert.rejects(openManifest(flipped, audit.privateKey, REQ), coded('MANIFEST_UNOPENABLE'));
  await assert.rejects(openManifest(new Uint8Array(10), audit.privateKey, REQ), coded('MANIFEST_UNOPENABLE'));
  // the refusal carries no plaintext
  await openManifest(elsewhere.sealed, audit.privateKey, REQ).catch((e: VerifierError) => {
    assert.ok(!JSON.stringify(e.toJSON()).includes('projector'));
    assert.equal(e.cause, undefined);
  });
});

test('attack: a manifest that does not match its entry (recipient swapped, dropped, other sealed bytes) is refused', async () => {
  const f = await fixture(4);
  const swapped = { ...f.manifest, recipients: [...f.manifest.recipients] };
  swapped.recipients[1] = { ...swapped.recipients[1]!, thumbprint: toBase64(new Uint8Array(randomBytes(20))) };
  assert.throws(
    () => checkManifest(f.entry, swapped),
    (e) => coded('MANIFEST_MISMATCH')(e) && (e as VerifierError).evidence.field === 'root',
  );
  const reordered = { ...f.manifest, recipients: [...f.manifest.recipients].reverse() };
  assert.throws(() => checkManifest(f.entry, reordered), coded('MANIFEST_MISMATCH'));
  const dropped = { ...f.manifest, recipients: f.manifest.recipients.slice(1) };
  assert.throws(
    () => checkManifest(f.entry, dropped),
    (e) => (e as VerifierError).evidence.field === 'count',
  );
  const resealed = await sealManifest(f.manifest, auditPublicKey(audit.privateKey)); // same plaintext, other bytes
  assert.throws(
    () => checkManifest(f.entry, f.manifest, resealed.sealed),
    (e) => (e as VerifierError).evidence.field === 'manifest',
  );
  assert.throws(
    () => checkManifest({ ...f.entry, requestDigest: 'cd'.repeat(32) }, f.manifest),
    (e) => (e as VerifierError).evidence.field === 'requestDigest',
  );
});

test('manifest schema and size limits', async () => {
  const f = await fixture(1);
  await assert.rejects(openManifest(new Uint8Array(MAX_MANIFEST_BYTES + 1), audit.privateKey, REQ), coded('OVERSIZED'));
  assert.throws(() => encodeManifest({ ...f.manifest, recipients: [] }), coded('MANIFEST_INVALID'));
  assert.throws(
    () => encodeManifest({ ...f.manifest, recipients: [{ ...f.manifest.recipients[0]!, thumbprint: 'AAAA' }] }),
    coded('MANIFEST_INVALID'),
  );
  assert.throws(() => parseManifest(utf8(JSON.stringify(f.manifest, null, 1))), coded('MANIFEST_INVALID'));
  const huge = { ...f.manifest, rules: 'A'.repeat(MAX_MANIFEST_BYTES) };
  await assert.rejects(sealManifest(huge, auditPublicKey(audit.privateKey)), coded('OVERSIZED'));
  assert.throws(() => parseAuditPrivateKey(receipt.privateKey.export({ type: 'pkcs8', format: 'pem' })), TypeError);
  assert.throws(() => parseAuditPrivateKey('not a key'), TypeError);
});

test('the rules audit field: raw 32-byte X25519 in canonical base64, optional', () => {
  const k = toBase64(auditPublicKey(audit.privateKey));
  assert.deepEqual(parseAuditField({ hpkeX25519: k }), auditPublicKey(audit.privateKey));
  for (const v of [
    { hpkeX25519: toBase64(new Uint8Array(31)) },
    { hpkeX25519: toBase64(new Uint8Array(32)) },
    { hpkeX25519: k.replace('=', '') },
    { hpkeX25519: k, extra: 1 },
    { x25519: k },
    k,
  ])
    assert.throws(() => parseAuditField(v), coded('RULES_INVALID'), JSON.stringify(v));
  const rules = {
    type: 'keycast-forward-rules/v2',
    film: { cplId: CPL, title: 'F' },
    contentKeyIds: ['urn:uuid:aaaaaaaa-2222-4333-8444-555555555555'],
    kdmWindow: { notBefore: '2026-01-01T00:00:00+00:00', notAfter: '2026-01-10T00:00:00+00:00' },
    forwardFrom: '2025-12-01T00:00:00Z',
    forwardUntil: '2026-01-09T00:00:00Z',
    recipients: { thumbprints: [toBase64(new Uint8Array(20))], roots: [], excluded: [], roles: ['SM'] },
    formats: ['kdm'],
    limits: { maxKdmValidityDays: 30, maxRecipients: 10 },
  };
  validateRules(rules);
  assert.equal(validateRules({ ...rules, audit: { hpkeX25519: k } }).audit?.hpkeX25519, k);
  assert.throws(() => validateRules({ ...rules, audit: { hpkeX25519: 'AAAA' } }), coded('RULES_INVALID'));
});

test('identity leaf from a verified attestation names its receipt and HPKE keys; parse checks it', () => {
  const now = Date.now();
  const pki = makeTestPki(now);
  const hpke = new Uint8Array(randomBytes(32));
  const doc = issueDocument(pki, now, {
    publicKey: hpke,
    userData: formatIdentityBinding({
      hpkeX25519: hpke,
      receiptsEd25519: new Uint8Array(receipt.publicKey.export({ format: 'der', type: 'spki' })).slice(-32),
    }),
    pcrs: pcrs(),
  });
  const v = verifyAttestationDocument(doc.bytes, { trustedRoots: [pki.root.der] });
  const id = identityEntryLeaf(v, doc.bytes);
  assert.equal(id.entry.receiptKey, receiptKeyBase64(receipt.publicKey));
  assert.equal(id.receiptKeySha256, keyFingerprint(receipt.publicKey));
  assert.equal(id.entry.pcr0, '01'.repeat(48));
  assert.equal(leafKind(id.leaf), 'identity');
  assert.equal(parseIdentityLeaf(id.leaf).receiptKeySha256, id.receiptKeySha256);
  assert.equal(id.sidecar, undefined);
  const tampered = utf8(Buffer.from(id.leaf).toString('utf8').replace('"pcr0":"01', '"pcr0": "01'));
  assert.throws(() => parseIdentityLeaf(tampered), coded('IDENTITY_ENTRY_INVALID'));
  // the tagged public_key form binds the keys too
  const tagged = issueDocument(pki, now, { publicKey: formatEnclaveKeys(hpke, receipt.publicKey) });
  const t = identityEntryLeaf(verifyAttestationDocument(tagged.bytes, { trustedRoots: [pki.root.der] }), tagged.bytes);
  assert.equal(t.receiptKeySha256, id.receiptKeySha256);
  // a document binding no keys has no identity
  const bare = issueDocument(pki, now);
  assert.throws(
    () => identityEntryLeaf(verifyAttestationDocument(bare.bytes, { trustedRoots: [pki.root.der] }), bare.bytes),
    coded('PUBLIC_KEY_MISMATCH'),
  );
});

test('add-entry bodies: identity and delivery by kind, a bundle passes through, malformed kinds refused', async () => {
  const f = await fixture();
  const att = new Uint8Array(randomBytes(100));
  const id = parseAddEntryBody(identityAddEntryBody(att));
  assert.ok(id.kind === 'identity' && Buffer.compare(id.attestation, att) === 0);
  const d = parseAddEntryBody(deliveryAddEntryBody(f.envelope, f.sealed.sealed));
  assert.ok(d.kind === 'delivery');
  assert.deepEqual(openDeliveryEntry(d.envelope).entry, f.entry);
  assert.equal(Buffer.compare(d.manifest, f.sealed.sealed), 0);
  assert.equal(parseAddEntryBody('{"mediaType":"x"}').kind, 'bundle');
  for (const b of [
    '{"kind":"identity"}',
    '{"kind":"identity","attestation":"!!"}',
    '{"kind":"identity","attestation":"AAAA","x":1}',
    '{"kind":"delivery","envelope":"x","manifest":"AAAA"}',
    '{"kind":"other"}',
    '{"kind":',
  ])
    assert.throws(() => parseAddEntryBody(b), coded('MALFORMED'), b);
  assert.throws(
    () => parseAddEntryBody(JSON.stringify({ kind: 'identity', attestation: 'A'.repeat(200_000) })),
    coded('OVERSIZED'),
  );
});

test('kdm-logged proof: round trip, and a KDM for another screen or altered is refused', async () => {
  const f = await fixture(4);
  const text = formatKdmLoggedProof(7, f.tree.prove(2));
  const p = parseKdmLoggedProof(text);
  assert.equal(p.entryIndex, 7);
  checkKdmLogged(f.entry, p, utf8('kdm 2'), f.manifest.recipients[2]!.thumbprint);
  assert.throws(
    () => checkKdmLogged(f.entry, p, utf8('kdm 3'), f.manifest.recipients[2]!.thumbprint),
    coded('RECEIPT_INVALID'),
  );
  assert.throws(
    () => checkKdmLogged(f.entry, p, utf8('kdm 2'), f.manifest.recipients[1]!.thumbprint),
    coded('RECEIPT_INVALID'),
  );
  assert.throws(
    () => checkKdmLogged({ ...f.entry, root: '00'.repeat(32) }, p, utf8('kdm 2'), f.manifest.recipients[2]!.thumbprint),
    coded('RECEIPT_INVALID'),
  );
  assert.throws(
    () => parseKdmLoggedProof('{"type":"keycast-kdm-logged/v1","entryIndex":-1,"delivery":{}}'),
    coded('MALFORMED'),
  );
  assert.throws(() => parseKdmLoggedProof(JSON.stringify({ ...p, extra: 1 })), coded('MALFORMED'));
});
