/**
 * Forward requests from the attacker's side: each bad input is refused with a coded EnclaveError
 * before anything is emitted, no content key appears in any error, and the same enclave keys then
 * serve a good request. Also the raw RSA-OAEP-SHA256 output for non-DCI receivers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createHash, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import {
  buildDcCertificate,
  canonicalize,
  certificatePem,
  certificateThumbprint,
  decodeKeyBlock,
  kdmSigner,
} from '#verifier/build';
import { openRawRsaOaepDelivery, parseDcCertificate, VerifierError, type VerifierErrorCode } from '#verifier';
import {
  EnclaveError,
  MemoryReplayGuard,
  createProjectorPki,
  createSignerChain,
  forward,
  forwardRequestDigest,
  openForwardRequest,
  type EnclaveErrorCode,
} from '../enclave/index.ts';
import { DAY, ctx, isoZ, leaks, request, rules, sealed, world, type World } from './forward-fixtures.ts';

const w: World = await world(3);
const errors: string[] = [];

/** Refused with `code` (the enclave's, or the verifier's own kept end to end), nothing emitted, no key in the error. */
async function refused(
  body: unknown,
  code: EnclaveErrorCode | VerifierErrorCode,
  c = ctx(w),
): Promise<EnclaveError | VerifierError> {
  let emitted = 0;
  try {
    const opened = await openForwardRequest(body, c);
    await forward(opened, w.enclave.keys, () => emitted++);
  } catch (e) {
    assert.ok(e instanceof EnclaveError || e instanceof VerifierError, String(e));
    assert.equal(e.code, code, e.message);
    assert.equal(emitted, 0);
    const text = JSON.stringify(e.toJSON()) + String(e.stack);
    errors.push(text);
    assert.ok(!leaks(w, text), 'an error leaks a content key');
    return e;
  }
  assert.fail(`expected ${code}`);
}

async function serves(): Promise<void> {
  const out: number[] = [];
  await forward(await openForwardRequest(await request(w), ctx(w)), w.enclave.keys, (o) => out.push(o.index));
  assert.deepEqual(out, [0, 1, 2]);
}

const pemOf = (der: Uint8Array) => certificatePem(der);

test('a projector outside the rules refuses the whole request, naming it', async () => {
  const other = createProjectorPki({ count: 1, maker: 'OTHER-MAKER', now: w.now });
  const recipients = [
    ...w.pki.projectors.map((p) => pemOf(p.certificate.der)),
    pemOf(other.projectors[0]!.certificate.der),
  ];
  const e = await refused(await request(w, { recipients }), 'FORWARD_RECIPIENT_NOT_ALLOWED');
  assert.equal(e.evidence.index, 3);
  assert.equal(e.evidence.thumbprint, certificateThumbprint(other.projectors[0]!.certificate));
  // excluded by thumbprint
  const t0 = certificateThumbprint(w.pki.projectors[1]!.certificate);
  const r = rules(w, { recipients: { ...rules(w).recipients, excluded: [t0] } });
  assert.equal((await refused(await request(w, { rules: r }), 'FORWARD_RECIPIENT_NOT_ALLOWED')).evidence.index, 1);
  // listed twice
  await refused(
    await request(w, {
      recipients: [pemOf(w.pki.projectors[0]!.certificate.der), pemOf(w.pki.projectors[0]!.certificate.der)],
    }),
    'FORWARD_RECIPIENT_NOT_ALLOWED',
  );
  await serves();
});

test('rules: another signer, expired, not yet valid; sealed keys: another PCR0, another studio key, keys not in the rules', async () => {
  const intruder = generateKeyPairSync('ed25519');
  await refused(await request(w, { signWith: intruder.privateKey }), 'RULES_SIGNATURE');
  // sealed under the intruder's studio key: only rules the intruder signs would open it, and ours do not verify
  await refused(
    await request(w, {
      sealedKeys: await sealed(w, { rulesKey: intruder.publicKey.export({ type: 'spki', format: 'pem' }).toString() }),
    }),
    'RULES_SIGNATURE',
  );
  for (const at of [w.now.getTime() + 11 * DAY, w.now.getTime() - 2 * DAY])
    await refused(await request(w, { expires: isoZ(at + 3600_000) }), 'RULES_EXPIRED', ctx(w, new Date(at)));
  await refused(
    await request(w, { sealedKeys: await sealed(w, { pcr0: new Uint8Array(48).fill(1) }) }),
    'SEALED_BINDING',
  );
  const j = JSON.parse(await sealed(w));
  j.ciphertext = Buffer.from(Buffer.from(j.ciphertext, 'base64').map((b, i) => (i === 0 ? b ^ 1 : b))).toString(
    'base64',
  );
  await refused(await request(w, { sealedKeys: JSON.stringify(j) }), 'SEALED_BINDING');
  await refused(await request(w, { sealedKeys: '{"type":"nope"}' }), 'SEALED_INVALID');
  await refused(
    await request(w, { rules: rules(w, { contentKeyIds: ['urn:uuid:99999999-2222-4333-8444-555555555555'] }) }),
    'FORWARD_KEYS_MISMATCH',
  );
  await refused(
    await request(w, {
      rules: rules(w, { film: { cplId: 'urn:uuid:99999999-2222-4333-8444-555555555555', title: 'x' } }),
    }),
    'FORWARD_KEYS_MISMATCH',
  );
  await serves();
});

test('recipient certificates: malformed, expired, wrong key size, self-signed outside the roots', async () => {
  await refused(
    await request(w, { recipients: ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'] }),
    'FORWARD_RECIPIENT_INVALID',
  );
  await refused(await request(w, { recipients: ['not a certificate'] }), 'FORWARD_RECIPIENT_INVALID');
  const truncated = Buffer.from(w.pki.projectors[0]!.certificate.der.subarray(0, 300)).toString('base64');
  await refused(await request(w, { recipients: [truncated] }), 'FORWARD_RECIPIENT_INVALID');
  // expired: a PKI made six years ago (5-year leaves), listed explicitly by thumbprint
  const old = createProjectorPki({ count: 1, now: new Date(w.now.getTime() - 6 * 365 * DAY) });
  const oldLeaf = old.projectors[0]!.certificate;
  const r = rules(w, {
    recipients: { thumbprints: [certificateThumbprint(oldLeaf)], roots: [], excluded: [], roles: ['SM', 'RX'] },
  });
  assert.equal(
    (await refused(await request(w, { rules: r, recipients: [pemOf(oldLeaf.der)] }), 'FORWARD_RECIPIENT_NOT_ALLOWED'))
      .evidence.cause,
    'CERT_VALIDITY',
  );
  // expiring before the KDM window ends
  const short = createProjectorPki({ count: 1, now: w.now, days: 5 });
  const r2 = rules(w, {
    recipients: {
      thumbprints: [certificateThumbprint(short.projectors[0]!.certificate)],
      roots: [],
      excluded: [],
      roles: ['SM', 'RX'],
    },
  });
  assert.equal(
    (
      await refused(
        await request(w, { rules: r2, recipients: [pemOf(short.projectors[0]!.certificate.der)] }),
        'FORWARD_RECIPIENT_NOT_ALLOWED',
      )
    ).evidence.cause,
    'CERT_VALIDITY',
  );
  // 1024-bit leaf under a root the rules allow
  const weak = createProjectorPki({ count: 1, now: w.now, leafBits: 1024 });
  const r3 = rules(w, {
    recipients: {
      thumbprints: [],
      roots: [Buffer.from(weak.root.der).toString('base64')],
      excluded: [],
      roles: ['SM', 'RX'],
    },
  });
  assert.equal(
    (
      await refused(
        await request(w, { rules: r3, recipients: [pemOf(weak.projectors[0]!.certificate.der)] }),
        'FORWARD_RECIPIENT_NOT_ALLOWED',
      )
    ).evidence.cause,
    'CERT_PROFILE',
  );
  // self-signed SM leaf outside the allowed roots
  const k = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const self = buildDcCertificate({
    subject: { O: 'ROGUE.COM', OU: 'Rogue', CN: 'LE SPB MD SM.ROGUE-1.ROGUE' },
    serial: 77n,
    notBefore: new Date(Math.floor(w.now.getTime() / 1000) * 1000 - DAY),
    notAfter: new Date(Math.floor(w.now.getTime() / 1000) * 1000 + 900 * DAY),
    publicKey: k.publicKey,
    issuerPrivateKey: k.privateKey,
    ca: false,
    keyUsage: ['digitalSignature', 'keyEncipherment'],
  });
  assert.equal(parseDcCertificate(self).subject.includes('ROGUE'), true);
  assert.equal(
    (await refused(await request(w, { recipients: [pemOf(self)] }), 'FORWARD_RECIPIENT_NOT_ALLOWED')).evidence.cause,
    'CERT_CHAIN',
  );
  await serves();
});

test('the request digest is SHA-256 of the canonical JSON request', async () => {
  const body = await request(w);
  const expected = createHash('sha256')
    .update(
      canonicalize({
        ...body,
        recipients: [...body.recipients.slice(0, 2), new Uint8Array(w.pki.root.der)].map((c) =>
          typeof c === 'string' ? c : Buffer.from(c).toString('base64'),
        ),
      }),
    )
    .digest('hex');
  assert.equal(
    forwardRequestDigest({ ...body, recipients: [...body.recipients.slice(0, 2), new Uint8Array(w.pki.root.der)] }),
    expected,
  );
});

test('oversized requests, malformed bodies and replays', async () => {
  await refused(
    await request(w, { rules: rules(w, { limits: { maxKdmValidityDays: 30, maxRecipients: 2 } }) }),
    'FORWARD_OVERSIZED',
  );
  // the request parser's own codes, kept (one name per refusal)
  await refused({ ...(await request(w)), recipients: new Array(100_001).fill('x') }, 'OVERSIZED');
  await refused({ ...(await request(w)), extra: 1 }, 'MALFORMED');
  await refused({ ...(await request(w)), format: 'pdf' }, 'MALFORMED');
  await refused(null, 'MALFORMED');
  await refused({ ...(await request(w)), recipients: [] }, 'MALFORMED');
  const replay = new MemoryReplayGuard();
  const body = await request(w);
  const c = { ...ctx(w), replay };
  await forward(await openForwardRequest(body, c), w.enclave.keys, () => {});
  await refused(body, 'FORWARD_REPLAY', c);
  await serves();
});

test('a KDM signer chain that does not cover the window emits nothing', async () => {
  const old = createSignerChain({ now: new Date(w.now.getTime() - 3640 * DAY) }); // expires in ~8 days, before the window ends
  const opened = await openForwardRequest(await request(w), ctx(w));
  let emitted = 0;
  await assert.rejects(
    forward(opened, { ...w.enclave.keys, signer: kdmSigner(old.chain, old.privateKey) }, () => emitted++),
    (e) => e instanceof EnclaveError && e.code === 'FORWARD_SIGNER_VALIDITY',
  );
  assert.equal(emitted, 0);
});

test('raw RSA-OAEP-SHA256 output decrypts with the projector key to the keys sent', async () => {
  const outs: Uint8Array[] = [];
  await forward(await openForwardRequest(await request(w, { format: 'raw-rsa-oaep' }), ctx(w)), w.enclave.keys, (o) =>
    outs.push(o.bytes),
  );
  assert.equal(outs.length, 3);
  for (const [i, b] of outs.entries()) {
    assert.ok(!leaks(w, b));
    const doc = JSON.parse(Buffer.from(b).toString('utf8'));
    const got = doc.keys.map((k: { ciphertext: string }) =>
      decodeKeyBlock(
        new Uint8Array(
          privateDecrypt(
            { key: w.pki.projectors[i]!.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
            Buffer.from(k.ciphertext, 'base64'),
          ),
        ),
      ),
    );
    assert.deepEqual(
      got.map((g: { key: Uint8Array }) => Buffer.from(g.key).toString('hex')),
      w.contentKeys.map((k) => Buffer.from(k.key).toString('hex')),
    );
    // and the format's own reader (verifier/src/forward/raw-rsa-oaep.ts) agrees
    const opened = openRawRsaOaepDelivery(b, w.pki.projectors[i]!.privateKey, {
      recipient: certificateThumbprint(w.pki.projectors[i]!.certificate),
    });
    assert.deepEqual(
      opened.keys.map((g) => Buffer.from(g.key).toString('hex')),
      w.contentKeys.map((k) => Buffer.from(k.key).toString('hex')),
    );
  }
  assert.ok(errors.length > 10);
});
