/**
 * The KMS core and the in-memory KmsPort: attested GenerateDataKey/Decrypt for the allowed
 * PCR0 only, untrusted or stale documents refused, blobs bound to key and context, key policies
 * parsed strictly and guarded against lockout, and no data key in any error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openForRecipient } from '#verifier';
import { KmsCore } from '../dev/kms/core.ts';
import { MemoryKmsPort } from '../dev/kms/memory.ts';
import { MemoryKeyStore } from '../dev/kms/store.ts';
import { EnclaveError } from '../common/errors.ts';
import { ADMIN, ENCLAVE_ROLE, attestedPolicy, createTestPki, enclave, pcrHex } from './kms-fixtures.ts';

const pki = createTestPki();
const coded = (code: string) => (e: unknown) => e instanceof EnclaveError && e.code === code;
const good = enclave(pki);

async function setup(
  pcr0s: string[] = [good.pcr0.toUpperCase()],
  extra: Partial<ConstructorParameters<typeof KmsCore>[0]> = {},
) {
  const core = new KmsCore({ store: new MemoryKeyStore(), trustedRoots: [pki.rootDer], ...extra });
  const meta = await core.createKey(ADMIN, { policy: attestedPolicy(pcr0s), description: 'studio keys' });
  return { core, keyId: meta.Arn, port: new MemoryKmsPort(core, ENCLAVE_ROLE) };
}

test('the attested enclave gets a data key only as CMS for its own RSA key, and gets it back through Decrypt', async () => {
  const { port, keyId } = await setup();
  const r = await port.generateDataKey({ keyId, attestationDocument: await good.attest() });
  assert.deepEqual(Object.keys(r).sort(), ['ciphertextBlob', 'ciphertextForRecipient', 'keyId']);
  assert.equal(r.keyId, keyId);
  const dataKey = await openForRecipient(r.ciphertextForRecipient, good.privateKey);
  assert.equal(dataKey.length, 32);
  const again = await port.decrypt({
    keyId,
    ciphertextBlob: r.ciphertextBlob,
    attestationDocument: await good.attest(),
  });
  assert.deepEqual(await openForRecipient(again.ciphertextForRecipient, good.privateKey), dataKey);
  const hexKey = Buffer.from(dataKey).toString('hex');
  assert.ok(!JSON.stringify(r).includes(hexKey) && !Buffer.from(r.ciphertextBlob).toString('hex').includes(hexKey));
});

test('another PCR0, an untrusted root, a stale document, no recipient: KMS_DENIED with the reason', async () => {
  const { core, port, keyId } = await setup();
  const other = enclave(pki);
  await assert.rejects(port.generateDataKey({ keyId, attestationDocument: await other.attest() }), coded('KMS_DENIED'));
  const foreign = enclave(createTestPki(), good.pcr0);
  await assert.rejects(
    port.generateDataKey({ keyId, attestationDocument: await foreign.attest() }),
    (e) => coded('KMS_DENIED')(e) && (e as EnclaveError).evidence.verifierCode === 'ROOT_UNTRUSTED',
  );
  // the AWS root only, by default: the simulator's root is not trusted unless passed
  const awsCore = new KmsCore({ store: new MemoryKeyStore() });
  const awsKey = await awsCore.createKey(ADMIN, { policy: attestedPolicy([good.pcr0]) });
  await assert.rejects(
    new MemoryKmsPort(awsCore, ENCLAVE_ROLE).generateDataKey({
      keyId: awsKey.Arn,
      attestationDocument: await good.attest(),
    }),
    (e) => coded('KMS_DENIED')(e) && (e as EnclaveError).evidence.verifierCode === 'ROOT_UNTRUSTED',
  );
  const later = new KmsCore({
    store: new MemoryKeyStore(),
    trustedRoots: [pki.rootDer],
    now: () => Date.now() + 10 * 60_000,
  });
  const meta = await later.createKey(ADMIN, { policy: attestedPolicy([good.pcr0]) });
  await assert.rejects(
    new MemoryKmsPort(later, ENCLAVE_ROLE).generateDataKey({
      keyId: meta.KeyId,
      attestationDocument: await good.attest(),
    }),
    (e) => coded('KMS_DENIED')(e) && (e as EnclaveError).evidence.verifierCode === 'ATTESTATION_AGE',
  );
  // without a Recipient the condition key is absent: the enclave role gets nothing, and admins never decrypt
  await assert.rejects(core.generateDataKey(ENCLAVE_ROLE, { keyId, keySpec: 'AES_256' }), coded('KMS_DENIED'));
  const blob = (await port.generateDataKey({ keyId, attestationDocument: await good.attest() })).ciphertextBlob;
  await assert.rejects(core.decrypt(ENCLAVE_ROLE, { ciphertextBlob: blob }), coded('KMS_DENIED'));
  await assert.rejects(core.decrypt(ADMIN, { ciphertextBlob: blob }), coded('KMS_DENIED'));
  await assert.rejects(
    core.decrypt(ADMIN, {
      ciphertextBlob: blob,
      recipient: { attestationDocument: await good.attest(), keyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' },
    }),
    coded('KMS_DENIED'),
  );
});

test('a tampered, truncated or foreign blob is KMS_INVALID_CIPHERTEXT; a KeyId that differs is KMS_INCORRECT_KEY', async () => {
  const { core, port, keyId } = await setup();
  const { ciphertextBlob } = await port.generateDataKey({ keyId, attestationDocument: await good.attest() });
  for (const at of [60, ciphertextBlob.length - 1]) {
    const t = Uint8Array.from(ciphertextBlob);
    t[at]! ^= 1;
    await assert.rejects(
      port.decrypt({ keyId, ciphertextBlob: t, attestationDocument: await good.attest() }),
      coded('KMS_INVALID_CIPHERTEXT'),
    );
  }
  await assert.rejects(
    port.decrypt({ keyId, ciphertextBlob: ciphertextBlob.subarray(0, 30), attestationDocument: await good.attest() }),
    coded('KMS_INVALID_CIPHERTEXT'),
  );
  const second = await core.createKey(ADMIN, { policy: attestedPolicy([good.pcr0]) });
  await assert.rejects(
    port.decrypt({ keyId: second.Arn, ciphertextBlob, attestationDocument: await good.attest() }),
    coded('KMS_INCORRECT_KEY'),
  );
  await assert.rejects(
    port.decrypt({ keyId: 'alias/studio', ciphertextBlob, attestationDocument: await good.attest() }),
    coded('KMS_NOT_FOUND'),
  );
  await assert.rejects(
    port.generateDataKey({ keyId: '00000000-0000-4000-8000-000000000000', attestationDocument: await good.attest() }),
    coded('KMS_NOT_FOUND'),
  );
});

test('Encrypt/Decrypt bind the encryption context; the default key policy lets the whole account decrypt (the classic mistake)', async () => {
  const core = new KmsCore({ store: new MemoryKeyStore(), trustedRoots: [pki.rootDer] });
  const { KeyId } = await core.createKey(ADMIN);
  const pt = new TextEncoder().encode('content key');
  const { ciphertextBlob } = await core.encrypt(ADMIN, {
    keyId: KeyId,
    plaintext: pt,
    encryptionContext: { film: 'A' },
  });
  assert.deepEqual(
    (await core.decrypt(ENCLAVE_ROLE, { ciphertextBlob, encryptionContext: { film: 'A' } })).plaintext,
    pt,
  );
  await assert.rejects(
    core.decrypt(ADMIN, { ciphertextBlob, encryptionContext: { film: 'B' } }),
    coded('KMS_INVALID_CIPHERTEXT'),
  );
  await assert.rejects(core.decrypt(ADMIN, { ciphertextBlob }), coded('KMS_INVALID_CIPHERTEXT'));
  await assert.rejects(
    core.decrypt('arn:aws:iam::999999999999:role/x', { ciphertextBlob, encryptionContext: { film: 'A' } }),
    coded('KMS_DENIED'),
  );
  await assert.rejects(core.encrypt(ADMIN, { keyId: KeyId, plaintext: new Uint8Array(4097) }), coded('KMS_VALIDATION'));
  await assert.rejects(
    core.generateDataKey(ADMIN, { keyId: KeyId, keySpec: 'AES_256', numberOfBytes: 32 }),
    coded('KMS_VALIDATION'),
  );
  await assert.rejects(core.generateDataKey(ADMIN, { keyId: KeyId, numberOfBytes: 1025 }), coded('KMS_VALIDATION'));
});

test('key policies: strict parsing, GetKeyPolicy/PutKeyPolicy for admins only, and no lockout without the bypass flag', async () => {
  const { core, keyId } = await setup();
  assert.equal((await core.getKeyPolicy(ADMIN, { keyId })).policy, attestedPolicy([good.pcr0.toUpperCase()]));
  await assert.rejects(core.getKeyPolicy(ENCLAVE_ROLE, { keyId }), coded('KMS_DENIED'));
  await assert.rejects(
    core.putKeyPolicy(ENCLAVE_ROLE, { keyId, policy: attestedPolicy([pcrHex()]) }),
    coded('KMS_DENIED'),
  );
  const lockout = attestedPolicy([good.pcr0], { admin: 'arn:aws:iam::111122223333:role/someone-else' });
  await assert.rejects(core.putKeyPolicy(ADMIN, { keyId, policy: lockout }), coded('KMS_MALFORMED_POLICY'));
  for (const bad of [
    '',
    'not json',
    '{"Version":"2012-10-17"}',
    '{"Version":"2008-10-17","Statement":[]}',
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', NotPrincipal: { AWS: '*' }, Action: '*' }],
    }),
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Condition: { ForAnyValue: { x: 'y' } } }],
    }),
    'x'.repeat(40_000),
  ]) {
    await assert.rejects(
      core.putKeyPolicy(ADMIN, { keyId, policy: bad }),
      coded('KMS_MALFORMED_POLICY'),
      bad.slice(0, 40),
    );
  }
  const other = enclave(pki);
  await core.putKeyPolicy(ADMIN, { keyId, policy: attestedPolicy([other.pcr0]) });
  const port = new MemoryKmsPort(core, ENCLAVE_ROLE);
  await assert.rejects(port.generateDataKey({ keyId, attestationDocument: await good.attest() }), coded('KMS_DENIED'));
  const r = await port.generateDataKey({ keyId, attestationDocument: await other.attest() });
  assert.equal((await openForRecipient(r.ciphertextForRecipient, other.privateKey)).length, 32);
});

test('a Recipient must carry an RSA-2048 key and name RSAES_OAEP_SHA_256', async () => {
  const { core, keyId } = await setup();
  const { SimulatedNsm } = await import('../dev/nsm/simulator.ts');
  const nsm = new SimulatedNsm({ pki, pcrs: { pcr0: good.pcr0, pcr1: pcrHex(), pcr2: pcrHex() } });
  const noKey = await nsm.attestation({});
  await assert.rejects(
    core.generateDataKey(ENCLAVE_ROLE, {
      keyId,
      keySpec: 'AES_256',
      recipient: { attestationDocument: noKey, keyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' },
    }),
    coded('KMS_VALIDATION'),
  );
  await assert.rejects(
    core.generateDataKey(ENCLAVE_ROLE, {
      keyId,
      keySpec: 'AES_256',
      recipient: { attestationDocument: await good.attest(), keyEncryptionAlgorithm: 'RSAES_OAEP_SHA_1' },
    }),
    coded('KMS_VALIDATION'),
  );
  await assert.rejects(
    core.generateDataKey(ENCLAVE_ROLE, {
      keyId,
      keySpec: 'AES_256',
      recipient: { attestationDocument: new Uint8Array(10), keyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' },
    }),
    coded('KMS_DENIED'),
  );
});
