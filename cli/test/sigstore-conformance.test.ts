/**
 * Every case of the Sigstore conformance suite's bundle-verification set (testdata/
 * sigstore-conformance, real public-good bundles), driven through the suite's own command-line
 * protocol: the argv its harness builds goes to the client entrypoint (cli/sigstore-conformance.ts),
 * which answers with `keycast verify bundle`. In-process for all 54 cases (one process each would
 * cost ~1 s of CPU apiece); the real entrypoint process is spawned for one passing and one failing
 * case, where the process boundary (exit status) is what is checked.
 *
 * A passing case must exit 0; a `_fail` case must exit 1 — a coded refusal, not a usage error (2)
 * or a crash (70), so a failure "for the wrong reason" is caught too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { conformanceMain, keycastArgv } from '../sigstore-conformance.ts';
import { PUBLIC_GOOD_TRUSTED_ROOT_SHA256, publicGoodTrustedRootBytes } from '#verifier/build';

const ROOT = resolve(import.meta.dirname, '../..');
const CASES = join(ROOT, 'testdata/sigstore-conformance/cases');
const CLIENT = join(ROOT, 'bin/sigstore-conformance-client.mjs');
const DEFAULT_IDENTITY =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const DEFAULT_ISSUER = 'https://token.actions.githubusercontent.com';

const names = readdirSync(CASES)
  .filter((n) => statSync(join(CASES, n)).isDirectory())
  .sort();

/** The argv the upstream harness passes for one case (README: "The protocol the suite drives"). */
function protocolArgv(name: string): string[] {
  const f = (n: string) => join(CASES, name, n);
  const has = (n: string) => existsSync(f(n));
  const args = ['verify-bundle', '--bundle', f('bundle.sigstore.json')];
  if (has('key.pub')) args.push('--key', f('key.pub'));
  else
    args.push(
      '--certificate-identity',
      has('identity') ? readFileSync(f('identity'), 'utf8').trim() : DEFAULT_IDENTITY,
      '--certificate-oidc-issuer',
      has('issuer') ? readFileSync(f('issuer'), 'utf8').trim() : DEFAULT_ISSUER,
    );
  if (has('trusted_root.json')) args.push('--trusted-root', f('trusted_root.json'));
  args.push(has('artifact') ? f('artifact') : join(CASES, 'a.txt'));
  return args;
}

/** Runs the client in-process, capturing what it prints. */
async function runInProcess(argv: string[]): Promise<{ code: number; out: string }> {
  const log = console.log;
  const write = process.stderr.write.bind(process.stderr);
  let out = '';
  console.log = (...a: unknown[]) => {
    out += `${a.join(' ')}\n`;
  };
  process.stderr.write = ((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await conformanceMain(argv), out };
  } finally {
    console.log = log;
    process.stderr.write = write;
  }
}

test('the conformance set holds 54 cases, 37 of them _fail', () => {
  assert.equal(names.length, 54);
  assert.equal(names.filter((n) => n.endsWith('_fail')).length, 37);
});

test('the client protocol maps verify-bundle to keycast verify bundle, and nothing else', async () => {
  assert.deepEqual(keycastArgv(['verify-bundle', '--bundle', 'b', 'x']), ['verify', 'bundle', '--bundle', 'b', 'x']);
  assert.equal(keycastArgv(['sign-bundle', 'x']), undefined);
  assert.equal((await runInProcess(['sign-bundle', '--bundle', 'b', 'x'])).code, 2);
});

for (const name of names) {
  test(`conformance: ${name}`, async () => {
    const { code, out } = await runInProcess(protocolArgv(name));
    assert.equal(code, name.endsWith('_fail') ? 1 : 0, out);
  });
}

test('the digest form (sha256:<hex>) verifies the same bundles', async () => {
  const digest = createHash('sha256')
    .update(readFileSync(join(CASES, 'a.txt')))
    .digest('hex');
  for (const name of [
    'happy-path-v0.3',
    'happy-path-intoto-in-dsse-v3',
    'rekor2-happy-path',
    'rekor2-dsse-happy-path',
  ]) {
    const argv = protocolArgv(name);
    argv[argv.length - 1] = `sha256:${digest}`;
    assert.equal((await runInProcess(argv)).code, 0, name);
    argv[argv.length - 1] = `sha256:${'0'.repeat(64)}`;
    const wrong = await runInProcess(argv);
    assert.equal(wrong.code, 1, name);
    assert.match(wrong.out, /ARTIFACT_MISMATCH|SIGSTORE_INVALID/);
  }
});

test('the entrypoint as a process: exit 0 for a passing case, non-zero for a failing one', async () => {
  const run = (argv: string[]) =>
    new Promise<number>((done) =>
      execFile(process.execPath, [CLIENT, ...argv], { timeout: 60_000 }, (err) =>
        done(err ? (typeof err.code === 'number' ? err.code : 70) : 0),
      ),
    );
  const [ok, bad] = await Promise.all([
    run(protocolArgv('happy-path-v0.3')),
    run(protocolArgv('wrong-hashedrekord-artifact_fail')),
  ]);
  assert.equal(ok, 0);
  assert.equal(bad, 1);
});

test('the default trust root is the public-good root @sigstore/tuf ships, pinned by digest', () => {
  const bytes = publicGoodTrustedRootBytes();
  assert.equal(createHash('sha256').update(bytes).digest('hex'), PUBLIC_GOOD_TRUSTED_ROOT_SHA256);
  const root = JSON.parse(Buffer.from(bytes).toString('utf8')) as { tlogs: Array<{ baseUrl: string }> };
  assert.ok(root.tlogs.some((t) => t.baseUrl === 'https://rekor.sigstore.dev'));
});

test('verify bundle: usage errors (exit 2) and refusals (exit 1) name what is wrong', async () => {
  const happy = protocolArgv('happy-path-v0.3').slice(1); // without the subcommand
  const bundle = join(CASES, 'happy-path-v0.3/bundle.sigstore.json');
  const artifact = join(CASES, 'a.txt');
  const run = (args: string[]) => runInProcess(['verify-bundle', ...args]);
  const id = ['--certificate-identity', DEFAULT_IDENTITY, '--certificate-oidc-issuer', DEFAULT_ISSUER];
  assert.equal((await run(happy)).code, 0);
  // neither or both of identity and key; an identity without an issuer; no artifact; a bad digest
  assert.equal((await run(['--bundle', bundle, artifact])).code, 2);
  assert.equal(
    (await run(['--bundle', bundle, ...id, '--key', join(CASES, 'managed-key-happy-path/key.pub'), artifact])).code,
    2,
  );
  assert.equal((await run(['--bundle', bundle, '--certificate-identity', DEFAULT_IDENTITY, artifact])).code, 2);
  assert.equal((await run(['--bundle', bundle, ...id])).code, 2);
  assert.equal((await run(['--bundle', bundle, ...id, 'sha256:abc'])).code, 2);
  assert.equal((await run(['--bundle', bundle, ...id, '--certificate-identity-regexp', '(', artifact])).code, 2);
  // a missing file is an I/O error (6), not a verdict
  assert.equal((await run(['--bundle', join(CASES, 'nope.json'), ...id, artifact])).code, 6);
  // a keyless bundle given a key, the wrong issuer, a prefix of the identity: refused with the code
  const key = await run(['--bundle', bundle, '--key', join(CASES, 'managed-key-happy-path/key.pub'), artifact]);
  assert.equal(key.code, 1);
  assert.match(key.out, /SIGNER_NOT_ALLOWED/);
  const issuer = await run([
    '--bundle',
    bundle,
    '--certificate-identity',
    DEFAULT_IDENTITY,
    '--certificate-oidc-issuer',
    'https://accounts.google.com',
    artifact,
  ]);
  assert.equal(issuer.code, 1);
  assert.match(issuer.out, /IDENTITY_MISMATCH: .*--certificate-oidc-issuer/);
  const prefix = await run([
    '--bundle',
    bundle,
    '--certificate-identity',
    DEFAULT_IDENTITY.slice(0, 40),
    '--certificate-oidc-issuer',
    DEFAULT_ISSUER,
    artifact,
  ]);
  assert.equal(prefix.code, 1);
  // another artifact
  const other = await run(['--bundle', bundle, ...id, join(CASES, 'bundle-with-root-cert_fail/artifact')]);
  assert.equal(other.code, 1);
  assert.match(other.out, /ARTIFACT_MISMATCH/);
});
