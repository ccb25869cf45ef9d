/**
 * The CDK app (enclave/deploy/cdk, its own package: aws-cdk-lib stays out of the main install),
 * from the root `npm test`: its own tests, and the key policy from a real log all the way into the
 * synthesized template — releases published to an in-process log, one revoked, `keycast
 * kms-policy --log` reads them through verified reads, `npm run synth` (offline) puts the policy on
 * the key, and `keycast kms-policy check` passes on the policy read back from the template and
 * fails on the template tampered with. Both skip, saying why, when the package is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLog } from '../log-server/index.ts';
import { runEnclaveCommand } from './enclave-command.ts';
import { listenLog, newPublisher, releaseBundle, releaseFields, revocationBundle } from './log-fixtures.ts';

const CDK = resolve(import.meta.dirname, '..', 'enclave', 'deploy', 'cdk');
const NOT_INSTALLED = existsSync(join(CDK, 'node_modules', 'aws-cdk-lib'))
  ? false
  : 'enclave/deploy/cdk/node_modules is not installed: run `npm ci` in enclave/deploy/cdk (.ci/run does) to run the CDK tests';
const ROLE = 'arn:aws:iam::111122223333:role/keycast-parent';
const ADMIN = 'arn:aws:iam::111122223333:role/keycast-key-admin';
const IMAGE_SHA384 = 'kms:RecipientAttestation:ImageSha384';

function node(args: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  // a child of the test runner would otherwise report to it instead of printing its own results
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  return new Promise((done) =>
    execFile(process.execPath, args, { cwd, env, encoding: 'utf8', maxBuffer: 16 << 20 }, (e, out, err) =>
      done({ code: e ? ((e as { code?: number }).code ?? 70) : 0, out, err }),
    ),
  );
}

const run = runEnclaveCommand;

test('the CDK app’s own tests (npm test in enclave/deploy/cdk)', { skip: NOT_INSTALLED }, async () => {
  const files = readdirSync(join(CDK, 'test'))
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => join('test', f));
  assert.ok(files.length >= 4);
  const r = await node(['--import', 'tsx', '--test', '--test-reporter=tap', '--test-concurrency=2', ...files], CDK);
  assert.equal(r.code, 0, `${r.out.slice(-6000)}\n${r.err.slice(-2000)}`);
  assert.match(r.out, /^# fail 0$/m);
});

test('a key policy from the log, synthesized onto the key, passes kms-policy check; tampered, it fails', {
  skip: NOT_INSTALLED,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kc-cdk-log-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  createLog(dir, 'releases.keycast.test/cdk');
  const pub = newPublisher();
  const { log, url } = await listenLog(t, dir, [pub.publicPem], dir);
  const add = async (body: string) =>
    assert.equal(
      (await fetch(`${url}/add-entry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }))
        .status,
      200,
    );
  for (const seed of ['old', 'new', 'bad']) await add(releaseBundle(pub, seed));
  await add(revocationBundle(pub, 2, releaseFields('bad').pcr0));
  const made = await run([
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
  ]);
  assert.equal(made.code, 0);
  const policyFile = join(dir, 'policy.json');
  writeFileSync(policyFile, made.out);

  // npm run synth, offline; no release named yet: the key stack alone
  const out = join(dir, 'cdk.out');
  const synth = await node(
    ['--import', 'tsx', 'bin/app.ts', '-c', `keyPolicyFile=${policyFile}`, '-c', 'eifUri=', '--output', out],
    CDK,
  );
  assert.equal(synth.code, 0, synth.err);
  assert.match(synth.out, /synth: KeycastKey → /);
  const template = JSON.parse(readFileSync(join(out, 'KeycastKey.template.json'), 'utf8')) as {
    Resources: Record<string, { Type: string; Properties: { KeyPolicy?: unknown; RoleName?: string } }>;
  };
  const key = Object.values(template.Resources).find((r) => r.Type === 'AWS::KMS::Key')!;
  const role = Object.values(template.Resources).find((r) => r.Type === 'AWS::IAM::Role')!;
  assert.deepEqual(key.Properties.KeyPolicy, JSON.parse(made.out), 'the key policy is the one kms-policy printed');
  assert.equal(role.Properties.RoleName, 'keycast-parent');
  type Policy = { Statement: { Sid: string; Condition?: Record<string, Record<string, string[]>> }[] };
  const policy = key.Properties.KeyPolicy as Policy;
  const attested = policy.Statement.find((s) => s.Sid === 'KeycastEnclaveAttested')!;
  // both active releases admitted (a rollout's state), the revoked one not
  assert.deepEqual(
    attested.Condition!.StringEqualsIgnoreCase![IMAGE_SHA384],
    [releaseFields('old').pcr0, releaseFields('new').pcr0].sort(),
  );

  const extracted = join(dir, 'extracted.json');
  writeFileSync(extracted, JSON.stringify(policy));
  assert.equal((await run(['kms-policy', 'check', extracted, '--enclave-role', ROLE])).code, 0);
  const errors = async (p: Policy) => {
    writeFileSync(extracted, JSON.stringify(p));
    const r = await run(['kms-policy', 'check', extracted, '--enclave-role', ROLE, '--json']);
    assert.equal(r.code, 1);
    return (JSON.parse(r.out).findings as { severity: string; code: string }[])
      .filter((f) => f.severity === 'error')
      .map((f) => f.code);
  };
  // the template tampered with: any image, and no condition at all
  const anyImage = structuredClone(policy);
  const a = anyImage.Statement.find((s) => s.Sid === 'KeycastEnclaveAttested')!;
  a.Condition = { StringLike: { [IMAGE_SHA384]: ['*'] } };
  assert.ok((await errors(anyImage)).includes('BYPASSABLE_CONDITION'));
  const none = structuredClone(policy);
  delete none.Statement.find((s) => s.Sid === 'KeycastEnclaveAttested')!.Condition;
  assert.deepEqual(await errors(none), ['UNCONDITIONED_DECRYPT']);
});
