/**
 * End to end on loopback: the real @aws-sdk/client-kms (AwsKmsPort and a plain KMSClient)
 * against dev-kms with attestation documents from the NSM simulator, its test root trusted only
 * because it is passed. Allowed PCR0 → CiphertextForRecipient that openForRecipient opens;
 * another PCR0, an untrusted root, a tampered blob, bad signatures, replays, malformed,
 * oversized and wrong-content-type requests → 4xx with codes, nothing stored, still serving.
 * Every response body and log line is scanned for the data keys handed out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateKeyCommand,
  DecryptCommand,
  GenerateDataKeyCommand,
  GetKeyPolicyCommand,
  KMSClient,
  PutKeyPolicyCommand,
} from '@aws-sdk/client-kms';
import { openForRecipient } from '#verifier';
import { KmsCore } from '../dev/kms/core.ts';
import { DirectoryKeyStore } from '../dev/kms/directory-store.ts';
import { AwsKmsPort } from '../runtime/kms/aws.ts';
import { buildDevKmsApp, JSON_11 } from '../dev/dev-kms/app.ts';
import { EnclaveError } from '../common/errors.ts';
import { ADMIN, ENCLAVE_ROLE, attestedPolicy, createTestPki, enclave, pcrHex } from './kms-fixtures.ts';

const coded = (code: string) => (e: unknown) => e instanceof EnclaveError && e.code === code;
const CREDS = [
  { accessKeyId: 'AKIAENCLAVE0000000001', secretAccessKey: 'enclave-secret', principal: ENCLAVE_ROLE },
  { accessKeyId: 'AKIAADMIN000000000001', secretAccessKey: 'admin-secret', principal: ADMIN },
];

async function start(t: import('node:test').TestContext, opts: { verify: boolean; trustedRoots?: Uint8Array[] }) {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-dev-kms-'));
  const core = new KmsCore({
    store: new DirectoryKeyStore(dir),
    ...(opts.trustedRoots ? { trustedRoots: opts.trustedRoots } : {}),
  });
  const lines: string[] = [];
  const bodies: string[] = [];
  const app = await buildDevKmsApp({
    core,
    ...(opts.verify ? { credentials: CREDS } : { unverifiedPrincipal: ENCLAVE_ROLE }),
    onRequestDone: (e) => lines.push(JSON.stringify(e)),
  });
  app.addHook('onSend', async (_req, _reply, payload) => {
    bodies.push(String(payload));
    return payload;
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address() as { port: number };
  const url = `http://127.0.0.1:${addr.port}`;
  t.after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const client = (i: number) =>
    new KMSClient({
      region: 'us-east-1',
      endpoint: url,
      maxAttempts: 1,
      credentials: { accessKeyId: CREDS[i]!.accessKeyId, secretAccessKey: CREDS[i]!.secretAccessKey },
    });
  const keyFiles = () => readdirSync(join(dir, 'keys')).length;
  return { url, lines, bodies, client, keyFiles };
}

function assertNoSecret(haystacks: string[], keys: Uint8Array[]) {
  assert.ok(keys.length > 0);
  for (const k of keys) {
    const needles = [
      Buffer.from(k).toString('hex'),
      Buffer.from(k).toString('base64'),
      Buffer.from(k).toString('base64').slice(0, 40),
    ];
    for (const h of haystacks)
      for (const n of needles)
        assert.ok(!h.toLowerCase().includes(n.toLowerCase()), 'a data key appeared in an output');
  }
}

test('the real SDK against dev-kms: attested data keys for the allowed PCR0 only, refusals coded, nothing leaked', async (t) => {
  const pki = createTestPki();
  const good = enclave(pki);
  const s = await start(t, { verify: true, trustedRoots: [pki.rootDer] });
  const admin = s.client(1);
  const created = await admin.send(
    new CreateKeyCommand({ Description: 'studio content keys', Policy: attestedPolicy([good.pcr0]) }),
  );
  const keyId = created.KeyMetadata!.Arn!;
  assert.match(keyId, /^arn:aws:kms:us-east-1:111122223333:key\/[0-9a-f-]{36}$/);
  assert.equal(s.keyFiles(), 1);

  const port = new AwsKmsPort({
    region: 'us-east-1',
    endpoint: s.url,
    credentials: { accessKeyId: CREDS[0]!.accessKeyId, secretAccessKey: CREDS[0]!.secretAccessKey },
  });
  t.after(() => port.destroy());
  const dataKeys: Uint8Array[] = [];
  const errors: string[] = [];
  const r = await port.generateDataKey({ keyId, attestationDocument: await good.attest() });
  const dk = await openForRecipient(r.ciphertextForRecipient, good.privateKey);
  assert.equal(dk.length, 32);
  dataKeys.push(dk);
  const back = await port.decrypt({
    keyId,
    ciphertextBlob: r.ciphertextBlob,
    attestationDocument: await good.attest(),
  });
  assert.deepEqual(await openForRecipient(back.ciphertextForRecipient, good.privateKey), dk);

  const refused = async (p: Promise<unknown>, code: string) => {
    await assert.rejects(p, (e) => {
      errors.push(String(e), JSON.stringify((e as EnclaveError).toJSON?.() ?? {}));
      return coded(code)(e);
    });
  };
  await refused(port.generateDataKey({ keyId, attestationDocument: await enclave(pki).attest() }), 'KMS_DENIED');
  await refused(
    port.generateDataKey({ keyId, attestationDocument: await enclave(createTestPki(), good.pcr0).attest() }),
    'KMS_DENIED',
  );
  const tampered = Uint8Array.from(r.ciphertextBlob);
  tampered[tampered.length - 5]! ^= 0x40;
  await refused(
    port.decrypt({ keyId, ciphertextBlob: tampered, attestationDocument: await good.attest() }),
    'KMS_INVALID_CIPHERTEXT',
  );
  await refused(
    port.decrypt({ keyId, ciphertextBlob: r.ciphertextBlob.subarray(0, 20), attestationDocument: await good.attest() }),
    'KMS_INVALID_CIPHERTEXT',
  );

  // admins administer but never decrypt; the enclave role never administers
  assert.equal(
    (await admin.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }))).Policy,
    attestedPolicy([good.pcr0]),
  );
  await assert.rejects(admin.send(new DecryptCommand({ CiphertextBlob: r.ciphertextBlob })), {
    name: 'AccessDeniedException',
  });
  await assert.rejects(admin.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' })), {
    name: 'AccessDeniedException',
  });
  await assert.rejects(
    s.client(0).send(new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default', Policy: attestedPolicy([]) })),
    { name: 'AccessDeniedException' },
  );
  await assert.rejects(
    admin.send(
      new PutKeyPolicyCommand({
        KeyId: keyId,
        PolicyName: 'default',
        Policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}',
      }),
    ),
    { name: 'MalformedPolicyDocumentException' },
  );
  await assert.rejects(admin.send(new CreateKeyCommand({ Policy: 'not json' })), {
    name: 'MalformedPolicyDocumentException',
  });
  await assert.rejects(admin.send(new CreateKeyCommand({ KeyUsage: 'SIGN_VERIFY' })), { name: 'ValidationException' });
  assert.equal(s.keyFiles(), 1, 'refused CreateKeys store nothing');

  // signatures: unknown key, wrong secret, a body changed after signing, a replayed request
  const stranger = new KMSClient({
    region: 'us-east-1',
    endpoint: s.url,
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKIASTRANGER00000001', secretAccessKey: 'x' },
  });
  await assert.rejects(stranger.send(new CreateKeyCommand({})), { name: 'UnrecognizedClientException' });
  const wrongSecret = new KMSClient({
    region: 'us-east-1',
    endpoint: s.url,
    maxAttempts: 1,
    credentials: { accessKeyId: CREDS[1]!.accessKeyId, secretAccessKey: 'wrong' },
  });
  await assert.rejects(wrongSecret.send(new CreateKeyCommand({})), { name: 'InvalidSignatureException' });
  const otherRegion = new KMSClient({
    region: 'eu-west-1',
    endpoint: s.url,
    maxAttempts: 1,
    credentials: { accessKeyId: CREDS[1]!.accessKeyId, secretAccessKey: CREDS[1]!.secretAccessKey },
  });
  await assert.rejects(otherRegion.send(new CreateKeyCommand({})), { name: 'InvalidSignatureException' });
  const tamper = s.client(1);
  tamper.middlewareStack.add(
    (next) => async (args) => {
      const req = args.request as { body: string };
      req.body = req.body.replace('"Description":"a"', '"Description":"b"');
      return next(args);
    },
    { step: 'deserialize' },
  );
  await assert.rejects(tamper.send(new CreateKeyCommand({ Description: 'a' })), { name: 'InvalidSignatureException' });
  const captured = { headers: {} as Record<string, string>, body: '' };
  const recorder = s.client(1);
  recorder.middlewareStack.add(
    (next) => async (args) => {
      const req = args.request as { headers: Record<string, string>; body: string };
      Object.assign(captured, { headers: { ...req.headers }, body: req.body });
      return next(args);
    },
    { step: 'deserialize' },
  );
  await recorder.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }));
  assert.ok(captured.body.includes('KeyId'));
  const replay = await fetch(s.url, { method: 'POST', headers: captured.headers, body: captured.body });
  assert.equal(replay.status, 400);
  assert.equal((await replay.json()).code, 'KMS_REPLAYED');
  const unsigned = await fetch(s.url, {
    method: 'POST',
    headers: { 'content-type': JSON_11, 'x-amz-target': 'TrentService.CreateKey' },
    body: '{}',
  });
  assert.equal(unsigned.status, 403);
  assert.equal((await unsigned.json()).__type, 'MissingAuthenticationTokenException');
  assert.equal(s.keyFiles(), 1);

  // still serving
  const again = await port.generateDataKey({ keyId, attestationDocument: await good.attest() });
  dataKeys.push(await openForRecipient(again.ciphertextForRecipient, good.privateKey));
  assert.ok(s.lines.some((l) => l.includes('"code":"KMS_DENIED"')) && s.lines.some((l) => l.includes('"status":200')));
  assertNoSecret([...s.bodies, ...s.lines, ...errors], dataKeys);
});

test('malformed, oversized, wrong-content-type and unknown-target requests are 4xx with AWS shapes, and dev-kms keeps serving', async (t) => {
  const s = await start(t, { verify: false });
  const auth = () => {
    const now = new Date();
    const amzDate = now
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
    const sig = [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, '0')).join('');
    return {
      'x-amz-date': amzDate,
      authorization: `AWS4-HMAC-SHA256 Credential=AKIADEV/${amzDate.slice(0, 8)}/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=${sig}`,
    };
  };
  const post = async (
    target: string,
    body: string | Uint8Array,
    ctype = JSON_11,
    extra: Record<string, string> = {},
  ) => {
    const r = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': ctype, 'x-amz-target': target, ...auth(), ...extra },
      body: typeof body === 'string' ? body : Buffer.from(body),
    });
    const text = await r.text();
    return { status: r.status, json: JSON.parse(text) as Record<string, unknown> };
  };
  const cases: Array<[string, Promise<{ status: number; json: Record<string, unknown> }>, number, string]> = [
    [
      'wrong content type',
      post('TrentService.CreateKey', '{}', 'application/json'),
      415,
      'UnsupportedMediaTypeException',
    ],
    ['no content type', post('TrentService.CreateKey', '{}', ''), 415, 'UnsupportedMediaTypeException'],
    ['unknown target', post('TrentService.ScheduleKeyDeletion', '{}'), 400, 'UnknownOperationException'],
    ['prototype target', post('TrentService.constructor', '{}'), 400, 'UnknownOperationException'],
    ['foreign service', post('DynamoDB_20120810.CreateTable', '{}'), 400, 'UnknownOperationException'],
    ['not JSON', post('TrentService.CreateKey', '{"Description":'), 400, 'SerializationException'],
    ['JSON array', post('TrentService.CreateKey', '[]'), 400, 'SerializationException'],
    [
      'duplicate keys',
      post('TrentService.CreateKey', '{"Description":"a","Description":"b"}'),
      400,
      'SerializationException',
    ],
    [
      'invalid UTF-8',
      post('TrentService.CreateKey', Uint8Array.of(0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d)),
      400,
      'SerializationException',
    ],
    ['unknown member', post('TrentService.CreateKey', '{"Tags":[]}'), 400, 'ValidationException'],
    ['wrong type', post('TrentService.Encrypt', '{"KeyId":"k","Plaintext":42}'), 400, 'SerializationException'],
    ['bad base64', post('TrentService.Decrypt', '{"CiphertextBlob":"not base64!"}'), 400, 'SerializationException'],
    [
      'oversized',
      post('TrentService.CreateKey', JSON.stringify({ Description: 'x'.repeat(200_000) })),
      413,
      'RequestEntityTooLargeException',
    ],
    [
      'bad Authorization',
      post('TrentService.CreateKey', '{}', JSON_11, { authorization: 'Bearer x' }),
      400,
      'InvalidSignatureException',
    ],
    [
      'stale X-Amz-Date',
      post('TrentService.CreateKey', '{}', JSON_11, { 'x-amz-date': '20200101T000000Z' }),
      400,
      'InvalidSignatureException',
    ],
    [
      'GET',
      fetch(s.url).then(async (r) => ({ status: r.status, json: (await r.json()) as Record<string, unknown> })),
      400,
      'UnknownOperationException',
    ],
  ];
  for (const [name, p, status, type] of cases) {
    const r = await p;
    assert.equal(r.status, status, name);
    assert.equal(r.json.__type, type, name);
    assert.equal(typeof r.json.message, 'string', name);
  }
  // random bodies for every operation: always a 4xx with an AWS type, never a 5xx, nothing stored
  const ops = ['CreateKey', 'GenerateDataKey', 'Encrypt', 'Decrypt', 'GetKeyPolicy', 'PutKeyPolicy'];
  // biome-ignore lint/correctness/noPrecisionLoss: 1e309 is deliberately Infinity, which JSON.stringify writes as null
  const values = [null, true, 1, -1, 1e309, '', 'x', 'AAAA', [], {}, [1], { a: 'b' }, 'a'.repeat(3000)];
  const members = [
    'KeyId',
    'Plaintext',
    'CiphertextBlob',
    'Recipient',
    'EncryptionContext',
    'KeySpec',
    'NumberOfBytes',
    'Policy',
    'PolicyName',
    'GrantTokens',
    'DryRun',
    '__proto__',
    'constructor',
  ];
  for (let i = 0; i < 120; i++) {
    const entries: Array<[string, unknown]> = [];
    for (let k = 0; k < 1 + (i % 4); k++)
      entries.push([members[(i * 7 + k * 3) % members.length]!, values[(i * 5 + k) % values.length]]);
    if (i % 5 === 0)
      entries.push(['Recipient', { AttestationDocument: 'AAAA', KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }]);
    const body = `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
    const r = await post(`TrentService.${ops[i % ops.length]}`, body);
    assert.ok(r.status >= 400 && r.status < 500, `${ops[i % ops.length]} ${body.slice(0, 200)} → ${r.status}`);
    assert.equal(typeof r.json.__type, 'string');
  }
  assert.equal(s.keyFiles(), 0, 'nothing stored');
  const ok = await post('TrentService.CreateKey', '{"Description":"still serving"}');
  assert.equal(ok.status, 200);
  assert.equal((ok.json.KeyMetadata as Record<string, unknown>).Description, 'still serving');
  assert.equal(s.keyFiles(), 1);
});

test('without --credentials no caller may PutKeyPolicy, not even one the policy names as administrator', async (t) => {
  const s = await start(t, { verify: false });
  // every unverified caller acts as the enclave role; make the policy name it administrator too
  const keyId = (
    await s.client(0).send(new CreateKeyCommand({ Policy: attestedPolicy([pcrHex()], { admin: ENCLAVE_ROLE }) }))
  ).KeyMetadata!.KeyId!;
  await assert.rejects(
    s.client(0).send(new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default', Policy: attestedPolicy([]) })),
    (e: { name?: string; message?: string }) =>
      e.name === 'AccessDeniedException' && /without --credentials/.test(e.message ?? ''),
  );
  assert.ok(s.lines.some((l) => l.includes('"operation":"PutKeyPolicy"') && l.includes('"code":"KMS_DENIED"')));
});
