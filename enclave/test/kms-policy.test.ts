/**
 * kms-policy: the built policy passes the auditor's check and is enforced by the KMS core as
 * intended (only the attested enclave role decrypts; admins and the account root never, even
 * with an extra kms:* grant, because the explicit deny wins); the check flags every classic
 * way a decrypt path escapes the attestation condition.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openForRecipient } from '#verifier';
import { buildKmsKeyPolicy } from '../kms-policy/policy-build.ts';
import { checkKmsKeyPolicy } from '../kms-policy/policy-check.ts';
import { KmsCore } from '../dev/kms/core.ts';
import { MemoryKeyStore } from '../dev/kms/store.ts';
import { MemoryKmsPort } from '../dev/kms/memory.ts';
import { EnclaveError } from '../common/errors.ts';
import { ACCOUNT, ADMIN, ENCLAVE_ROLE, createTestPki, enclave, pcrHex } from './kms-fixtures.ts';

const coded = (code: string) => (e: unknown) => e instanceof EnclaveError && e.code === code;
const codes = (policy: unknown) =>
  checkKmsKeyPolicy(JSON.stringify(policy))
    .filter((f) => f.severity === 'error')
    .map((f) => f.code)
    .sort();
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const P0 = pcrHex();

test('the built policy passes the check; a policy admin is the one warning', () => {
  assert.deepEqual(
    checkKmsKeyPolicy(
      JSON.stringify(buildKmsKeyPolicy({ pcr0s: [P0], enclaveRoleArn: ENCLAVE_ROLE, adminArns: [ADMIN] })),
    ),
    [],
  );
  const withUpdates = checkKmsKeyPolicy(
    JSON.stringify(
      buildKmsKeyPolicy({
        pcr0s: [P0.toUpperCase(), pcrHex()],
        enclaveRoleArn: ENCLAVE_ROLE,
        adminArns: [ADMIN],
        policyAdminArns: [ADMIN],
      }),
    ),
  );
  assert.deepEqual(
    withUpdates.map((f) => [f.severity, f.code, f.sid]),
    [['warning', 'POLICY_REWRITE', 'KeycastPolicyUpdates']],
  );
  const none = buildKmsKeyPolicy({ pcr0s: [], enclaveRoleArn: ENCLAVE_ROLE, adminArns: [ADMIN] }) as {
    Statement: Array<{ Effect: string }>;
  };
  assert.ok(none.Statement.every((s) => s.Effect === 'Deny' || !JSON.stringify(s).includes('Decrypt')));
  for (const bad of [
    { pcr0s: ['00'.repeat(48)] },
    { pcr0s: ['xyz'] },
    { adminArns: [ROOT] },
    { adminArns: ['*'] },
    { adminArns: [] },
    { enclaveRoleArn: ADMIN },
  ])
    assert.throws(
      () => buildKmsKeyPolicy({ pcr0s: [P0], enclaveRoleArn: ENCLAVE_ROLE, adminArns: [ADMIN], ...bad }),
      coded('KMS_VALIDATION'),
      JSON.stringify(bad),
    );
});

test('the check flags every decrypt path around the attestation condition', () => {
  const stmt = (s: object) => ({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: ENCLAVE_ROLE }, Resource: '*', ...s }],
  });
  const att = { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': P0 } };
  assert.deepEqual(
    codes({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: ROOT },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    }),
    ['UNATTESTED_ENCRYPT', 'UNCONDITIONED_DECRYPT'],
  );
  assert.deepEqual(codes(stmt({ Action: '*' })), ['UNATTESTED_ENCRYPT', 'UNCONDITIONED_DECRYPT']);
  assert.deepEqual(codes(stmt({ Action: 'kms:Gen*' })), ['UNCONDITIONED_DECRYPT']);
  assert.deepEqual(codes(stmt({ Action: 'KMS:DECRYPT' })), ['UNCONDITIONED_DECRYPT']);
  assert.deepEqual(codes(stmt({ Action: 'kms:ReEncrypt*' })), ['UNCONDITIONED_DECRYPT']);
  assert.deepEqual(codes(stmt({ Action: 'kms:CreateGrant' })), ['UNCONDITIONED_DECRYPT']);
  assert.deepEqual(
    codes(stmt({ NotAction: ['kms:Encrypt', 'kms:Decrypt'] })),
    ['UNCONDITIONED_DECRYPT'],
    'NotAction still reaches GenerateDataKey',
  );
  assert.deepEqual(codes(stmt({ NotAction: 'kms:*' })), []);
  assert.deepEqual(codes(stmt({ Action: ['kms:Encrypt', 'kms:DescribeKey'] })), ['UNATTESTED_ENCRYPT']);
  assert.deepEqual(codes(stmt({ Action: 'kms:En*' })), ['UNATTESTED_ENCRYPT']);
  assert.deepEqual(codes(stmt({ Action: 'kms:DescribeKey' })), []);
  assert.deepEqual(codes(stmt({ Action: 'kms:Decrypt', Condition: att })), []);
  assert.deepEqual(
    codes(
      stmt({
        Action: 'kms:Decrypt',
        Condition: { StringEqualsIgnoreCaseIfExists: { 'kms:RecipientAttestation:ImageSha384': P0 } },
      }),
    ),
    ['BYPASSABLE_CONDITION'],
  );
  assert.deepEqual(
    codes(
      stmt({
        Action: 'kms:Decrypt',
        Condition: { 'ForAnyValue:StringEquals': { 'kms:RecipientAttestation:PCR0': P0 } },
      }),
    ),
    ['BYPASSABLE_CONDITION'],
  );
  assert.deepEqual(
    codes(
      stmt({ Action: 'kms:Decrypt', Condition: { StringNotEquals: { 'kms:RecipientAttestation:ImageSha384': P0 } } }),
    ),
    ['BYPASSABLE_CONDITION'],
  );
  assert.deepEqual(
    codes(stmt({ Action: 'kms:Decrypt', Condition: { StringLike: { 'kms:RecipientAttestation:ImageSha384': '*' } } })),
    ['BYPASSABLE_CONDITION'],
  );
  assert.deepEqual(
    codes(
      stmt({
        Action: 'kms:Decrypt',
        Condition: { StringEquals: { 'kms:RecipientAttestation:ImageSha384': ['00'.repeat(48)] } },
      }),
    ),
    ['NOT_A_MEASUREMENT'],
  );
  assert.deepEqual(
    codes(
      stmt({ Action: 'kms:Decrypt', Condition: { StringEquals: { 'kms:RecipientAttestation:ImageSha384': 'abc' } } }),
    ),
    ['NOT_A_MEASUREMENT'],
  );
  assert.deepEqual(
    codes(stmt({ Action: 'kms:Decrypt', Condition: { StringEquals: { 'aws:PrincipalArn': ENCLAVE_ROLE } } })),
    ['UNCONDITIONED_DECRYPT'],
  );
  assert.deepEqual(
    codes({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Condition: att }],
    }),
    ['ANY_PRINCIPAL'],
  );
  assert.deepEqual(
    codes({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: ['*'] }, Action: 'kms:Decrypt' }],
    }),
    ['ANY_PRINCIPAL', 'UNCONDITIONED_DECRYPT'],
  );
  assert.deepEqual(
    codes({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', NotPrincipal: { AWS: ROOT }, Action: 'kms:Decrypt', Condition: att }],
    }),
    ['ANY_PRINCIPAL'],
  );
  assert.deepEqual(codes({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: '*' }] }), []);
  assert.deepEqual(codes('not a policy'), ['MALFORMED']);
  assert.deepEqual(
    checkKmsKeyPolicy('{').map((f) => f.code),
    ['MALFORMED'],
  );
  const wide = checkKmsKeyPolicy(JSON.stringify(stmt({ Sid: 'Wide', Action: 'kms:*' })));
  assert.deepEqual(
    wide.map((x) => x.code),
    ['POLICY_REWRITE', 'UNATTESTED_ENCRYPT', 'UNCONDITIONED_DECRYPT'],
  );
  const f = wide[2]!;
  assert.equal(f.sid, 'Wide');
  assert.equal(f.statement, 0);
  assert.ok(f.actions!.includes('kms:Decrypt') && f.actions!.includes('kms:CreateGrant'));
});

test('the check flags what lets the host forge an identity: Encrypt unattested, grants or policy rewrites to the enclave role', () => {
  const attested = {
    Sid: 'Attested',
    Effect: 'Allow',
    Principal: { AWS: ENCLAVE_ROLE },
    Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
    Resource: '*',
    Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': P0 } },
  };
  const policy = (...extra: object[]) => ({ Version: '2012-10-17', Statement: [attested, ...extra] });
  const allow = (principal: unknown, action: unknown) => ({
    Effect: 'Allow',
    Principal: principal,
    Action: action,
    Resource: '*',
  });
  assert.deepEqual(codes(policy()), []);
  // the red-team policy: the enclave role may also Encrypt
  assert.deepEqual(codes(policy(allow({ AWS: ENCLAVE_ROLE }, 'kms:Encrypt'))), ['UNATTESTED_ENCRYPT']);
  assert.deepEqual(
    codes(policy(allow({ AWS: ADMIN }, 'kms:Encrypt'))),
    ['UNATTESTED_ENCRYPT'],
    'anyone who can Encrypt can forge',
  );
  // the role (inferred from the attested Allow), its account root, or "*": grants and policy rewrites
  for (const who of [{ AWS: ENCLAVE_ROLE }, { AWS: ROOT }, { AWS: ACCOUNT }, '*'])
    for (const action of ['kms:CreateGrant', 'kms:PutKeyPolicy', 'kms:Put*', 'kms:*Grant'])
      assert.ok(
        codes(policy(allow(who, action))).includes('ENCLAVE_ROLE_ADMINISTERS'),
        `${JSON.stringify(who)} ${action}`,
      );
  assert.deepEqual(
    codes(policy(allow({ AWS: ADMIN }, 'kms:PutKeyPolicy'))),
    [],
    'an administrator other than the role',
  );
  // a named role without an attested Allow (e.g. before any release): --enclave-role
  const bare = { Version: '2012-10-17', Statement: [allow({ AWS: ENCLAVE_ROLE }, 'kms:PutKeyPolicy')] };
  assert.deepEqual(codes(bare), []);
  assert.deepEqual(
    checkKmsKeyPolicy(JSON.stringify(bare), { enclaveRoles: [ENCLAVE_ROLE] })
      .map((f) => f.code)
      .sort(),
    ['ENCLAVE_ROLE_ADMINISTERS', 'POLICY_REWRITE'],
  );
});

test('the built policy denies the enclave role Encrypt, grants and rewrites even when an allow is added later', async () => {
  const core = new KmsCore({ store: new MemoryKeyStore(), trustedRoots: [createTestPki().rootDer] });
  const policy = buildKmsKeyPolicy({
    pcr0s: [P0],
    enclaveRoleArn: ENCLAVE_ROLE,
    adminArns: [ADMIN],
    policyAdminArns: [ADMIN],
  }) as {
    Statement: object[];
  };
  const widened = {
    ...policy,
    Statement: [
      ...policy.Statement,
      {
        Sid: 'Mistake',
        Effect: 'Allow',
        Principal: { AWS: ENCLAVE_ROLE },
        Action: ['kms:Encrypt', 'kms:PutKeyPolicy'],
        Resource: '*',
      },
    ],
  };
  const { Arn: keyId } = await core.createKey(ADMIN, { policy: JSON.stringify(widened) });
  await assert.rejects(
    core.encrypt(ENCLAVE_ROLE, { keyId, plaintext: new Uint8Array(32) }),
    coded('KMS_DENIED'),
    'the host with the enclave role cannot make a CiphertextBlob of a data key it chose',
  );
  await assert.rejects(
    core.putKeyPolicy(ENCLAVE_ROLE, { keyId, policy: JSON.stringify(widened) }),
    coded('KMS_DENIED'),
  );
  await assert.rejects(core.encrypt(ADMIN, { keyId, plaintext: new Uint8Array(32) }), coded('KMS_DENIED'));
});

test('the KMS core enforces the built policy: the attested enclave role only; admins and root never, the explicit deny beating a kms:* grant', async () => {
  const pki = createTestPki();
  const good = enclave(pki, P0);
  const core = new KmsCore({ store: new MemoryKeyStore(), trustedRoots: [pki.rootDer] });
  const policy = buildKmsKeyPolicy({
    pcr0s: [P0],
    enclaveRoleArn: ENCLAVE_ROLE,
    adminArns: [ADMIN],
    policyAdminArns: [ADMIN],
  }) as { Statement: object[] };
  const { Arn: keyId } = await core.createKey(ADMIN, { policy: JSON.stringify(policy) });
  const r = await new MemoryKmsPort(core, ENCLAVE_ROLE).generateDataKey({
    keyId,
    attestationDocument: await good.attest(),
  });
  assert.equal((await openForRecipient(r.ciphertextForRecipient, good.privateKey)).length, 32);
  const recipient = async () => ({
    attestationDocument: await good.attest(),
    keyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
  });
  await assert.rejects(
    core.decrypt(ADMIN, { ciphertextBlob: r.ciphertextBlob, recipient: await recipient() }),
    coded('KMS_DENIED'),
  );
  await assert.rejects(core.decrypt(ENCLAVE_ROLE, { ciphertextBlob: r.ciphertextBlob }), coded('KMS_DENIED'));
  await assert.rejects(
    new MemoryKmsPort(core, ENCLAVE_ROLE).generateDataKey({ keyId, attestationDocument: await enclave(pki).attest() }),
    coded('KMS_DENIED'),
  );
  // the classic mistake added on top: root gets kms:* — the deny still stops unattested decrypts
  const widened = {
    ...policy,
    Statement: [
      ...policy.Statement,
      { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*' },
    ],
  };
  await core.putKeyPolicy(ADMIN, { keyId, policy: JSON.stringify(widened) });
  assert.deepEqual(
    codes(widened),
    ['ENCLAVE_ROLE_ADMINISTERS', 'UNATTESTED_ENCRYPT', 'UNCONDITIONED_DECRYPT'],
    'the auditor still flags it',
  );
  await assert.rejects(core.decrypt(ADMIN, { ciphertextBlob: r.ciphertextBlob }), coded('KMS_DENIED'));
  await assert.rejects(
    core.decrypt(`arn:aws:iam::${ACCOUNT}:role/anyone`, { ciphertextBlob: r.ciphertextBlob }),
    coded('KMS_DENIED'),
  );
  await assert.rejects(core.generateDataKey(ADMIN, { keyId, keySpec: 'AES_256' }), coded('KMS_DENIED'));
});
