/**
 * The identity's KDM decryption certificate (the DKDM recipient): an ST 430-2 CA:false leaf with
 * its own RSA-2048 key under the enclave's own root, sealed with the rest of the identity and
 * identical after unsealing, bound into the attestation by the SHA-256 of its DER. A chain the
 * binding does not name, or one that does not end in the signer chain's root, is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { checkDcProfile, checkEnclaveCertificates, isVerifierError, parseIdentityBinding } from '#verifier';
import { formatIdentityBinding, nameValue, publicKeyThumbprint, OID_SHA256_RSA } from '#verifier/build';
import { generateIdentity, publicIdentity } from '../runtime/identity/keys.ts';
import { sealIdentity, unsealIdentity } from '../runtime/identity/seal.ts';
import { createEnclaveChains } from '../runtime/forward/pki.ts';
import { SimulatedNsm, bootEnclave, createTestPki, isEnclaveError, type KmsPort } from '../index.ts';
import type { Nsm } from '../runtime/nsm/types.ts';
import { NsmClient } from '../index.ts';
import { measurements } from '#test-kit';

const id = generateIdentity({ release: '0123456789abcdef' });
const pub = publicIdentity(id);
const binding = () => parseIdentityBinding(formatIdentityBinding(pub), pub.hpkeX25519);
const der = (c: { chain: Array<{ der: Uint8Array }> }) => c.chain.map((x) => x.der);

test('the decryption certificate is an ST 430-2 leaf under the enclave root, apart from the signer', () => {
  const [leaf, intermediate, root] = id.dkdm.chain;
  assert.ok(leaf && intermediate && root);
  checkDcProfile(leaf, 'leaf');
  assert.equal(leaf.basicConstraints?.ca, false);
  assert.deepEqual([...leaf.keyUsage!.usages].sort(), ['digitalSignature', 'keyEncipherment']);
  assert.ok(leaf.hasSki && leaf.hasAki);
  assert.equal(leaf.signatureAlgorithm, OID_SHA256_RSA);
  assert.equal(leaf.modulusBits, 2048);
  assert.equal(leaf.exponent, 65537n);
  assert.equal(nameValue(leaf.subjectRdns, 'dnQualifier'), publicKeyThumbprint(leaf.pkcs1));
  assert.equal(nameValue(leaf.subjectRdns, 'O'), 'keycast.enclave');
  assert.equal(nameValue(leaf.subjectRdns, 'OU'), 'Keycast forwarding enclave');
  assert.equal(nameValue(leaf.subjectRdns, 'CN'), 'SM.keycast.enclave.dkdm-recipient.0123456789abcdef');
  // same CAs as the signer chain, its own key
  assert.equal(root.der, id.kdm.chain[2]!.der);
  assert.equal(intermediate.der, id.kdm.chain[1]!.der);
  assert.notDeepEqual(leaf.pkcs1, id.kdm.chain[0]!.pkcs1);
  assert.deepEqual(
    createPublicKey(id.dkdm.privateKey).export({ type: 'pkcs1', format: 'der' }),
    Buffer.from(leaf.pkcs1),
  );
  // valid for as long as the signer leaf: the whole period the service issues windows in
  assert.equal(leaf.notAfter.getTime(), id.kdm.chain[0]!.notAfter.getTime());
  assert.ok(leaf.notAfter.getTime() - Date.now() > 9.9 * 365 * 86_400_000);
  assert.deepEqual(pub.kdmDecryptionSha256, new Uint8Array(createHash('sha256').update(leaf.der).digest()));
  const b = binding();
  assert.deepEqual(b.kdmDecryptionSha256, pub.kdmDecryptionSha256);
  const ok = checkEnclaveCertificates(b, der(id.kdm), der(id.dkdm), new Date());
  assert.equal(ok.decryptionChain[0]!.subject, leaf.subject);
});

test('sealed and unsealed, the decryption certificate and key are the same', () => {
  const dataKey = new Uint8Array(randomBytes(32));
  const genesis = { document: new Uint8Array([1, 2, 3]), entry: new Uint8Array([4]), proof: 'proof' };
  const { keys } = unsealIdentity(sealIdentity(id, genesis, dataKey, 'arn:test'), dataKey, 'arn:test');
  assert.deepEqual(der(keys.dkdm), der(id.dkdm));
  assert.deepEqual(
    keys.dkdm.privateKey.export({ type: 'pkcs8', format: 'der' }),
    id.dkdm.privateKey.export({ type: 'pkcs8', format: 'der' }),
  );
  assert.deepEqual(publicIdentity(keys), pub);
});

test('refused: a chain the attestation does not bind, one not ending in the signer root, a shared key', () => {
  const other = createEnclaveChains({ name: 'keycast.enclave', release: 'x' });
  const code = (f: () => unknown, c: string) => assert.throws(f, (e) => isVerifierError(e, c as never), c);
  // another enclave's decryption chain (valid on its own) presented for this attestation
  code(() => checkEnclaveCertificates(binding(), der(id.kdm), der(other.decryption), new Date()), 'IDENTITY_BINDING');
  code(() => checkEnclaveCertificates(binding(), der(other.signer), der(id.dkdm), new Date()), 'IDENTITY_BINDING');
  // the bound leaf without its CAs, or with another root
  code(() => checkEnclaveCertificates(binding(), der(id.kdm), [id.dkdm.chain[0]!.der], new Date()), 'IDENTITY_BINDING');
  code(
    () =>
      checkEnclaveCertificates(
        binding(),
        der(id.kdm),
        [id.dkdm.chain[0]!.der, other.signer.chain[1]!.der, other.signer.chain[2]!.der],
        new Date(),
      ),
    'IDENTITY_BINDING',
  );
  // no decryption digest bound (an older enclave)
  const { kdmDecryptionSha256: _, ...older } = pub;
  const olderBinding = parseIdentityBinding(formatIdentityBinding(older), pub.hpkeX25519);
  code(() => checkEnclaveCertificates(olderBinding, der(id.kdm), der(id.dkdm), new Date()), 'IDENTITY_BINDING');
  // the signer leaf presented as the decryption leaf (bound by a lying binding): same key refused
  const lying = parseIdentityBinding(
    formatIdentityBinding({
      ...pub,
      kdmDecryptionSha256: new Uint8Array(createHash('sha256').update(id.kdm.chain[0]!.der).digest()),
    }),
    pub.hpkeX25519,
  );
  code(() => checkEnclaveCertificates(lying, der(id.kdm), der(id.kdm), new Date()), 'IDENTITY_BINDING');
  // outside its validity
  code(
    () => checkEnclaveCertificates(binding(), der(id.kdm), der(id.dkdm), new Date(Date.now() + 11 * 365 * 86_400_000)),
    'CERT_VALIDITY',
  );
});

test('test-only decryption key: used as given on the simulated NSM, refused on any other NSM', async () => {
  const key = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 }).privateKey;
  const mine = generateIdentity({ release: 'test', testDkdm: { privateKey: key } });
  assert.equal(mine.dkdm.privateKey, key);
  assert.deepEqual(
    Buffer.from(mine.dkdm.chain[0]!.pkcs1),
    createPublicKey(key).export({ type: 'pkcs1', format: 'der' }),
  );
  // a given chain (a real vector's recipient certificate) is used as it is
  const given = generateIdentity({ release: 'test', testDkdm: { privateKey: key, chain: id.kdm.chain } });
  assert.equal(given.dkdm.chain[0], id.kdm.chain[0]);
  // any NSM that is not the simulator (here: one wrapping it) refuses the option before anything else
  const sim = new SimulatedNsm({ pki: createTestPki(), pcrs: measurements('dkdm-test') });
  const wrapped: Nsm = {
    describeNsm: () => sim.describeNsm(),
    describePcr: (i) => sim.describePcr(i),
    attestation: (r) => sim.attestation(r),
    close: () => sim.close(),
  } as Nsm;
  await assert.rejects(
    bootEnclave({ nsm: wrapped, kms: {} as KmsPort, configBytes: '{}', testDkdm: { privateKey: key } }),
    (e) => isEnclaveError(e, 'TEST_ONLY_OPTION'),
  );
  // nor does the device's own client, even speaking to the simulator's transport: only the
  // simulator says it is one (the runtime does not import it to ask)
  await assert.rejects(
    bootEnclave({
      nsm: new NsmClient(sim.device),
      kms: {} as KmsPort,
      configBytes: '{}',
      testDkdm: { privateKey: key },
    }),
    (e) => isEnclaveError(e, 'TEST_ONLY_OPTION'),
  );
  assert.equal(sim.simulated, true);
});
