/**
 * `keycast nsm …` commands, run in-process: test-PKI init writes a 0600 file holding only the
 * keys asked for, attest --sim writes a document that the verifier accepts with that root,
 * describe prints the PCR table, and bad flags are usage errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commands } from '../cli.ts';
import { commands as runtimeCommands } from '../runtime/cli.ts';
import { verifyAttestationDocument } from '#verifier';

const dir = mkdtempSync(join(tmpdir(), 'keycast-nsm-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

async function run(path: string, args: string[]): Promise<{ code: number; out: string }> {
  const cmd = commands.find((c) => c.path.join(' ') === path);
  assert.ok(cmd, `command ${path} exists`);
  const lines: string[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => {
    lines.push(a.join(' '));
  };
  try {
    return { code: await cmd.run(args), out: lines.join('\n') };
  } finally {
    console.log = orig;
  }
}

const usage = (e: unknown) => (e as Error).name === 'UsageError' && (e as { code?: string }).code === 'USAGE';

test('every command has a path under nsm, dev-kms, kms-policy, enclave or host, a summary and help', () => {
  assert.deepEqual(commands.map((c) => c.path.join(' ')).sort(), [
    'dev certs',
    'dev-kms',
    'enclave run',
    'host run',
    'kms-policy',
    'kms-policy check',
    'nsm attest',
    'nsm describe',
    'nsm test-pki init',
    'nsm test-pki renew',
  ]);
  for (const c of commands) {
    assert.ok(c.summary.length > 10);
    assert.ok(
      c.help.startsWith(`Usage: keycast ${c.path.join(' ')} `) || c.help.startsWith(`keycast ${c.path.join(' ')} `),
      c.path.join(' '),
    );
  }
});

test('test-pki init → attest --sim → verified with the written root; renew keeps the root', async () => {
  const pkiFile = join(dir, 'pki.json');
  const rootFile = join(dir, 'root.pem');
  const init = await run('nsm test-pki init', [
    '--out',
    pkiFile,
    '--keys',
    'all',
    '--root-out',
    rootFile,
    '--instance-id',
    'i-0123456789abcdef0',
    '--json',
  ]);
  assert.equal(init.code, 0);
  assert.equal(statSync(pkiFile).mode & 0o777, 0o600);
  const j = JSON.parse(readFileSync(pkiFile, 'utf8'));
  assert.deepEqual(Object.keys(j.privateKeys).sort(), ['instance', 'regional', 'root', 'zonal']);
  const rootSha = JSON.parse(init.out).rootSha256;

  const pcrsFile = join(dir, 'pcrs.json');
  writeFileSync(
    pcrsFile,
    JSON.stringify({
      Measurements: {
        HashAlgorithm: 'Sha384 { ... }',
        PCR0: '11'.repeat(48),
        PCR1: '22'.repeat(48),
        PCR2: '33'.repeat(48),
      },
    }),
  );
  const docFile = join(dir, 'doc.cbor');
  const att = await run('nsm attest', [
    '--sim',
    '--pki',
    pkiFile,
    '--pcrs',
    pcrsFile,
    '--nonce',
    'c0ffee',
    '--user-data',
    '',
    '--out',
    docFile,
    '--json',
  ]);
  assert.equal(att.code, 0);
  const doc = new Uint8Array(readFileSync(docFile));
  const root = new Uint8Array(Buffer.from(readFileSync(rootFile, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64'));
  const v = verifyAttestationDocument(doc, {
    trustedRoots: [root],
    policy: { nonce: Uint8Array.of(0xc0, 0xff, 0xee), userData: new Uint8Array(0) },
  });
  assert.equal(v.rootSha256, rootSha);
  assert.equal(Buffer.from(v.pcrs.get(0)!).toString('hex'), '11'.repeat(48));

  const renew = await run('nsm test-pki renew', ['--pki', pkiFile]);
  assert.equal(renew.code, 0);
  assert.equal(JSON.parse(readFileSync(pkiFile, 'utf8')).certificates.root, j.certificates.root);
  assert.notEqual(JSON.parse(readFileSync(pkiFile, 'utf8')).certificates.instance, j.certificates.instance);

  const d = await run('nsm describe', ['--sim', '--pki', pkiFile, '--pcrs', pcrsFile, '--json']);
  const desc = JSON.parse(d.out);
  assert.equal(desc.maxPcrs, 32);
  assert.equal(desc.pcrs.length, 32);
  assert.equal(desc.pcrs[2].value, '33'.repeat(48));
  assert.equal(desc.pcrs[16].locked, false);
});

test('--keys none writes no private key; attest with it is a coded PKI_MALFORMED', async () => {
  const pkiFile = join(dir, 'public.json');
  assert.equal((await run('nsm test-pki init', ['--out', pkiFile, '--keys', 'none'])).code, 0);
  assert.equal(readFileSync(pkiFile, 'utf8').includes('PRIVATE KEY'), false);
  const pcrsFile = join(dir, 'p.json');
  writeFileSync(pcrsFile, JSON.stringify({ pcr0: '11'.repeat(48), pcr1: '22'.repeat(48), pcr2: '33'.repeat(48) }));
  await assert.rejects(
    run('nsm attest', ['--sim', '--pki', pkiFile, '--pcrs', pcrsFile, '--out', join(dir, 'x.cbor')]),
    (e: unknown) => (e as { code?: string }).code === 'PKI_MALFORMED',
  );
});

test('a test PKI file readable by group or others is refused (PKI_FILE_EXPOSED) by attest and renew', async () => {
  const pkiFile = join(dir, 'exposed.json');
  assert.equal((await run('nsm test-pki init', ['--out', pkiFile, '--keys', 'all'])).code, 0);
  const pcrsFile = join(dir, 'e.json');
  writeFileSync(pcrsFile, JSON.stringify({ pcr0: '11'.repeat(48), pcr1: '22'.repeat(48), pcr2: '33'.repeat(48) }));
  chmodSync(pkiFile, 0o644);
  const before = readFileSync(pkiFile, 'utf8');
  const exposed = (e: unknown) => (e as { code?: string }).code === 'PKI_FILE_EXPOSED';
  await assert.rejects(
    run('nsm attest', ['--sim', '--pki', pkiFile, '--pcrs', pcrsFile, '--out', join(dir, 'e.cbor')]),
    exposed,
  );
  await assert.rejects(run('nsm test-pki renew', ['--pki', pkiFile]), exposed);
  assert.equal(readFileSync(pkiFile, 'utf8'), before, 'nothing rewritten');
  const copy = join(dir, 'owner-only.json');
  copyFileSync(pkiFile, copy);
  chmodSync(copy, 0o600);
  assert.equal(
    (await run('nsm attest', ['--sim', '--pki', copy, '--pcrs', pcrsFile, '--out', join(dir, 'e.cbor')])).code,
    0,
  );
});

test('bad flags are usage errors', async () => {
  await assert.rejects(run('nsm attest', ['--nope']), usage);
  await assert.rejects(run('nsm attest', ['--sim', '--out', join(dir, 'y')]), usage);
  await assert.rejects(run('nsm attest', ['--out', join(dir, 'y'), '--nonce', 'xyz']), usage);
  await assert.rejects(run('nsm test-pki init', ['--out', join(dir, 'z'), '--keys', 'some']), usage);
  await assert.rejects(
    run('nsm test-pki init', ['--out', join(dir, 'z'), '--keys', 'all', '--instance-id', 'i-1']),
    usage,
  );
  await assert.rejects(run('nsm test-pki renew', []), usage);
  const notJson = join(dir, 'not.json');
  writeFileSync(notJson, '{pcr0');
  await assert.rejects(
    run('nsm attest', ['--sim', '--pki', join(dir, 'pki.json'), '--pcrs', notJson, '--out', join(dir, 'y')]),
    usage,
  );
});

test('describe on a machine without /dev/nsm is a coded NSM_UNAVAILABLE', async () => {
  await assert.rejects(
    run('nsm describe', ['--device', join(dir, 'no-such-nsm')]),
    (e: unknown) => (e as { code?: string }).code === 'NSM_UNAVAILABLE',
  );
});

test("the image's enclave run (runtime/cli.ts) has no simulator: --nsm sim and test-only keys are usage errors", async () => {
  assert.deepEqual(
    runtimeCommands.map((c) => c.path.join(' ')),
    ['enclave run'],
  );
  const [imageRun] = runtimeCommands;
  const devRun = commands.find((c) => c.path.join(' ') === 'enclave run')!;
  assert.notEqual(imageRun, devRun, 'keycast serves --nsm sim from the dev tools, not the runtime');
  assert.equal(imageRun!.help, devRun.help, 'one command, one help, whichever room serves it');
  const refused = (re: RegExp) => (e: unknown) => usage(e) && re.test((e as Error).message);
  await assert.rejects(
    imageRun!.run([
      '--nsm',
      'sim',
      '--pki',
      join(dir, 'pki.json'),
      '--pcrs',
      join(dir, 'p'),
      '--listen',
      '127.0.0.1:0',
    ]),
    refused(/--nsm sim needs the development tools/),
  );
  await assert.rejects(
    imageRun!.run(['--nsm=sim', '--listen', '127.0.0.1:0']),
    refused(/--nsm sim needs the development tools/),
  );
  await assert.rejects(
    imageRun!.run(['--test-dkdm-key', join(dir, 'k.pem'), '--listen', '127.0.0.1:0']),
    refused(/test option of --nsm sim only/),
  );
  // the dev tools' variant takes --nsm sim (and asks for its files)
  await assert.rejects(devRun.run(['--nsm', 'sim', '--listen', '127.0.0.1:0']), refused(/--pki FILE and --pcrs FILE/));
});
