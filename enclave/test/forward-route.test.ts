/**
 * POST /v1/forward on the enclave behind its gate, with its KMS-sealed identity: a studio seals
 * content keys to the HPKE key bound in the attestation and signs rules; the enclave answers one
 * KDM per allowed projector and a receipt signed by its bound receipt key; the KDM signer chain
 * survives a restart (sealed with the identity); refusals emit nothing and no content key leaks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { openRawHpkeDelivery, openReceipt, type ForwardRules } from '#verifier';
import {
  certificatePem,
  formatEnclaveConfig,
  formatProofBundle,
  fromBase64,
  sealContentKeys,
  rulesDigest,
  signRules,
  ed25519Spki,
} from '#verifier/build';
import {
  bootEnclave,
  SimulatedNsm,
  createTestPki,
  memoryKms,
  createProjectorPki,
  type BootedEnclave,
} from '../index.ts';
import { ADMIN, ENCLAVE_ROLE, attestedPolicy } from './kms-fixtures.ts';
import { GateWorld, measurements } from '#test-kit';

const pki = createTestPki();
const m = measurements('forward');
const CPL = 'urn:uuid:0b5c8a2e-6d7f-4e11-9c3a-2f4e5d6c7b8a';
const KEY_IDS = ['urn:uuid:1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d'];
const DAY = 86_400_000;
const pad = (n: number) => String(n).padStart(2, '0');
const kdmT = (ms: number) => {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}+00:00`;
};
const isoZ = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

test('forwarding behind the gate with the sealed identity: KDMs, a bound receipt, the same signer after a restart', {
  timeout: 120_000,
}, async () => {
  const w = new GateWorld();
  const i = w.publish(m);
  const kms = memoryKms(ENCLAVE_ROLE, { trustedRoots: [pki.rootDer] });
  const key = await kms.core.createKey(ADMIN, { policy: attestedPolicy([m.pcr0]) });
  const config = formatEnclaveConfig(w.config({ kms: { keyArn: key.Arn, region: 'us-east-1' } }));
  const boot = async (): Promise<BootedEnclave> => {
    const e = await bootEnclave({
      nsm: new SimulatedNsm({ pki, pcrs: m }),
      kms: kms.port,
      configBytes: config,
      now: () => w.now,
      recheckMs: 0,
      attestationRoots: [pki.rootDer],
    });
    assert.equal(
      (
        await e.app.inject({
          method: 'POST',
          url: '/v1/gate',
          headers: { 'content-type': 'application/json' },
          payload: formatProofBundle(w.bundle(i)),
        })
      ).statusCode,
      200,
    );
    return e;
  };
  const post = (e: BootedEnclave, url: string, body: unknown) =>
    e.app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });

  const a = await boot();
  const projectors = createProjectorPki({ count: 3 });
  const receivers = createProjectorPki({ count: 2, maker: 'RX-MAKER', keyType: 'x25519' });
  const studio = generateKeyPairSync('ed25519');
  const contentKey = new Uint8Array(randomBytes(16));
  const t = Date.now();
  const rules: ForwardRules = {
    type: 'keycast-forward-rules/v2',
    film: { cplId: CPL, title: 'Keycast Forward Test' },
    contentKeyIds: KEY_IDS,
    kdmWindow: { notBefore: kdmT(t + DAY), notAfter: kdmT(t + 10 * DAY) },
    forwardFrom: isoZ(t - DAY),
    forwardUntil: isoZ(t + 5 * DAY),
    recipients: {
      thumbprints: [],
      roots: [projectors.root, receivers.root].map((c) => Buffer.from(c.der).toString('base64')),
      excluded: [],
      roles: ['SM', 'RX'],
    },
    formats: ['kdm', 'raw-rsa-oaep', 'raw-hpke'],
    limits: { maxKdmValidityDays: 30, maxRecipients: 10 },
  };

  // before the identity exists, forwarding is refused
  assert.equal((await post(a, '/v1/forward', {})).json().code, 'IDENTITY_NOT_READY');
  const id = (await post(a, '/v1/identity', {})).json() as {
    identity: { hpkeX25519: string; receiptsEd25519: string; kdmChainSha256: string };
    stored: { sealed: string };
  };
  // pending until the host says it stored the blob (first boot's second phase)
  assert.equal((await post(a, '/v1/forward', {})).json().code, 'IDENTITY_NOT_READY');
  const digest = createHash('sha256').update(fromBase64(id.stored.sealed)).digest('hex');
  assert.equal((await post(a, '/v1/identity', { confirm: digest })).statusCode, 200);
  const request = async () => ({
    sealedKeys: await sealContentKeys(
      { cplId: CPL, keys: [{ id: KEY_IDS[0]!, type: 'MDIK', key: contentKey.slice() }] },
      fromBase64(id.identity.hpkeX25519),
      Buffer.from(m.pcr0, 'hex'),
      studio.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      rulesDigest(rules),
    ),
    rules: signRules(rules, studio.privateKey),
    recipients: projectors.projectors.map((p) => certificatePem(p.certificate.der)),
    intermediates: [certificatePem(projectors.intermediate.der)],
    format: 'kdm',
    expires: new Date(Math.floor(Date.now() / 1000) * 1000 + 3600_000).toISOString().replace('.000Z', 'Z'),
  });
  const req = await request();
  const r = await post(a, '/v1/forward', req);
  assert.equal(r.statusCode, 200, r.body.slice(0, 300));
  const out = r.json() as { requestDigest: string; receipt: string; outputs: Array<{ bytes: string; format: string }> };
  assert.equal(out.outputs.length, 3);
  assert.ok(Buffer.from(out.outputs[0]!.bytes, 'base64').toString('utf8').includes('DCinemaSecurityMessage'));
  const receipt = openReceipt(out.receipt, ed25519Spki(fromBase64(id.identity.receiptsEd25519)));
  assert.equal(receipt.pcr0, m.pcr0);
  for (const spelling of [
    Buffer.from(contentKey).toString('hex'),
    Buffer.from(contentKey).toString('base64').replace(/=+$/, ''),
  ])
    assert.ok(!r.body.includes(spelling), 'a content key leaked');

  // the same request again is a replay
  assert.equal((await post(a, '/v1/forward', req)).statusCode, 409);
  // malformed requests emit nothing
  const bad = await post(a, '/v1/forward', { ...(await request()), rules: 'not rules' });
  assert.ok(bad.statusCode >= 400 && bad.statusCode < 500);
  assert.equal(bad.json().outputs, undefined);

  // raw-hpke to X25519 receivers: each opens its own document to the key sent, under the receipt
  const hpkeReq = {
    ...(await request()),
    recipients: receivers.projectors.map((p) => certificatePem(p.certificate.der)),
    intermediates: [certificatePem(receivers.intermediate.der)],
    format: 'raw-hpke',
  };
  const h = await post(a, '/v1/forward', hpkeReq);
  assert.equal(h.statusCode, 200, h.body.slice(0, 300));
  const hOut = h.json() as {
    requestDigest: string;
    receipt: string;
    outputs: Array<{ bytes: string; format: string; thumbprint: string }>;
  };
  assert.equal(openReceipt(hOut.receipt, ed25519Spki(fromBase64(id.identity.receiptsEd25519))).format, 'raw-hpke');
  assert.deepEqual(
    hOut.outputs.map((o) => o.format),
    ['raw-hpke', 'raw-hpke'],
  );
  for (const [i, o] of hOut.outputs.entries()) {
    const got = await openRawHpkeDelivery(fromBase64(o.bytes), receivers.projectors[i]!.privateKey, {
      recipient: o.thumbprint,
      cplId: CPL,
      requestDigest: hOut.requestDigest,
    });
    assert.deepEqual(
      got.keys.map((k) => Buffer.from(k.key).toString('hex')),
      [Buffer.from(contentKey).toString('hex')],
    );
  }
  assert.ok(!h.body.includes(Buffer.from(contentKey).toString('hex')), 'a content key leaked');
  // an RSA projector in a raw-hpke request: refused, naming it, nothing emitted
  const mixed = await post(a, '/v1/forward', {
    ...hpkeReq,
    sealedKeys: (await request()).sealedKeys,
    recipients: [certificatePem(projectors.projectors[0]!.certificate.der)],
    intermediates: [certificatePem(projectors.intermediate.der)],
  });
  assert.ok(mixed.statusCode >= 400 && mixed.statusCode < 500, mixed.body);
  assert.equal(mixed.json().code, 'FORWARD_RECIPIENT_NOT_ALLOWED');
  assert.equal(mixed.json().outputs, undefined);

  // restart: the same KDM signer chain and receipt key come back sealed
  const b = await boot();
  const again = (await post(b, '/v1/identity', id.stored)).json() as { identity: typeof id.identity };
  assert.deepEqual(again.identity, id.identity);
  const r2 = await post(b, '/v1/forward', await request());
  assert.equal(r2.statusCode, 200, r2.body.slice(0, 300));
  await a.stop();
  await b.stop();
});
