/**
 * Delivery transparency inside the enclave (issue 19), from the hostile host's side: an enclave
 * whose pinned config says `"deliveries": { "required": true }` answers a forward with a pending
 * result in which nothing is usable (outputs sealed under a key K it keeps), and hands K out only
 * for a log answer that proves exactly that delivery's leaf under a checkpoint signed by the
 * pinned log key — once, and for that request only. The log here is the GateWorld's tree and key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  checkManifest,
  manifestRoot,
  openDeliveryEntry,
  openManifest,
  openReceipt,
  parseEnclaveConfig,
  type ForwardRules,
} from '#verifier';
import {
  auditPublicKey,
  certificatePem,
  deliveryEntryLeaf,
  ed25519Spki,
  formatEnclaveConfig,
  formatProofBundle,
  fromBase64,
  generateNoteKey,
  noteSigner,
  proveInclusion,
  rulesDigest,
  sealContentKeys,
  signNote,
  formatCheckpoint,
  signRules,
  toBase64,
  type SignedEnvelope,
} from '#verifier/build';
import { bootEnclave, SimulatedNsm, createTestPki, memoryKms, createProjectorPki } from '../index.ts';
import { openPendingAnswer } from '../common/delivery-answer.ts';
import { ADMIN, ENCLAVE_ROLE, attestedPolicy } from './kms-fixtures.ts';
import { GateWorld, ORIGIN, measurements } from '#test-kit';

const pki = createTestPki();
const m = measurements('deliveries');
const CPL = 'urn:uuid:0b5c8a2e-6d7f-4e11-9c3a-2f4e5d6c7b8a';
const KEY_IDS = ['urn:uuid:1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d'];
const DAY = 86_400_000;
const pad = (n: number) => String(n).padStart(2, '0');
const kdmT = (ms: number) => {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}+00:00`;
};
const isoZ = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

interface Pending {
  pending: true;
  requestDigest: string;
  entry: SignedEnvelope;
  manifest: string;
  sealed: string;
}

async function world(required: boolean | undefined, deliveries: { ttlMs?: number; now?: () => number } = {}) {
  const w = new GateWorld();
  const i = w.publish(m);
  const kms = memoryKms(ENCLAVE_ROLE, { trustedRoots: [pki.rootDer] });
  const key = await kms.core.createKey(ADMIN, { policy: attestedPolicy([m.pcr0]) });
  const config = formatEnclaveConfig(
    w.config({
      kms: { keyArn: key.Arn, region: 'us-east-1' },
      ...(required === undefined ? {} : { deliveries: { required } }),
    }),
  );
  const e = await bootEnclave({
    nsm: new SimulatedNsm({ pki, pcrs: m }),
    kms: kms.port,
    configBytes: config,
    now: () => w.now,
    recheckMs: 0,
    attestationRoots: [pki.rootDer],
    deliveries,
  });
  const post = (url: string, body: unknown) =>
    e.app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });
  assert.equal((await post('/v1/gate', JSON.parse(formatProofBundle(w.bundle(i))))).statusCode, 200);
  const id = (await post('/v1/identity', {})).json() as {
    identity: { hpkeX25519: string; receiptsEd25519: string };
    stored: { sealed: string };
  };
  const digest = createHash('sha256').update(fromBase64(id.stored.sealed)).digest('hex');
  assert.equal((await post('/v1/identity', { confirm: digest })).statusCode, 200);

  const projectors = createProjectorPki({ count: 3 });
  const studio = generateKeyPairSync('ed25519');
  const audit = generateKeyPairSync('x25519');
  const contentKey = new Uint8Array(randomBytes(16));
  const t = Date.now();
  const rules = (withAudit: boolean): ForwardRules => ({
    type: 'keycast-forward-rules/v2',
    film: { cplId: CPL, title: 'Keycast Delivery Test' },
    contentKeyIds: KEY_IDS,
    kdmWindow: { notBefore: kdmT(t + DAY), notAfter: kdmT(t + 10 * DAY) },
    forwardFrom: isoZ(t - DAY),
    forwardUntil: isoZ(t + 5 * DAY),
    recipients: {
      thumbprints: [],
      roots: [Buffer.from(projectors.root.der).toString('base64')],
      excluded: [],
      roles: ['SM'],
    },
    formats: ['kdm'],
    limits: { maxKdmValidityDays: 30, maxRecipients: 10 },
    ...(withAudit ? { audit: { hpkeX25519: toBase64(auditPublicKey(audit.publicKey)) } } : {}),
  });
  let n = 0;
  const base = Math.floor(Date.now() / 1000) * 1000 + 3600_000;
  const request = async (o: { withAudit?: boolean; recipients?: number } = {}) => {
    const r = rules(o.withAudit ?? true);
    return {
      sealedKeys: await sealContentKeys(
        { cplId: CPL, keys: [{ id: KEY_IDS[0]!, type: 'MDIK', key: contentKey.slice() }] },
        fromBase64(id.identity.hpkeX25519),
        Buffer.from(m.pcr0, 'hex'),
        studio.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        rulesDigest(r),
      ),
      rules: signRules(r, studio.privateKey),
      recipients: projectors.projectors.slice(0, o.recipients ?? 3).map((p) => certificatePem(p.certificate.der)),
      intermediates: [certificatePem(projectors.intermediate.der)],
      format: 'kdm',
      // a distinct expiry per request: distinct digests
      expires: new Date(base - 1000 * n++).toISOString().replace('.000Z', 'Z'),
    };
  };
  /** The log's answer for `leaf`, appended to the world's tree (a TransparencyLogEntry). */
  const logAnswer = (leaf: Uint8Array, o: { signer?: string; breakProof?: boolean } = {}) => {
    const index = w.tree.append(leaf);
    const size = w.tree.size;
    const hashes = proveInclusion(index, size, w.tree.hashReader());
    if (o.breakProof && hashes.length > 0) hashes[0] = new Uint8Array(32).fill(7);
    const note = o.signer
      ? signNote(formatCheckpoint({ origin: ORIGIN, size, rootHash: w.tree.root(size), extensions: [] }), [
          noteSigner(o.signer),
        ])
      : w.checkpointNote(size);
    return {
      logIndex: String(index),
      logId: { keyId: toBase64(new Uint8Array(32)) },
      kindVersion: { kind: 'dsse', version: '0.0.1' },
      integratedTime: '0',
      inclusionProof: {
        logIndex: String(index),
        rootHash: toBase64(w.tree.root(size)),
        treeSize: String(size),
        hashes: hashes.map(toBase64),
        checkpoint: { envelope: note },
      },
      canonicalizedBody: toBase64(leaf),
    };
  };
  return {
    w,
    e,
    post,
    id,
    audit,
    contentKey,
    request,
    logAnswer,
    receiptSpki: ed25519Spki(fromBase64(id.identity.receiptsEd25519)),
  };
}

test('config: deliveries.required parses strictly and is part of the pinned config', () => {
  const w = new GateWorld();
  const good = parseEnclaveConfig(formatEnclaveConfig(w.config({ deliveries: { required: true } })));
  assert.deepEqual(good.deliveries, { required: true });
  const base = JSON.parse(formatEnclaveConfig(w.config()));
  for (const bad of [{ required: 'yes' }, { required: true, optional: 1 }, {}, true])
    assert.throws(
      () => parseEnclaveConfig(JSON.stringify({ ...base, deliveries: bad })),
      /GATE_CONFIG_MALFORMED|deliveries/,
    );
});

test('deliveries required: nothing usable before the log, K only for a proof of exactly this leaf, once', {
  timeout: 120_000,
}, async () => {
  const x = await world(true);
  const status = (await x.e.app.inject({ method: 'GET', url: '/v1/status' })).json();
  assert.deepEqual(status.deliveries, { required: true });

  // rules without an audit key: refused before anything is emitted
  const noAudit = await x.post('/v1/forward', await x.request({ withAudit: false }));
  assert.equal(noAudit.statusCode, 422, noAudit.body);
  assert.equal(noAudit.json().code, 'FORWARD_AUDIT_REQUIRED');
  assert.equal(noAudit.json().outputs, undefined);

  const req = await x.request();
  const r = await x.post('/v1/forward', req);
  assert.equal(r.statusCode, 202, r.body.slice(0, 300));
  const p = r.json() as Pending;
  // nothing usable: no KDM, no receipt, no content key in any spelling
  assert.deepEqual(Object.keys(p).sort(), ['entry', 'manifest', 'pending', 'requestDigest', 'sealed']);
  for (const needle of ['DCinemaSecurityMessage', 'outputs', 'receipt', Buffer.from(x.contentKey).toString('hex')])
    assert.ok(!r.body.includes(needle), `the pending answer shows ${needle}`);
  // the entry: signed by the bound receipt key, one per request, counts and root; the manifest opens for the studio only
  const opened = openDeliveryEntry(p.entry, x.receiptSpki);
  assert.equal(opened.entry.count, 3);
  assert.equal(opened.entry.pcr0, m.pcr0);
  assert.equal(opened.entry.requestDigest, p.requestDigest);
  const manifest = await openManifest(fromBase64(p.manifest), x.audit.privateKey, p.requestDigest);
  checkManifest(opened.entry, manifest, fromBase64(p.manifest));
  assert.equal(manifestRoot(manifest), opened.entry.root);
  assert.equal(manifest.recipients.length, 3);
  await assert.rejects(openManifest(fromBase64(p.manifest), generateKeyPairSync('x25519').privateKey, p.requestDigest));

  // a retry while pending: the same pending answer (same entry), never FORWARD_REPLAY
  const again = await x.post('/v1/forward', req);
  assert.equal(again.statusCode, 202);
  assert.deepEqual(again.json(), p);

  const leaf = deliveryEntryLeaf(p.entry);
  const release = (body: unknown) => x.post('/v1/forward/release', body);
  const refused = async (body: unknown, code: string, status = 422) => {
    const a = await release(body);
    assert.equal(a.statusCode, status, a.body);
    assert.equal(a.json().code, code);
    assert.equal(a.json().key, undefined);
    return a.json();
  };
  // forged log answers get no K: another leaf, a broken proof, a checkpoint signed by another key
  // (a log key the enclave does not pin), a checkpoint with no signature of the log
  const wrongLeaf = x.logAnswer(new TextEncoder().encode('{"kind":"delivery","envelope":"forged"}'));
  assert.equal(
    (await refused({ requestDigest: p.requestDigest, transparencyLogEntry: wrongLeaf }, 'DELIVERY_PROOF_INVALID'))
      .evidence.check,
    'leaf',
  );
  const swapped = { ...wrongLeaf, canonicalizedBody: toBase64(leaf) };
  assert.equal(
    (await refused({ requestDigest: p.requestDigest, transparencyLogEntry: swapped }, 'DELIVERY_PROOF_INVALID'))
      .evidence.check,
    'inclusion',
  );
  const broken = x.logAnswer(leaf, { breakProof: true });
  await refused({ requestDigest: p.requestDigest, transparencyLogEntry: broken }, 'DELIVERY_PROOF_INVALID');
  const otherLog = generateNoteKey(ORIGIN);
  const foreign = x.logAnswer(leaf, { signer: otherLog.skey });
  assert.equal(
    (await refused({ requestDigest: p.requestDigest, transparencyLogEntry: foreign }, 'DELIVERY_PROOF_INVALID'))
      .evidence.check,
    'checkpoint',
  );
  const good = x.logAnswer(leaf);
  const unsigned = {
    ...good,
    inclusionProof: {
      ...good.inclusionProof,
      checkpoint: { envelope: good.inclusionProof.checkpoint.envelope.split('\n\n')[0]! + '\n\n' },
    },
  };
  await refused({ requestDigest: p.requestDigest, transparencyLogEntry: unsigned }, 'DELIVERY_PROOF_INVALID');
  await refused({ requestDigest: p.requestDigest, transparencyLogEntry: good, extra: 1 }, 'REQUEST_MALFORMED', 400);

  // another request's K: request B pending, released with A's proof → refused; A's digest with B's proof → refused
  const reqB = await x.request({ recipients: 2 });
  const pB = (await x.post('/v1/forward', reqB)).json() as Pending;
  assert.equal(pB.pending, true);
  assert.notEqual(pB.requestDigest, p.requestDigest);
  await refused({ requestDigest: pB.requestDigest, transparencyLogEntry: good }, 'DELIVERY_PROOF_INVALID');
  const goodB = x.logAnswer(deliveryEntryLeaf(pB.entry));
  await refused({ requestDigest: p.requestDigest, transparencyLogEntry: goodB }, 'DELIVERY_PROOF_INVALID');

  // the true answer: K, which opens exactly this request's answer
  const k = await release({ requestDigest: p.requestDigest, transparencyLogEntry: good });
  assert.equal(k.statusCode, 200, k.body);
  const key = fromBase64(k.json().key as string);
  assert.throws(() => openPendingAnswer(fromBase64(pB.sealed), key, pB.requestDigest), /ENCLAVE_UNREACHABLE|open/);
  const answer = JSON.parse(openPendingAnswer(fromBase64(p.sealed), key, p.requestDigest).toString('utf8')) as {
    requestDigest: string;
    receipt: string;
    outputs: Array<{ bytes: string }>;
  };
  assert.equal(answer.outputs.length, 3);
  assert.ok(Buffer.from(answer.outputs[0]!.bytes, 'base64').toString('utf8').includes('DCinemaSecurityMessage'));
  assert.equal(openReceipt(answer.receipt, x.receiptSpki).root, opened.entry.root);

  // a second ask gets nothing; the request is now served (FORWARD_REPLAY)
  await refused({ requestDigest: p.requestDigest, transparencyLogEntry: good }, 'DELIVERY_NOT_PENDING', 409);
  const replay = await x.post('/v1/forward', req);
  assert.equal(replay.statusCode, 409);
  assert.equal(replay.json().code, 'FORWARD_REPLAY');
  // B is still pending and releases with its own proof
  assert.equal((await release({ requestDigest: pB.requestDigest, transparencyLogEntry: goodB })).statusCode, 200);
  await x.e.stop();
});

test('deliveries required: an expired pending delivery drops K and gives the replay claim back', {
  timeout: 120_000,
}, async () => {
  let clock = Date.now();
  const x = await world(true, { ttlMs: 60_000, now: () => clock });
  const req = await x.request({ recipients: 1 });
  const p = (await x.post('/v1/forward', req)).json() as Pending;
  assert.equal(p.pending, true);
  clock += 61_000;
  const good = x.logAnswer(deliveryEntryLeaf(p.entry));
  const late = await x.post('/v1/forward/release', { requestDigest: p.requestDigest, transparencyLogEntry: good });
  assert.equal(late.statusCode, 409);
  assert.equal(late.json().code, 'DELIVERY_NOT_PENDING');
  // the retry is served again (a new pending delivery), not refused as a replay
  const retry = await x.post('/v1/forward', req);
  assert.equal(retry.statusCode, 202, retry.body);
  await x.e.stop();
});

test('deliveries not pinned: the enclave forwards as before, with or without an audit key', {
  timeout: 120_000,
}, async () => {
  for (const required of [undefined, false]) {
    const x = await world(required);
    const status = (await x.e.app.inject({ method: 'GET', url: '/v1/status' })).json();
    assert.deepEqual(status.deliveries, { required: false });
    for (const withAudit of [true, false]) {
      const r = await x.post('/v1/forward', await x.request({ withAudit }));
      assert.equal(r.statusCode, 200, r.body.slice(0, 300));
      assert.equal((r.json() as { outputs: unknown[] }).outputs.length, 3);
    }
    const rel = await x.post('/v1/forward/release', { requestDigest: 'a'.repeat(64), transparencyLogEntry: {} });
    assert.equal(rel.statusCode, 404);
    await x.e.stop();
  }
});
