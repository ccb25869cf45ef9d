/**
 * The key policy end to end through the real keycast CLI of this repository (a separate package:
 * the process boundary is the package boundary): `keycast kms-policy` makes the policy, the key
 * stack is synthesized with it, the policy is read back out of the template, and `keycast
 * kms-policy check` passes on it — and fails on the same template with the attestation condition
 * taken off. cdk.json's example policy is what `keycast kms-policy` prints for its inputs (no drift).
 * The policy read from a real log is test/cdk.test.ts's, at the repository root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../lib/app.ts';
import { exampleContext, PKG, REPO } from './helpers.ts';

const KEYCAST = join(REPO, 'bin', 'keycast.mjs');
const installed = existsSync(join(REPO, 'node_modules', 'tsx'));

function keycast(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((done) =>
    execFile(process.execPath, [KEYCAST, ...args], { encoding: 'utf8', cwd: REPO }, (e, out, err) =>
      done({ code: e ? ((e as { code?: number }).code ?? 70) : 0, out, err }),
    ),
  );
}

const example = JSON.parse(readFileSync(join(PKG, 'examples', 'key-policy.json'), 'utf8')) as {
  Statement: {
    Sid: string;
    Principal: { AWS: string | string[] };
    Condition?: Record<string, Record<string, string[]>>;
  }[];
};
const sid = (p: typeof example, s: string) => p.Statement.find((x) => x.Sid === s)!;
const ROLE = sid(example, 'KeycastEnclaveAttested').Principal.AWS as string;
const ADMIN = sid(example, 'KeycastKeyAdministration').Principal.AWS as string[];
const POLICY_ADMIN = sid(example, 'KeycastPolicyUpdates').Principal.AWS as string[];
const PCR0S = sid(example, 'KeycastEnclaveAttested').Condition!.StringEqualsIgnoreCase![
  'kms:RecipientAttestation:ImageSha384'
]!;

test('keycast kms-policy → key stack → keycast kms-policy check on the synthesized key policy', {
  skip: !installed && 'the repository’s node_modules are not installed (npm ci at the root): no keycast CLI to run',
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kc-cdk-policy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const made = await keycast([
    'kms-policy',
    ...PCR0S.flatMap((p) => ['--pcr0', p]),
    '--enclave-role',
    ROLE,
    ...ADMIN.flatMap((a) => ['--admin', a]),
    ...POLICY_ADMIN.flatMap((a) => ['--policy-admin', a]),
  ]);
  assert.equal(made.code, 0, made.err);
  assert.deepEqual(JSON.parse(made.out), example, 'examples/key-policy.json drifted from `keycast kms-policy`');
  const policyFile = join(dir, 'policy.json');
  writeFileSync(policyFile, made.out);

  // the key stack alone (no release named yet: the first deployment's step)
  const built = buildApp({
    context: exampleContext({ keyPolicyFile: policyFile, eifUri: '' }),
    outdir: join(dir, 'out'),
  });
  assert.equal(built.service, undefined);
  const [key] = Object.values(Template.fromStack(built.keys).findResources('AWS::KMS::Key')) as {
    Properties: { KeyPolicy: unknown };
  }[];
  const synthesized = join(dir, 'synthesized.json');
  writeFileSync(synthesized, JSON.stringify(key!.Properties.KeyPolicy));
  // the same template with the attestation condition taken off the enclave role's allow
  const tampered = structuredClone(key!.Properties.KeyPolicy) as typeof example;
  delete sid(tampered, 'KeycastEnclaveAttested').Condition;
  const tamperedFile = join(dir, 'tampered.json');
  writeFileSync(tamperedFile, JSON.stringify(tampered));

  const [ok, bad] = await Promise.all([
    keycast(['kms-policy', 'check', synthesized, '--enclave-role', ROLE, '--json']),
    keycast(['kms-policy', 'check', tamperedFile, '--enclave-role', ROLE, '--json']),
  ]);
  assert.equal(ok.code, 0, ok.out + ok.err);
  assert.equal(JSON.parse(ok.out).ok, true);
  assert.equal(bad.code, 1, bad.out + bad.err);
  const codes = (JSON.parse(bad.out).findings as { severity: string; code: string }[])
    .filter((f) => f.severity === 'error')
    .map((f) => f.code);
  assert.deepEqual(codes, ['UNCONDITIONED_DECRYPT']);
});
