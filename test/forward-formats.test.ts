/**
 * The output-format contract (verifier/src/forward/formats/format.ts), for every registered
 * format through the one engine loop: each recipient's output opens with the format's own
 * `open` and the receiver's key to exactly the keys sent, the engine's deliveries are the
 * receipt's leaves in request order, `hooks.built` runs after every output and before the
 * receipt (a throw there refuses the request), a format's prepared key material is zeroed when
 * the loop is done, and each format's recipient contract refuses the other formats' receivers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FORMAT_NAMES, checkDelivery, openReceipt } from '#verifier';
import { DELIVERY_FORMATS, certificatePem, deliveryFormat, sha256, type DeliveryFormat } from '#verifier/build';
import { EnclaveError, createProjectorPki, forward, openForwardRequest, type ForwardOutput } from '../enclave/index.ts';
import { CPL, ctx, leaks, request, rules, world, type World } from './forward-fixtures.ts';

const w: World = await world(2);
const rx = createProjectorPki({ count: 2, maker: 'RX-MAKER', keyType: 'x25519', now: w.now });
const bothRoots = rules(w, {
  recipients: {
    thumbprints: [],
    roots: [w.pki.root, rx.root].map((c) => Buffer.from(c.der).toString('base64')),
    excluded: [],
    roles: ['SM', 'RX'],
  },
});
/** the receivers of a format: RSA projectors, or X25519 receivers for a format whose key type is X25519 */
const receivers = (f: DeliveryFormat) =>
  (f.open.keyType === 'x25519' ? rx : w.pki).projectors.map((p) => ({
    pem:
      certificatePem(p.certificate.der) + certificatePem((f.open.keyType === 'x25519' ? rx : w.pki).intermediate.der),
    key: p.privateKey,
  }));
const receiptKey = () => w.enclave.receipt.publicKey.export({ type: 'spki', format: 'der' });

test('the registry: one module per format name, in FORMAT_NAMES order, each found by its name', () => {
  assert.deepEqual(
    DELIVERY_FORMATS.map((f) => f.name),
    [...FORMAT_NAMES],
  );
  for (const n of FORMAT_NAMES) assert.equal(deliveryFormat(n).name, n);
  assert.throws(
    () => deliveryFormat('raw-aes' as never),
    (e: Error & { code?: string }) => e.code === 'MALFORMED',
  );
  assert.throws(
    () => deliveryFormat('__proto__' as never),
    (e: Error & { code?: string }) => e.code === 'MALFORMED',
  );
});

for (const f of DELIVERY_FORMATS) {
  test(`${f.name}: every output opens with the format's own open, deliveries are the receipt's leaves in order`, async () => {
    const who = receivers(f);
    const body = await request(w, { rules: bothRoots, recipients: who.map((r) => r.pem), format: f.name });
    const opened = await openForwardRequest(body, ctx(w));
    const outs: ForwardOutput[] = [];
    const order: string[] = [];
    const r = await forward(
      opened,
      w.enclave.keys,
      (o) => {
        outs.push(o);
        order.push(`emit ${o.index}`);
      },
      {
        built: (d) => {
          order.push(`built ${d.length}`);
        },
      },
    );
    assert.deepEqual(order, ['emit 0', 'emit 1', 'built 2']);
    const receipt = openReceipt(r.receipt, receiptKey());
    assert.equal(receipt.format, f.name);
    assert.deepEqual(
      r.deliveries.map((d) => [d.index, d.thumbprint, d.subject, Buffer.from(d.outputDigest).toString('hex')]),
      outs.map((o) => [o.index, o.thumbprint, o.subject, Buffer.from(sha256(o.bytes)).toString('hex')]),
    );
    for (const [i, o] of outs.entries()) {
      assert.equal(o.format, f.name);
      assert.ok(!leaks(w, o.bytes), `a ${f.name} output carries a content key in the clear`);
      checkDelivery(receipt, r.prove(i), o.bytes);
      const got = await f.open.run(o.bytes, who[i]!.key, {
        recipient: o.thumbprint,
        cplId: CPL,
        requestDigest: opened.requestDigest,
      });
      assert.equal(got.cplId, CPL);
      assert.deepEqual(
        got.keys.map((k) => [k.keyId, k.keyType, Buffer.from(k.key).toString('hex')]),
        w.contentKeys.map((k) => [k.id, k.type, Buffer.from(k.key).toString('hex')]),
      );
      // another receiver's key does not open it
      await assert.rejects(
        f.open.run(o.bytes, who[(i + 1) % who.length]!.key, {
          recipient: o.thumbprint,
          cplId: CPL,
          requestDigest: opened.requestDigest,
        }),
        (e: Error & { code?: string }) => typeof e.code === 'string' && e.name === 'VerifierError',
      );
    }
  });
}

test('hooks.built runs before the receipt: a throw there refuses the request, nothing is signed', async () => {
  const opened = await openForwardRequest(await request(w), ctx(w));
  let emitted = 0;
  await assert.rejects(
    forward(opened, w.enclave.keys, () => emitted++, {
      built: async () => {
        throw new EnclaveError('STORE_FAILED', 'the transparency log did not take the deliveries');
      },
    }),
    (e) => e instanceof EnclaveError && e.code === 'STORE_FAILED',
  );
  assert.equal(emitted, 2); // built into the caller's sink, which the caller then drops
});

test("a prepared format's key blocks are zeroed by its wipe (the engine's loop calls it when done)", async () => {
  for (const f of DELIVERY_FORMATS.filter((f) => !f.signed)) {
    const keys = w.contentKeys.map((k) => ({ ...k, key: k.key.slice() }));
    const p = f.prepare({
      cplId: CPL,
      title: 't',
      keys,
      notBefore: bothRoots.kdmWindow.notBefore,
      notAfter: bothRoots.kdmWindow.notAfter,
      requestDigest: 'ab'.repeat(32),
      now: w.now,
      signer: w.enclave.signer,
    });
    const to = receivers(f)[0]!;
    const p0 = (f.open.keyType === 'x25519' ? rx : w.pki).projectors[0]!;
    const r = { certificate: p0.certificate, thumbprint: Buffer.from(p0.certificate.thumbprint).toString('base64') };
    const expected = { recipient: r.thumbprint, cplId: CPL, requestDigest: 'ab'.repeat(32) };
    const before = await f.open.run(await p.deliver(r), to.key, expected);
    assert.equal(before.keys.length, 2);
    p.wipe();
    // sealed after the wipe: zero blocks, which no longer decode as key blocks
    await assert.rejects(
      f.open.run(await p.deliver(r), to.key, expected),
      (e: Error & { code?: string }) => e.code === 'RAW_DELIVERY_BINDING',
    );
    // the caller's content keys are the caller's to wipe
    assert.deepEqual(
      keys.map((k) => Buffer.from(k.key).toString('hex')),
      w.contentKeys.map((k) => Buffer.from(k.key).toString('hex')),
    );
  }
});

test("each format's recipient contract refuses the other key type's receivers, naming them", async () => {
  for (const f of DELIVERY_FORMATS) {
    const wrong = f.open.keyType === 'x25519' ? w.pki.projectors[0]! : rx.projectors[0]!;
    const reason = f.recipients.dci ? 'dci' : f.recipients.refuse?.(wrong.certificate);
    assert.ok(reason, `${f.name} accepts a receiver of the other key type`);
    const body = await request(w, {
      rules: bothRoots,
      recipients: [certificatePem(wrong.certificate.der)],
      format: f.name,
    });
    await assert.rejects(
      openForwardRequest(body, ctx(w)),
      (e) =>
        e instanceof EnclaveError &&
        e.code === 'FORWARD_RECIPIENT_NOT_ALLOWED' &&
        e.evidence.index === 0 &&
        e.evidence.subject === wrong.certificate.subject,
    );
  }
});
