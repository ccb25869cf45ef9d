/**
 * The studio tools end to end through `keycast`: dev certs → rules sign → seal (to a simulated,
 * attested enclave) → the forwarding core → kdm inspect (decrypts with a projector key) →
 * receipt verify (with the attested receipt key, and one delivery's inclusion proof). A bare key
 * given as --enclave is refused: the enclave key must come inside a verified attestation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseDcCertificate, verifyDcChain } from '#verifier';
import { formatEnclaveKeys, generateHpkeKeyPair, kdmSigner, pemCertificates } from '#verifier/build';
import { Measurement } from '#verifier';
import { SimulatedNsm, createSignerChain, createTestPki, forward, openForwardRequest } from '../enclave/index.ts';
import { CPL, KEY_IDS, isoZ, kdmT, DAY } from './forward-fixtures.ts';
import { runKeycast } from '../cli/index.ts';

/** `keycast ARGS` in this process (cli/main.ts, as the binary runs it), its output captured. */
const keycast = runKeycast;

test('studio tools: dev certs, rules sign, seal, kdm inspect, receipt verify', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'forward-cli-'));
  try {
    const f = (n: string) => join(dir, n);
    let r = await keycast(['dev', 'certs', '--projectors', '2', '--key-pool', '1', '--out', f('pki')]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(f('pki/projectors')).sort(), ['000001.key', '000001.pem', '000002.key', '000002.pem']);
    const recipients = JSON.parse(readFileSync(f('pki/recipients.json'), 'utf8'));

    // the enclave: HPKE + receipt keys bound in an attestation from the simulated NSM
    const hpke = await generateHpkeKeyPair();
    const receiptKey = generateKeyPairSync('ed25519');
    const pcr0 = randomBytes(48).toString('hex');
    const nsmPki = createTestPki();
    const nsm = new SimulatedNsm({
      pki: nsmPki,
      pcrs: { pcr0, pcr1: randomBytes(48).toString('hex'), pcr2: randomBytes(48).toString('hex') },
    });
    writeFileSync(
      f('att.cbor'),
      await nsm.attestation({ publicKey: formatEnclaveKeys(hpke.publicKey, receiptKey.publicKey) }),
    );
    writeFileSync(f('nitro-root.pem'), nsmPki.rootPem);

    const studio = generateKeyPairSync('ed25519');
    writeFileSync(f('studio.key'), studio.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(f('studio.pub'), studio.publicKey.export({ type: 'spki', format: 'pem' }));
    const t = Date.now();
    writeFileSync(
      f('rules.json'),
      JSON.stringify({
        type: 'keycast-forward-rules/v2',
        film: { cplId: CPL, title: 'CLI Film' },
        contentKeyIds: KEY_IDS,
        kdmWindow: { notBefore: kdmT(t + DAY), notAfter: kdmT(t + 8 * DAY) },
        forwardFrom: isoZ(t - DAY),
        forwardUntil: isoZ(t + 5 * DAY),
        recipients: { thumbprints: [], roots: recipients.roots, excluded: [], roles: ['SM', 'RX'] },
        formats: ['kdm', 'raw-rsa-oaep', 'raw-hpke'],
        limits: { maxKdmValidityDays: 14, maxRecipients: 10 },
      }),
    );
    r = await keycast(['rules', 'sign', f('rules.json'), '--key', f('studio.key'), '--out', f('rules.dsse')]);
    assert.equal(r.code, 0, r.stderr);
    writeFileSync(
      f('bad-rules.json'),
      JSON.stringify({ ...JSON.parse(readFileSync(f('rules.json'), 'utf8')), extra: true }),
    );
    assert.equal(
      (await keycast(['rules', 'sign', f('bad-rules.json'), '--key', f('studio.key'), '--out', f('x')])).code,
      1,
    );

    const keyHex = [randomBytes(16).toString('hex'), randomBytes(16).toString('hex')];
    writeFileSync(
      f('keys.json'),
      JSON.stringify({
        cplId: CPL,
        keys: [
          { id: KEY_IDS[0], type: 'MDIK', key: keyHex[0] },
          { id: KEY_IDS[1], type: 'MDAK', key: keyHex[1] },
        ],
      }),
    );
    r = await keycast([
      'seal',
      '--enclave',
      f('att.cbor'),
      '--trust-root',
      f('nitro-root.pem'),
      '--expect-pcr0',
      pcr0,
      '--keys',
      f('keys.json'),
      '--rules-key',
      f('studio.pub'),
      '--rules',
      f('rules.dsse'),
      '--out',
      f('sealed.json'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const sealedText = readFileSync(f('sealed.json'), 'utf8');
    assert.ok(!keyHex.some((k) => sealedText.includes(k)));
    // a bare key file is not an attested enclave key; an attestation from an untrusted root is refused too;
    // and without a PCR policy seal does not run at all (issue 16 item 5)
    writeFileSync(f('bare.key'), Buffer.from(hpke.publicKey).toString('hex'));
    assert.equal(
      (
        await keycast([
          'seal',
          '--enclave',
          f('bare.key'),
          '--expect-pcr0',
          pcr0,
          '--keys',
          f('keys.json'),
          '--rules-key',
          f('studio.pub'),
          '--rules',
          f('rules.dsse'),
          '--out',
          f('x'),
        ])
      ).code,
      1,
    );
    assert.equal(
      (
        await keycast([
          'seal',
          '--enclave',
          f('att.cbor'),
          '--expect-pcr0',
          pcr0,
          '--keys',
          f('keys.json'),
          '--rules-key',
          f('studio.pub'),
          '--rules',
          f('rules.dsse'),
          '--out',
          f('x'),
        ])
      ).code,
      1,
    );

    const noPolicy = await keycast([
      'seal',
      '--enclave',
      f('att.cbor'),
      '--trust-root',
      f('nitro-root.pem'),
      '--keys',
      f('keys.json'),
      '--rules-key',
      f('studio.pub'),
      '--rules',
      f('rules.dsse'),
      '--out',
      f('x'),
    ]);
    assert.equal(noPolicy.code, 2, noPolicy.stderr);
    assert.match(noPolicy.stderr, /no PCR policy/);

    // the enclave side: the forwarding core
    const sc = createSignerChain();
    const opened = await openForwardRequest(
      {
        sealedKeys: sealedText,
        rules: readFileSync(f('rules.dsse'), 'utf8'),
        recipients: ['000001', '000002'].map((n) => readFileSync(f(`pki/projectors/${n}.pem`), 'utf8')),
        intermediates: [readFileSync(f('pki/maker-ca.pem'), 'utf8')],
        expires: isoZ(Date.now() + 3600_000),
      },
      { hpkePrivateKey: hpke.privateKey, pcr0: Measurement.fromHex(pcr0), now: new Date() },
    );
    const outs: Uint8Array[] = [];
    const result = await forward(
      opened,
      {
        signer: kdmSigner(sc.chain, sc.privateKey),
        receiptKey: receiptKey.privateKey,
        pcr0: Measurement.fromHex(pcr0),
      },
      (o) => outs.push(o.bytes),
    );
    writeFileSync(f('kdm1.xml'), outs[1]!);
    writeFileSync(f('kdm0.xml'), outs[0]!);
    writeFileSync(f('proof1.json'), JSON.stringify(result.prove(1)));
    writeFileSync(f('receipt.json'), result.receipt);

    r = await keycast(['kdm', 'inspect', f('kdm1.xml'), '--key', f('pki/projectors/000002.key'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const view = JSON.parse(r.stdout);
    assert.equal(view.signature, 'verified');
    assert.equal(view.cplId, CPL);
    assert.deepEqual(
      view.keys.map((k: { key: string }) => k.key),
      keyHex,
    );
    r = await keycast([
      'receipt',
      'verify',
      f('receipt.json'),
      '--enclave',
      f('att.cbor'),
      '--trust-root',
      f('nitro-root.pem'),
      '--delivery',
      f('kdm1.xml'),
      '--proof',
      f('proof1.json'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /delivery #1/);
    assert.equal(
      (
        await keycast([
          'receipt',
          'verify',
          f('receipt.json'),
          '--enclave',
          f('att.cbor'),
          '--trust-root',
          f('nitro-root.pem'),
          '--delivery',
          f('kdm0.xml'),
          '--proof',
          f('proof1.json'),
        ])
      ).code,
      1,
    );
    assert.equal((await keycast(['receipt', 'verify', f('receipt.json'), '--receipt-key', f('studio.pub')])).code, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dev certs --key-type x25519: raw-hpke receivers with X25519 leaves under the maker root', {
  timeout: 120_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'forward-cli-x25519-'));
  try {
    const f = (n: string) => join(dir, n);
    assert.equal(
      (await keycast(['dev', 'certs', '--projectors', '1', '--key-type', 'dsa', '--out', f('bad')])).code,
      2,
    );
    const r = await keycast(['dev', 'certs', '--projectors', '2', '--key-type', 'x25519', '--out', f('pki')]);
    assert.equal(r.code, 0, r.stderr);
    const cert = (n: string) => parseDcCertificate(pemCertificates(readFileSync(f(n), 'utf8'))[0]!);
    const [root, ca] = [cert('pki/maker-root.pem'), cert('pki/maker-ca.pem')];
    for (const n of ['000001', '000002']) {
      const leaf = cert(`pki/projectors/${n}.pem`);
      assert.equal(leaf.keyType, 'x25519');
      assert.match(leaf.subject, /CN=RX\./);
      const key = createPrivateKey(readFileSync(f(`pki/projectors/${n}.key`)));
      assert.equal(key.asymmetricKeyType, 'x25519');
      assert.ok(
        createPublicKey(key)
          .export({ format: 'der', type: 'spki' })
          .equals(leaf.publicKey.export({ format: 'der', type: 'spki' })),
      );
      assert.equal(
        verifyDcChain(leaf, { intermediates: [ca], roots: [root], at: new Date(), profile: false }).length,
        3,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
