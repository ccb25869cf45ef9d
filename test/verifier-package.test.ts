/**
 * The studio install, as a studio would do it: `npm pack` in verifier/ (prepack bundles
 * cli/studio.ts with scripts/build-verifier-package.mjs, so the tarball is built from this very
 * tree and cannot be stale), `npm install` of the tarball into an empty directory with no
 * registry (offline, an empty cache, and a registry address nothing listens on), then
 * `npx keycast …`. The process boundary is what is tested: the installed package must run on its
 * own, with no better-sqlite3, fastify or AWS SDK in its node_modules — and it must verify for
 * real (an AWS-signed attestation document, a release through a live log), not only print help.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { buildKdm, kdmSigner } from '#verifier/build';
import { createProjectorPki, createSignerChain } from '../enclave/index.ts';
import { createLog } from '../log-server/index.ts';
import { listenLog, newPublisher, releaseBundle, releaseFields } from './log-fixtures.ts';

const ROOT = resolve(import.meta.dirname, '..');
const NITRO = join(ROOT, 'testdata/nitro/attestation');
const FORBIDDEN = /^(better-sqlite3|fastify|@fastify|@aws-sdk|@smithy|koffi|tsx|esbuild)$/;

const tmp = mkdtempSync(join(tmpdir(), 'keycast-studio-install-'));
const studio = join(tmp, 'studio');
mkdirSync(studio);
/** npm with no way to reach a registry: offline, its own empty cache, a dead registry address. */
const NPM_ENV = {
  ...process.env,
  npm_config_offline: 'true',
  npm_config_cache: join(tmp, 'npm-cache'),
  npm_config_registry: 'http://127.0.0.1:9/',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
};

type Run = { code: number; stdout: string; stderr: string };
function run(file: string, args: string[]): Promise<Run> {
  return new Promise((done) =>
    execFile(file, args, { cwd: studio, env: NPM_ENV, timeout: 60_000 }, (e, stdout, stderr) =>
      done({ code: e ? (typeof e.code === 'number' ? e.code : 70) : 0, stdout, stderr }),
    ),
  );
}
/** As the README says it: `npx keycast …` in the studio's directory. */
const npx = (args: string[]) => run('npx', ['--no-install', 'keycast', ...args]);
/** The same installed bin without npx's second of start-up (node_modules/.bin/keycast). */
const keycast = (args: string[]) => run(join(studio, 'node_modules/.bin/keycast'), args);

/** Every package directory under node_modules (scoped ones as @scope/name), recursively. */
function installed(dir: string, out: string[] = []): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names) {
    if (n.startsWith('.')) continue;
    const pkgs = n.startsWith('@') ? readdirSync(join(dir, n)).map((s) => `${n}/${s}`) : [n];
    for (const p of pkgs) {
      out.push(p);
      installed(join(dir, p, 'node_modules'), out);
    }
  }
  return out;
}

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('npm pack in verifier/ gives @keycast/verifier: one bundled file, bin keycast, no runtime dependencies', () => {
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', tmp], {
      cwd: join(ROOT, 'verifier'),
      env: NPM_ENV,
    }).toString(),
  ) as Array<{ name: string; version: string; filename: string; files: Array<{ path: string }> }>;
  assert.ok(packed);
  const rootPkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  assert.deepEqual([packed.name, packed.version], ['@keycast/verifier', rootPkg.version], 'same version as keycast');
  assert.ok(
    readFileSync(join(ROOT, 'README.md'), 'utf8').includes(
      `npm install /tmp/${packed.filename} && npx keycast verify release --help`,
    ),
    'the README installs the tarball npm pack makes',
  );
  // npm always packs a package's README (verifier/README.md: the two sides and the auditor's list)
  assert.deepEqual(packed.files.map((f) => f.path).sort(), [
    'README.md',
    'dist/keycast.mjs',
    'dist/keycast.mjs.LEGAL.txt',
    'package.json',
  ]);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'verifier/package.json'), 'utf8'));
  assert.deepEqual(pkg.bin, { keycast: 'dist/keycast.mjs' });
  for (const k of ['dependencies', 'optionalDependencies', 'peerDependencies', 'bundleDependencies'])
    assert.equal(pkg[k], undefined, `no ${k}`);
  assert.deepEqual(pkg.engines, rootPkg.engines);
  // the bundle as packed: none of the code a studio does not need
  const bundle = readFileSync(join(ROOT, 'verifier/dist/keycast.mjs'), 'utf8');
  for (const absent of ['better-sqlite3', 'fastify', '@aws-sdk/', "group(['log'", 'log-server/'])
    assert.ok(!bundle.includes(absent), `the bundle holds no ${absent}`);

  execFileSync('npm', ['install', join(tmp, packed.filename)], { cwd: studio, env: NPM_ENV, stdio: 'pipe' });
  const tree = installed(join(studio, 'node_modules'));
  assert.deepEqual(tree, ['@keycast/verifier'], 'the tarball alone is installed');
  assert.deepEqual(
    tree.filter((p) => FORBIDDEN.test(p)),
    [],
  );
});

test('npx keycast: help for every studio command, only studio commands listed, stable exit codes', async () => {
  const [all, release] = await Promise.all([npx(['--help']), npx(['verify', 'release', '--help'])]);
  assert.equal(all.code, 0, all.stderr);
  assert.equal(release.code, 0, release.stderr);
  assert.match(release.stdout, /^keycast verify release .*--publisher/m);
  const listed = [...all.stdout.matchAll(/^ {2}keycast (\S+(?: \S+)?)\s{2,}/gm)].map((m) => m[1]);
  assert.deepEqual(listed.sort(), [
    'dkdm check',
    'forward',
    'kdm inspect',
    'kdm logged',
    'monitor',
    'raw open',
    'receipt verify',
    'rules endorse',
    'rules sign',
    'seal',
    'verify attestation',
    'verify bundle',
    'verify enclave',
    'verify release',
  ]);
  const helps = await Promise.all(listed.map((c) => keycast([...c!.split(' '), '--help'])));
  helps.forEach((h, i) => {
    assert.equal(h.code, 0, `${listed[i]} --help: ${h.stderr}`);
    assert.match(h.stdout, new RegExp(`keycast ${listed[i]}`), `${listed[i]} --help shows its usage`);
  });
  assert.match(helps[listed.indexOf('verify release')]!.stdout, /--publisher/);
  const [version, build, bare, badFlag] = await Promise.all([
    keycast(['--version']),
    keycast(['build', '--help']),
    keycast([]),
    keycast(['verify', 'release', '--no-such-flag']),
  ]);
  assert.equal(
    version.stdout.trim(),
    `keycast ${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}`,
  );
  assert.equal(build.code, 2, 'the builder is not in the studio package');
  assert.match(build.stderr, /unknown command 'build'/);
  assert.equal(bare.code, 2);
  assert.equal(badFlag.code, 2);
});

test('the installed keycast verifies for real: an AWS-signed attestation document, and a release through a live log', async (t) => {
  const doc = join(NITRO, 'marlin-aws-2024-12-13.cbor');
  const pcr0 = '189038eccf28a3a098949e402f3b3d86a876f4915c5b02d546abb5d8c507ceb1755b8192d8cfca66e8f226160ca4c7a6';
  const [ok, wrongPcr, forged] = await Promise.all([
    keycast(['verify', 'attestation', doc, '--at', 'document', '--expect-pcr0', pcr0, '--json']),
    keycast(['verify', 'attestation', doc, '--at', 'document', '--expect-pcr0', '00'.repeat(48), '--json']),
    keycast([
      'verify',
      'attestation',
      join(NITRO, 'NEGATIVE-eternis-invalid-signature-2024-07-23.cbor'),
      '--at',
      'document',
      '--any-pcr',
      '--json',
    ]),
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual([JSON.parse(ok.stdout).verified, JSON.parse(ok.stdout).pcrs['0']], [true, pcr0]);
  assert.deepEqual([wrongPcr.code, JSON.parse(wrongPcr.stdout).code], [1, 'PCR_MISMATCH']);
  assert.equal(forged.code, 1, forged.stderr + forged.stdout);

  // a release through a live log: the Sigstore bundle, the log's proofs and status statement
  const dir = join(tmp, 'log');
  const origin = 'releases.keycast.test/studio-install';
  const { vkey } = createLog(dir, origin);
  const p = newPublisher();
  const stranger = newPublisher();
  writeFileSync(join(tmp, 'publisher.pem'), p.publicPem);
  writeFileSync(join(tmp, 'stranger.pem'), stranger.publicPem);
  const log = await listenLog(t, dir, [p.publicPem], dir);
  const r = await fetch(`${log.url}/add-entry`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: releaseBundle(p, 'studio-install'),
  });
  assert.equal(r.status, 200, await r.text());
  const args = (publisher: string) => [
    'verify',
    'release',
    releaseFields('studio-install').pcr0,
    '--log',
    log.url,
    '--log-key',
    vkey,
    '--publisher',
    join(tmp, publisher),
    '--state',
    join(tmp, 'state'),
    '--json',
  ];
  const released = await keycast(args('publisher.pem'));
  assert.equal(released.code, 0, released.stderr + released.stdout);
  assert.deepEqual([JSON.parse(released.stdout).status, JSON.parse(released.stdout).logIndex], ['active', 0]);
  const notPinned = await keycast(args('stranger.pem'));
  assert.deepEqual([notPinned.code, JSON.parse(notPinned.stdout).code], [1, 'SIGNER_NOT_ALLOWED']);
});

test('the installed keycast reads a KDM: XML signature, signer chain, and the keys decrypted with the projector key', async () => {
  const now = new Date();
  const chain = createSignerChain({ name: 'studio-install.test', now });
  const pki = createProjectorPki({ count: 1, now });
  const projector = pki.projectors[0]!;
  const keys = [
    { id: 'urn:uuid:8f5c1a2e-0b6d-4c3e-9a7f-1e2d3c4b5a69', type: 'MDIK', key: new Uint8Array(randomBytes(16)) },
    { id: 'urn:uuid:1b2c3d4e-5f60-4718-a9b0-c1d2e3f4a5b6', type: 'MDAK', key: new Uint8Array(randomBytes(16)) },
  ];
  const t = (ms: number) => `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}+00:00`;
  const xml = buildKdm({
    cplId: 'urn:uuid:0b5c8a2e-6d7f-4e11-9c3a-2f4e5d6c7b8a',
    title: 'Studio install',
    keys,
    notBefore: t(now.getTime()),
    notAfter: t(now.getTime() + 7 * 86_400_000),
    issueDate: t(now.getTime()),
    recipient: projector.certificate,
    signer: kdmSigner(chain.chain, chain.privateKey),
  });
  writeFileSync(join(tmp, 'kdm.xml'), xml);
  writeFileSync(join(tmp, 'tampered.xml'), xml.replace('Studio install', 'Studio lnstall'));
  writeFileSync(join(tmp, 'projector.pem'), projector.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const [ok, tampered] = await Promise.all([
    keycast(['kdm', 'inspect', join(tmp, 'kdm.xml'), '--key', join(tmp, 'projector.pem'), '--json']),
    keycast(['kdm', 'inspect', join(tmp, 'tampered.xml'), '--json']),
  ]);
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  const view = JSON.parse(ok.stdout);
  assert.equal(view.signature, 'verified');
  assert.deepEqual(
    view.keys,
    keys.map((k) => ({ id: k.id, type: k.type, key: Buffer.from(k.key).toString('hex') })),
  );
  assert.equal(tampered.code, 1, tampered.stderr + tampered.stdout);
  assert.match(JSON.parse(tampered.stdout).signature, /^FAILED/);
});
