/**
 * The raw-hpke output for non-DCI receivers with X25519 certificates: each receiver opens exactly
 * the keys sent, the receipt covers every delivery, and a certificate of the wrong kind (an RSA
 * D-cinema certificate in a raw-hpke request, an X25519 certificate in a KDM request) refuses the
 * whole request with a coded error naming it, before anything is emitted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkDelivery, openRawHpkeDelivery, openReceipt } from '#verifier';
import { certificatePem, certificateThumbprint } from '#verifier/build';
import { EnclaveError, createProjectorPki, forward, openForwardRequest, type ForwardOutput } from '../enclave/index.ts';
import { CPL, ctx, leaks, request, rules, world, type World } from './forward-fixtures.ts';

const w: World = await world(1);
const rx = createProjectorPki({ count: 3, maker: 'RX-MAKER', keyType: 'x25519', now: w.now });
const bothRoots = rules(w, {
  recipients: {
    thumbprints: [],
    roots: [w.pki.root, rx.root].map((c) => Buffer.from(c.der).toString('base64')),
    excluded: [],
    roles: ['SM', 'RX'],
  },
});
const rxPem = (i: number) => certificatePem(rx.projectors[i]!.certificate.der) + certificatePem(rx.intermediate.der);
const rsaPem = certificatePem(w.pki.projectors[0]!.certificate.der);

test('raw-hpke: three X25519 receivers each open exactly the keys sent, under a receipt that covers them', async () => {
  const body = await request(w, { rules: bothRoots, recipients: [0, 1, 2].map(rxPem), format: 'raw-hpke' });
  const opened = await openForwardRequest(body, ctx(w));
  const outs: ForwardOutput[] = [];
  const r = await forward(opened, w.enclave.keys, (o) => outs.push(o));
  assert.deepEqual(
    outs.map((o) => [o.index, o.format, o.thumbprint]),
    rx.projectors.map((p, i) => [i, 'raw-hpke', certificateThumbprint(p.certificate)]),
  );
  const receipt = openReceipt(r.receipt, w.enclave.receipt.publicKey.export({ type: 'spki', format: 'der' }));
  assert.equal(receipt.format, 'raw-hpke');
  assert.equal(receipt.recipients, 3);
  for (const [i, o] of outs.entries()) {
    assert.ok(!leaks(w, o.bytes), 'a raw-hpke output carries a content key in the clear');
    checkDelivery(receipt, r.prove(i), o.bytes);
    const got = await openRawHpkeDelivery(o.bytes, rx.projectors[i]!.privateKey, {
      recipient: o.thumbprint,
      cplId: CPL,
      requestDigest: opened.requestDigest,
    });
    assert.deepEqual(
      got.keys.map((k) => [k.keyId, k.keyType, Buffer.from(k.key).toString('hex')]),
      w.contentKeys.map((k) => [k.id, k.type, Buffer.from(k.key).toString('hex')]),
    );
    // not for the next receiver
    await assert.rejects(
      openRawHpkeDelivery(o.bytes, rx.projectors[(i + 1) % 3]!.privateKey, {
        recipient: o.thumbprint,
        cplId: CPL,
        requestDigest: opened.requestDigest,
      }),
      (e: Error & { code?: string }) => e.code === 'RAW_DELIVERY_BINDING',
    );
  }
});

async function refusedNaming(body: unknown, index: number, subject: string): Promise<void> {
  let emitted = 0;
  await assert.rejects(
    (async () => {
      const opened = await openForwardRequest(body, ctx(w));
      const emit = () => emitted++;
      await forward(opened, w.enclave.keys, emit);
    })(),
    (e) =>
      e instanceof EnclaveError &&
      e.code === 'FORWARD_RECIPIENT_NOT_ALLOWED' &&
      e.evidence.index === index &&
      e.evidence.subject === subject &&
      e.message.includes(subject),
  );
  assert.equal(emitted, 0);
}

test('raw-hpke: an RSA D-cinema certificate in a raw-hpke request is refused, naming it; nothing emitted', async () => {
  await refusedNaming(
    await request(w, { rules: bothRoots, recipients: [rxPem(0), rsaPem, rxPem(1)], format: 'raw-hpke' }),
    1,
    w.pki.projectors[0]!.certificate.subject,
  );
  // listed by thumbprint instead of chained: the same refusal
  const listed = rules(w, {
    recipients: {
      thumbprints: [certificateThumbprint(w.pki.projectors[0]!.certificate)],
      roots: [],
      excluded: [],
      roles: ['SM', 'RX'],
    },
  });
  await refusedNaming(
    await request(w, { rules: listed, recipients: [rsaPem], format: 'raw-hpke' }),
    0,
    w.pki.projectors[0]!.certificate.subject,
  );
});

test('an X25519 certificate in a KDM (or raw-rsa-oaep) request is refused, naming it; nothing emitted', async () => {
  for (const format of ['kdm', 'raw-rsa-oaep'] as const)
    await refusedNaming(
      await request(w, { rules: bothRoots, recipients: [rsaPem, rxPem(2)], format }),
      1,
      rx.projectors[2]!.certificate.subject,
    );
  const listed = rules(w, {
    recipients: {
      thumbprints: [certificateThumbprint(rx.projectors[0]!.certificate)],
      roots: [],
      excluded: [],
      roles: ['SM', 'RX'],
    },
  });
  await refusedNaming(
    await request(w, { rules: listed, recipients: [rxPem(0)], format: 'kdm' }),
    0,
    rx.projectors[0]!.certificate.subject,
  );
});
