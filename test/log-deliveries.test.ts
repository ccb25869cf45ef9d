/**
 * The log admits delivery transparency entries (issue 19) only from real enclaves: an identity
 * entry from a fresh attestation under its trust root whose PCR0 is an active logged release, then
 * delivery entries signed by the receipt key it registered, each with its sealed manifest stored
 * durably before the answer. From the attacker's side: a forged entry (another key), an
 * unregistered enclave, a re-signed altered count, a revoked release's identity and deliveries, an
 * attestation from another root or a stale one, a PCR0 not logged, a manifest that is not the
 * one named. /entry/N shows the count and nothing about who received.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import {
  DELIVERY_PAYLOAD_TYPE,
  canonicalize,
  decodeDeliveryEntryLeaf,
  deliveryAddEntryBody,
  fromBase64,
  openDeliveryEntry,
  parseIdentityLeaf,
  signDeliveryEntry,
  signEnvelope,
  toBase64,
  utf8,
  receiptKeyBase64,
} from '#verifier';
import { createTestPki } from '../enclave/index.ts';
import {
  auditPublicKey,
  identityAddEntryBody,
  makeDelivery,
  newEnclave,
  startDeliveryLog,
  type DeliveryLog,
  type Enclave,
} from './delivery-fixtures.ts';

const audit = generateKeyPairSync('x25519');
const RULES = { rules: '{"signed":"rules"}', rulesDigest: 'cd'.repeat(32), rulesSigner: 'ef'.repeat(32) };
const base = () => ({ ...RULES, auditKey: auditPublicKey(audit.privateKey) });

async function setup(t: { after: (f: () => Promise<void>) => void }): Promise<{ log: DeliveryLog; enclave: Enclave }> {
  const log = await startDeliveryLog();
  t.after(() => log.close());
  const rel = await log.release('a');
  const enclave = newEnclave(log.pki, rel.pcr0, rel.index);
  return { log, enclave };
}

test('an attested enclave registers once; its deliveries are logged with the manifest stored first', async (t) => {
  const { log, enclave } = await setup(t);
  const id = await log.post(identityAddEntryBody(enclave.attest()));
  assert.equal(id.status, 200, JSON.stringify(id.json));
  const leaf = parseIdentityLeaf(fromBase64(id.json.transparencyLogEntry.canonicalizedBody));
  assert.equal(leaf.receiptKey, receiptKeyBase64(enclave.receipt));
  assert.equal(leaf.pcr0, enclave.pcr0);
  // a second registration of the same key (a fresh document) answers with the first index
  const again = await log.post(identityAddEntryBody(enclave.attest()));
  assert.equal(again.status, 200);
  assert.equal(again.json.index, id.json.index);
  assert.equal(again.json.duplicate, true);

  const d = await makeDelivery(enclave, base());
  const r = await log.post(d.body);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const logged = decodeDeliveryEntryLeaf(fromBase64(r.json.transparencyLogEntry.canonicalizedBody));
  assert.deepEqual(logged.entry, d.entry);
  // stored durably (a file under the data directory) and served immutably by digest
  assert.ok(existsSync(join(log.dir, 'manifests', d.entry.manifest.sha256.slice(0, 2), d.entry.manifest.sha256)));
  const m = await log.get(`/delivery-manifest/${d.entry.manifest.sha256}`);
  assert.equal(m.status, 200);
  assert.match(m.headers.get('cache-control') ?? '', /immutable/);
  assert.deepEqual(new Uint8Array(await m.arrayBuffer()), d.sealed);
  assert.equal((await log.get(`/delivery-manifest/${'0'.repeat(64)}`)).status, 404);
  assert.equal((await log.get('/delivery-manifest/XYZ')).status, 400);

  // /entry/N: kind delivery, the public count, no recipient identity in any encoding
  const e = await (await log.get(`/entry/${r.json.index}`)).json();
  assert.equal(e.kind, 'delivery');
  assert.equal(e.count, 3);
  const shown = JSON.stringify(e) + Buffer.from(e.leaf, 'base64').toString('utf8');
  const payload = Buffer.from(JSON.parse(Buffer.from(e.leaf, 'base64').toString()).envelope.payload, 'base64');
  for (const rec of d.manifest.recipients)
    for (const s of [
      rec.thumbprint,
      Buffer.from(rec.thumbprint, 'base64').toString('hex'),
      rec.subject,
      rec.outputDigest,
    ])
      assert.ok(!shown.includes(s) && !payload.toString().includes(s), `the entry shows ${s}`);
  assert.equal((await (await log.get(`/entry/${id.json.index}`)).json()).kind, 'identity');

  // resubmitted unchanged: a duplicate with its index
  const dup = await log.post(d.body);
  assert.equal(dup.status, 200);
  assert.equal(dup.json.index, r.json.index);
  assert.equal(dup.json.duplicate, true);
});

test('attack: forged, unregistered, re-signed and mismatched delivery entries are refused', async (t) => {
  const { log, enclave } = await setup(t);
  assert.equal((await log.post(identityAddEntryBody(enclave.attest()))).status, 200);
  const d = await makeDelivery(enclave, base());
  assert.equal((await log.post(d.body)).status, 200);
  const size = log.log.sequencer.current.size;

  // another key signs an entry naming the registered receipt key
  const thief = generateKeyPairSync('ed25519').privateKey;
  const forged = signEnvelope(DELIVERY_PAYLOAD_TYPE, utf8(canonicalize({ ...d.entry, count: 1 })), thief);
  let r = await log.post(deliveryAddEntryBody(forged, d.sealed));
  assert.equal(r.status, 403);
  assert.equal(r.json.code, 'DELIVERY_UNREGISTERED');

  // an enclave that never registered (its own key, a well-formed entry)
  const stranger = newEnclave(log.pki, enclave.pcr0, enclave.releaseIndex);
  r = await log.post((await makeDelivery(stranger, base())).body);
  assert.equal(r.status, 403);
  assert.equal(r.json.code, 'DELIVERY_UNREGISTERED');

  // the count altered and re-signed by another key: refused; by the registered key (a second,
  // different entry for the same request): a conflict, not a second entry
  const altered = { ...d.entry, count: 2 };
  r = await log.post(
    deliveryAddEntryBody(signDeliveryEntry({ ...altered, receiptKey: receiptKeyBase64(thief) }, thief), d.sealed),
  );
  assert.equal(r.status, 403);
  r = await log.post(deliveryAddEntryBody(signDeliveryEntry(altered, enclave.receipt), d.sealed));
  assert.equal(r.status, 409);
  assert.equal(r.json.code, 'DELIVERY_CONFLICT');
  assert.equal(r.json.evidence.index, size - 1);

  // the payload altered under the original signature
  const swapped = { ...d.envelope, payload: toBase64(utf8(canonicalize(altered))) };
  r = await log.post(deliveryAddEntryBody(swapped, d.sealed));
  assert.equal(r.status, 403);

  // a manifest that is not the one the entry names; an entry naming a PCR0 its key was not registered for
  const other = await makeDelivery(enclave, base());
  r = await log.post(deliveryAddEntryBody(other.envelope, d.sealed));
  assert.equal(r.json.code, 'MANIFEST_MISMATCH');
  assert.equal(r.status, 422);
  const rel2 = await log.release('b');
  r = await log.post(
    (await makeDelivery(enclave, { ...base(), override: { pcr0: rel2.pcr0, releaseIndex: rel2.index } })).body,
  );
  assert.equal(r.status, 403);
  assert.equal(r.json.code, 'DELIVERY_UNREGISTERED');
  // a release index that is not a release of its PCR0
  r = await log.post((await makeDelivery(enclave, { ...base(), override: { releaseIndex: rel2.index } })).body);
  assert.equal(r.json.code, 'ENTRY_REJECTED');
  // malformed envelopes
  r = await log.post(JSON.stringify({ kind: 'delivery', envelope: { payloadType: 'x' }, manifest: 'AAAA' }));
  assert.equal(r.status, 400);
  assert.equal(r.json.code, 'DELIVERY_INVALID');
  r = await log.post('{"kind":"delivery","envelope":{}}');
  assert.equal(r.status, 400);

  // nothing refused was logged, and no refused manifest was stored
  assert.equal(log.log.sequencer.current.size, size + 1); // only release b
  assert.equal((await log.get(`/delivery-manifest/${other.entry.manifest.sha256}`)).status, 404);
  assert.equal(openDeliveryEntry(d.envelope).entry.count, 3);
});

test('attack: identities from another root, stale, for an unlogged or revoked PCR0 are refused; revocation stops deliveries', async (t) => {
  const { log, enclave } = await setup(t);
  // a document from a PKI the log does not trust (e.g. a host's own "NSM")
  let r = await log.post(identityAddEntryBody(enclave.attest({ pki: createTestPki() })));
  assert.equal(r.status, 403);
  assert.equal(r.json.code, 'IDENTITY_UNTRUSTED');
  assert.equal(r.json.evidence.check, 'ROOT_UNTRUSTED');
  // an old document (the registration must be fresh)
  r = await log.post(identityAddEntryBody(enclave.attest({ timestamp: Date.now() - 3600_000 })));
  assert.equal(r.status, 403);
  assert.equal(r.json.code, 'IDENTITY_UNTRUSTED');
  // a PCR0 this log never released
  r = await log.post(identityAddEntryBody(enclave.attest({ pcr0: 'ab'.repeat(48) })));
  assert.equal(r.status, 403);
  assert.equal(r.json.code, 'IDENTITY_RELEASE_NOT_LOGGED');
  // garbage
  r = await log.post(identityAddEntryBody(utf8('not a document')));
  assert.equal(r.status, 403);
  assert.equal(r.json.code, 'IDENTITY_UNTRUSTED');

  assert.equal((await log.post(identityAddEntryBody(enclave.attest()))).status, 200);
  assert.equal((await log.post((await makeDelivery(enclave, base())).body)).status, 200);
  await log.revoke(enclave.releaseIndex, enclave.pcr0);
  r = await log.post((await makeDelivery(enclave, base())).body);
  assert.equal(r.status, 403);
  assert.equal(r.json.code, 'DELIVERY_RELEASE_REVOKED');
  const late = newEnclave(log.pki, enclave.pcr0, enclave.releaseIndex);
  r = await log.post(identityAddEntryBody(late.attest()));
  assert.equal(r.status, 403);
  assert.equal(r.json.code, 'IDENTITY_RELEASE_REVOKED');
});

test('a delivery body may exceed the bundle limit (its manifest); nothing else may', async (t) => {
  const { log, enclave } = await setup(t);
  assert.equal((await log.post(identityAddEntryBody(enclave.attest()))).status, 200);
  const recipients = Array.from({ length: 3000 }, (_, i) => ({
    thumbprint: toBase64(new Uint8Array(20).fill(i % 251)).slice(0, 27) + '=',
    subject: `CN=SM.projector-${i}.example.com,OU=screen ${i},O=a cinema chain with a long name`,
  }));
  const d = await makeDelivery(enclave, { ...base(), recipients });
  assert.ok(d.body.length > 256 * 1024, `${d.body.length}`);
  const r = await log.post(d.body);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const big = await log.post(JSON.stringify({ leaf: 'A'.repeat(300 * 1024) }));
  assert.equal(big.status, 413);
  const bigId = await log.post(identityAddEntryBody(new Uint8Array(300 * 1024)));
  assert.equal(bigId.status, 413);
});

test('manifests survive a restart of the log', async () => {
  const first = await startDeliveryLog();
  const rel = await first.release('a');
  const enclave = newEnclave(first.pki, rel.pcr0, rel.index);
  assert.equal((await first.post(identityAddEntryBody(enclave.attest()))).status, 200);
  const d = await makeDelivery(enclave, base());
  assert.equal((await first.post(d.body)).status, 200);
  const dir = first.dir;
  await first.close({ keep: true });
  const again = await startDeliveryLog({ dir, pki: first.pki });
  try {
    const m = await again.get(`/delivery-manifest/${d.entry.manifest.sha256}`);
    assert.deepEqual(new Uint8Array(await m.arrayBuffer()), d.sealed);
    // the registration is still known: a further delivery is admitted
    assert.equal((await again.post((await makeDelivery(enclave, base())).body)).status, 200);
  } finally {
    await again.close();
    const { rmSync } = await import('node:fs');
    rmSync(dir, { recursive: true, force: true });
  }
});
