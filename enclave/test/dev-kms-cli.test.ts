/**
 * `keycast dev-kms` as a process: flags, --trust-root and --credentials, one line per request
 * without secrets, a clean stop on SIGTERM, and a data directory refusing another region.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { openForRecipient } from '#verifier';
import { AwsKmsPort } from '../runtime/kms/aws.ts';
import { ADMIN, ENCLAVE_ROLE, attestedPolicy, createTestPki, enclave } from './kms-fixtures.ts';

const BIN = resolve(import.meta.dirname, '../../bin/keycast.mjs');
const CREDS = [
  { accessKeyId: 'AKIAENCLAVECLI000001', secretAccessKey: 's1', principal: ENCLAVE_ROLE },
  { accessKeyId: 'AKIAADMINCLI00000001', secretAccessKey: 's2', principal: ADMIN },
];

test('keycast dev-kms serves the SDK with the test root passed by flag, logs no secrets, stops on SIGTERM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-dev-kms-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pki = createTestPki();
  const good = enclave(pki);
  writeFileSync(join(dir, 'root.pem'), pki.rootPem);
  writeFileSync(join(dir, 'creds.json'), JSON.stringify(CREDS));
  const data = join(dir, 'kms');
  const child = spawn(
    process.execPath,
    [
      BIN,
      'dev-kms',
      '--data',
      data,
      '--listen',
      '127.0.0.1:0',
      '--trust-root',
      join(dir, 'root.pem'),
      '--credentials',
      join(dir, 'creds.json'),
      '--json',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)));
  const url = await new Promise<string>((ok, fail) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = /"event":"listening","url":"([^"]+)"/.exec(out);
      if (m) ok(m[1]!);
    });
    child.on('exit', (code) => fail(new Error(`dev-kms exited ${code}: ${err}`)));
  });
  t.after(() => child.kill('SIGKILL'));
  assert.match(out, /"signatures":"verified"/);
  const admin = new KMSClient({ region: 'us-east-1', endpoint: url, maxAttempts: 1, credentials: CREDS[1]! });
  const { KeyMetadata } = await admin.send(new CreateKeyCommand({ Policy: attestedPolicy([good.pcr0]) }));
  const port = new AwsKmsPort({ region: 'us-east-1', endpoint: url, credentials: CREDS[0]! });
  const r = await port.generateDataKey({ keyId: KeyMetadata!.KeyId!, attestationDocument: await good.attest() });
  const dk = await openForRecipient(r.ciphertextForRecipient, good.privateKey);
  port.destroy();
  admin.destroy();
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  const lines = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.filter((l) => l.event === 'request').map((l) => [l.operation, l.status, l.principal]),
    [
      ['CreateKey', 200, ADMIN],
      ['GenerateDataKey', 200, ENCLAVE_ROLE],
    ],
  );
  for (const s of [out, err])
    assert.ok(!s.includes(Buffer.from(dk).toString('base64')) && !s.includes(Buffer.from(dk).toString('hex')));

  const again = spawnSync(
    process.execPath,
    [BIN, 'dev-kms', '--data', data, '--listen', '127.0.0.1:0', '--region', 'eu-west-1'],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(again.status, 5, again.stderr);
  assert.match(again.stderr, /KMS_KEY_STORE/);
  const usage = spawnSync(process.execPath, [BIN, 'dev-kms', '--data', data, '--listen', 'nope'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(usage.status, 2);
  const both = spawnSync(
    process.execPath,
    [
      BIN,
      'dev-kms',
      '--data',
      data,
      '--listen',
      '127.0.0.1:0',
      '--credentials',
      join(dir, 'creds.json'),
      '--caller',
      ADMIN,
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(both.status, 2);
});
