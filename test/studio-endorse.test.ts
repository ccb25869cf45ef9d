/**
 * `verify rebuild` never says yes to an image it did not check, and `endorse` can count (issue 17):
 *   - `--released-eif` is always read and held to the release's digest: another image is
 *     EIF_DIGEST_MISMATCH even when the rebuild's PCRs match, a missing path is exit 6, and the JSON
 *     shows the digest of the file checked;
 *   - no temporary directory is left behind, on success or failure;
 *   - `log serve --trust-rebuilder` admits endorsements, so `endorse` (without --out: it names its
 *     own file) → `verify release --require-rebuilds 1 --rebuilder KEY.pem.pub` passes.
 * The log runs as `keycast log serve` (its flags are what is tested); the rest runs in process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLog } from '../log-server/index.ts';
import { serveLog } from './enclave-e2e-helpers.ts';

import { errorJson, runKeycast as run } from '../cli/index.ts';

const ORIGIN = 'releases.keycast.test/endorse';
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('verify rebuild checks the --released-eif given and leaves no temporary directory; endorse → --require-rebuilds passes', {
  timeout: 300_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-endorse-'));
  const f = (...s: string[]) => join(dir, ...s);
  const { vkey } = createLog(f('log'), ORIGIN);
  const ok = async (args: string[]) => {
    const r = await run(args);
    assert.equal(r.code, 0, `${args.slice(0, 2).join(' ')}: ${r.stdout}${r.stderr}`);
    return r;
  };
  await ok(['release', 'keygen', '--out', f('release.pem')]);
  await ok(['release', 'keygen', '--out', f('rebuilder.pem')]);
  const log = await serveLog(f('log'), [
    '--trust-signer',
    f('release.pem.pub'),
    '--trust-rebuilder',
    f('rebuilder.pem.pub'),
    '--admission-workers',
    '0',
  ]);
  const tmp = f('tmp');
  mkdirSync(tmp);
  const savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = tmp; // where verify rebuild's temporary directories go, watched below
  t.after(() => {
    log.child.kill();
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
    rmSync(dir, { recursive: true, force: true });
  });

  writeFileSync(f('bzImage'), Buffer.alloc(4096, 7));
  writeFileSync(f('init'), Buffer.alloc(1024, 3));
  for (const [name, text] of [
    ['rootfs', 'console.log("release")\n'],
    ['rootfs-other', 'console.log("another image")\n'],
  ] as const) {
    mkdirSync(f(name, 'app'), { recursive: true });
    writeFileSync(f(name, 'app', 'main.js'), text);
  }
  const inputs = (rootfs: string) => [
    '--kernel',
    f('bzImage'),
    '--init',
    f('init'),
    '--rootfs',
    f(rootfs),
    '--cmdline',
    'console=ttyS0',
    '--arg',
    '/app/main.js',
  ];
  await ok(['build', '--out', f('release'), ...inputs('rootfs')]);
  await ok(['build', '--out', f('other'), ...inputs('rootfs-other')]);
  const source = `https://github.com/keycast/demo@${'ab'.repeat(20)}`;
  await ok([
    'release',
    'sign',
    '--eif',
    f('release', 'enclave.eif'),
    '--source',
    source,
    '--lock',
    f('release', 'builder.lock.json'),
    '--key',
    f('release.pem'),
    '--out',
    f('bundle.json'),
  ]);
  await ok(['release', 'publish', '--log', log.url, f('bundle.json'), '--log-key', vkey]);
  const L = ['--log', log.url, '--log-key', vkey, '--publisher', f('release.pem.pub'), '--state', f('state')];
  const rebuild = (released: string) =>
    run(['verify', 'rebuild', '--lock', f('release', 'builder.lock.json'), '--released-eif', released, ...L, '--json']);
  const leftovers = () => readdirSync(tmp);

  // another image as --released-eif: the rebuild's PCRs match the release, but the file is not the release
  const other = await rebuild(f('other', 'enclave.eif'));
  assert.equal(other.code, 1, other.stdout + other.stderr);
  const e = errorJson(other);
  assert.equal(e.code, 'EIF_DIGEST_MISMATCH');
  assert.equal(e.evidence.actual, sha256(readFileSync(f('other', 'enclave.eif'))));
  assert.equal(e.evidence.expected, sha256(readFileSync(f('release', 'enclave.eif'))));
  assert.deepEqual(leftovers(), [], 'no temporary directory after a refusal');

  // a --released-eif that does not exist: exit 6, before anything is built
  const missing = await rebuild(f('nope.eif'));
  assert.equal(missing.code, 6, missing.stdout);
  assert.equal(errorJson(missing).evidence.file, f('nope.eif'));
  assert.deepEqual(leftovers(), []);

  // the released image itself: reproduced, and the JSON shows the digest of the file checked
  const same = await rebuild(f('release', 'enclave.eif'));
  assert.equal(same.code, 0, same.stdout + same.stderr);
  const r = JSON.parse(same.stdout) as Record<string, unknown>;
  const digest = sha256(readFileSync(f('release', 'enclave.eif')));
  assert.equal(r.reproduced, true);
  assert.equal(r.releasedEif, f('release', 'enclave.eif'));
  assert.equal(r.releasedEifSha256, digest);
  assert.equal(r.loggedEifSha256, digest);
  assert.equal(r.eif, null, 'the rebuilt image was not kept (no --out)');
  assert.deepEqual(leftovers(), [], 'no temporary directory after success');

  // the rebuilder endorses it (no --out: endorsement-0.json in the working directory) and the log admits it
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    await ok([
      'endorse',
      '--eif',
      f('release', 'enclave.eif'),
      '--source',
      source,
      '--lock',
      f('release', 'builder.lock.json'),
      '--release-index',
      '0',
      '--key',
      f('rebuilder.pem'),
      '--log',
      log.url,
      '--log-key',
      vkey,
    ]);
  } finally {
    process.chdir(cwd);
  }
  assert.ok(existsSync(f('endorsement-0.json')), 'endorse named its own output');
  // endorsing again (a new ECDSA signature over the same statement): the log's entry is the earlier
  // envelope, which the written bundle then carries, instead of a refusal of the log's answer
  const again = await ok([
    'endorse',
    '--eif',
    f('release', 'enclave.eif'),
    '--source',
    source,
    '--lock',
    f('release', 'builder.lock.json'),
    '--release-index',
    '0',
    '--key',
    f('rebuilder.pem'),
    '--log',
    log.url,
    '--log-key',
    vkey,
    '--out',
    f('again.json'),
  ]);
  assert.match(again.stdout, /logged at index 1 \(already present\)/);
  assert.deepEqual(
    (JSON.parse(readFileSync(f('again.json'), 'utf8')) as { dsseEnvelope: unknown }).dsseEnvelope,
    (JSON.parse(readFileSync(f('endorsement-0.json'), 'utf8')) as { dsseEnvelope: unknown }).dsseEnvelope,
  );
  const pcr0 = (
    JSON.parse(readFileSync(f('release', 'measurements.json'), 'utf8')) as { measurements: { pcr0: string } }
  ).measurements.pcr0;
  assert.match(pcr0, /^[0-9a-f]{96}$/);
  const one = await run([
    'verify',
    'release',
    pcr0,
    ...L,
    '--require-rebuilds',
    '1',
    '--rebuilder',
    f('rebuilder.pem.pub'),
  ]);
  assert.equal(one.code, 0, one.stdout + one.stderr);
  const two = await run([
    'verify',
    'release',
    pcr0,
    ...L,
    '--require-rebuilds',
    '2',
    '--rebuilder',
    f('rebuilder.pem.pub'),
    '--rebuilder',
    f('release.pem.pub'),
    '--json',
  ]);
  assert.equal(two.code, 1, two.stdout);
  assert.equal(errorJson(two).code, 'REBUILDS_MISSING');

  // an endorsement by a key the log was not told to trust as a rebuilder is refused by the log
  const stranger = await run([
    'endorse',
    '--eif',
    f('release', 'enclave.eif'),
    '--source',
    source,
    '--lock',
    f('release', 'builder.lock.json'),
    '--key',
    f('release.pem'),
    '--log',
    log.url,
    '--out',
    f('stranger.json'),
    '--json',
  ]);
  assert.notEqual(stranger.code, 0, stranger.stdout);
  assert.equal((errorJson(stranger).evidence as { logCode?: string }).logCode, 'SIGNER_NOT_ALLOWED', stranger.stdout);
});
