/**
 * `keycast kms-policy --log`: the active releases come from the real log through the verified
 * log client — three releases published, one revoked, the policy lists the other two; a log key
 * that is not the log's, or a witness that never cosigned, refuses instead of printing a policy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVerifierError } from '#verifier';
import { cosignatureVerifierKey, generateNoteKey } from '#verifier/build';
import { createLog } from '../log-server/index.ts';
import { runEnclaveCommand } from './enclave-command.ts';
import { checkKmsKeyPolicy } from '../enclave/index.ts';
import { listenLog, newPublisher, releaseBundle, releaseFields, revocationBundle } from './log-fixtures.ts';

const ORIGIN = 'releases.keycast.test/kms';
const ROLE = 'arn:aws:iam::111122223333:role/keycast-enclave';
const ADMIN = 'arn:aws:iam::111122223333:role/key-admin';

const run = runEnclaveCommand;

test('kms-policy reads releases and revocations through verified log reads', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-kms-policy-'));
  createLog(dir, ORIGIN);
  const pub = newPublisher();
  const { log, url } = await listenLog(t, dir, [pub.publicPem], dir);
  const add = async (body: string) =>
    (await (
      await fetch(`${url}/add-entry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    ).json()) as { index: number };
  for (const seed of ['a', 'b', 'c']) await add(releaseBundle(pub, seed));
  await add(revocationBundle(pub, 1, releaseFields('b').pcr0));

  const r = await run([
    'kms-policy',
    '--log',
    url,
    '--log-key',
    log.key.vkey,
    '--enclave-role',
    ROLE,
    '--admin',
    ADMIN,
    '--policy-admin',
    ADMIN,
    '--json',
  ]);
  assert.equal(r.code, 0);
  const j = JSON.parse(r.out);
  assert.deepEqual(j.pcr0s, [releaseFields('a').pcr0, releaseFields('c').pcr0].sort());
  assert.deepEqual(
    j.releases.map((x: { index: number; active: boolean }) => [x.index, x.active]),
    [
      [0, true],
      [1, false],
      [2, true],
    ],
  );
  assert.deepEqual(
    j.policy.Statement[0].Condition.StringEqualsIgnoreCase['kms:RecipientAttestation:ImageSha384'],
    j.pcr0s,
  );
  assert.ok(!checkKmsKeyPolicy(JSON.stringify(j.policy)).some((f) => f.severity === 'error'));
  const policyFile = join(dir, 'policy.json');
  writeFileSync(policyFile, JSON.stringify(j.policy));
  assert.equal((await run(['kms-policy', 'check', policyFile])).code, 0);
  writeFileSync(
    policyFile,
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' },
      ],
    }),
  );
  const bad = await run(['kms-policy', 'check', policyFile, '--json']);
  assert.equal(bad.code, 1);
  assert.deepEqual(
    JSON.parse(bad.out)
      .findings.filter((f: { severity: string }) => f.severity === 'error')
      .map((f: { code: string }) => f.code),
    ['UNATTESTED_ENCRYPT', 'UNCONDITIONED_DECRYPT'],
  );

  // a key that is not the log's, and a witness the log never had cosign: refused, no policy printed
  await assert.rejects(
    run([
      'kms-policy',
      '--log',
      url,
      '--log-key',
      generateNoteKey(ORIGIN).vkey,
      '--enclave-role',
      ROLE,
      '--admin',
      ADMIN,
    ]),
    (e) => isVerifierError(e),
  );
  await assert.rejects(
    run([
      'kms-policy',
      '--log',
      url,
      '--log-key',
      log.key.vkey,
      '--witness',
      cosignatureVerifierKey(generateNoteKey('witness.test').skey),
      '--enclave-role',
      ROLE,
      '--admin',
      ADMIN,
    ]),
    (e) => isVerifierError(e, 'WITNESS_POLICY'),
  );
  const direct = await run(['kms-policy', '--pcr0', releaseFields('a').pcr0, '--enclave-role', ROLE, '--admin', ADMIN]);
  assert.equal(
    JSON.parse(direct.out).Statement[0].Condition.StringEqualsIgnoreCase['kms:RecipientAttestation:ImageSha384'][0],
    releaseFields('a').pcr0,
  );
});
