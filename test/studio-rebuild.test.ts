/**
 * `keycast verify rebuild` against a real log on loopback: a release built, signed and published;
 * a rebuild from its lock reproduces it (exit 0, with the endorse command to run); a rebuild with
 * one changed input file does not, and diff-eif against the released image names that file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLog } from '../log-server/index.ts';
import { listenLog } from './log-fixtures.ts';

const BIN = resolve(import.meta.dirname, '../bin/keycast.mjs');
const ORIGIN = 'releases.keycast.test/rebuild';

function keycast(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 120_000, cwd }, (err, stdout, stderr) =>
      done({ code: err ? (typeof err.code === 'number' ? err.code : 70) : 0, stdout, stderr }),
    );
  });
}

test('verify rebuild: a faithful rebuild reproduces the logged release; one changed file is named', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-rebuild-'));
  const { vkey } = createLog(join(dir, 'log'), ORIGIN);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(dir, 'k.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const pubPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  writeFileSync(join(dir, 'k.pem.pub'), pubPem);
  const { url } = await listenLog(t, join(dir, 'log'), [pubPem], join(dir, 'log'));

  writeFileSync(join(dir, 'bzImage'), Buffer.alloc(4096, 7));
  writeFileSync(join(dir, 'init'), Buffer.alloc(1024, 3));
  mkdirSync(join(dir, 'rootfs', 'app'), { recursive: true });
  writeFileSync(join(dir, 'rootfs', 'app', 'main.js'), 'console.log("release")\n');
  writeFileSync(join(dir, 'rootfs', 'app', 'lib.js'), 'export const x = 1;\n');
  const inputs = [
    '--kernel',
    'bzImage',
    '--init',
    'init',
    '--rootfs',
    'rootfs',
    '--cmdline',
    'console=ttyS0',
    '--arg',
    '/app/main.js',
  ];
  const built = await keycast(['build', '--out', 'release', ...inputs, '--json'], dir);
  assert.equal(built.code, 0, built.stderr);
  const commit = 'ab'.repeat(20);
  const signed = await keycast(
    [
      'release',
      'sign',
      '--eif',
      'release/enclave.eif',
      '--source',
      `https://github.com/keycast/demo@${commit}`,
      '--lock',
      'release/builder.lock.json',
      '--key',
      'k.pem',
      '--out',
      'bundle.json',
    ],
    dir,
  );
  assert.equal(signed.code, 0, signed.stderr);
  const pub = await keycast(['release', 'publish', '--log', url, 'bundle.json', '--log-key', vkey], dir);
  assert.equal(pub.code, 0, pub.stderr);

  const flags = ['--log', url, '--log-key', vkey, '--publisher', 'k.pem.pub', '--state', 'state', '--json'];
  const same = await keycast(
    ['verify', 'rebuild', '--lock', 'release/builder.lock.json', '--out', 'again', ...flags],
    dir,
  );
  assert.equal(same.code, 0, same.stderr + same.stdout);
  const ok = JSON.parse(same.stdout);
  assert.deepEqual([ok.reproduced, ok.index], [true, 0]);
  assert.equal(ok.eifSha256, ok.loggedEifSha256, 'byte for byte');
  assert.equal(ok.releasedEifSha256, null, 'no --released-eif: no file checked');
  assert.match(same.stderr, /keycast: rebuilding from/, 'progress on stderr');

  // one changed input file, built into its own lock: not the release, and diff-eif names the file
  writeFileSync(join(dir, 'rootfs', 'app', 'main.js'), 'console.log("tampered")\n');
  const changed = await keycast(['build', '--out', 'changed', ...inputs], dir);
  assert.equal(changed.code, 0, changed.stderr);
  const pcr0 = JSON.parse((await keycast(['describe-eif', 'release/enclave.eif'], dir)).stdout).Measurements.PCR0;
  const [bad, text, unexplained] = await Promise.all([
    keycast(
      [
        'verify',
        'rebuild',
        '--lock',
        'changed/builder.lock.json',
        '--out',
        'again2',
        '--release',
        pcr0,
        '--released-eif',
        'release/enclave.eif',
        ...flags,
      ],
      dir,
    ),
    keycast(
      [
        'verify',
        'rebuild',
        '--lock',
        'changed/builder.lock.json',
        '--out',
        'again3',
        '--release',
        pcr0,
        '--released-eif',
        'release/enclave.eif',
        ...flags.slice(0, -1),
      ],
      dir,
    ),
    keycast(['verify', 'rebuild', '--lock', 'changed/builder.lock.json', '--out', 'again4', ...flags], dir),
  ]);
  assert.equal(bad.code, 1, bad.stderr + bad.stdout);
  const err = JSON.parse(bad.stdout);
  assert.equal(err.code, 'PCR_MISMATCH');
  assert.ok(err.evidence.differ.includes('pcr0'));
  assert.deepEqual(
    err.evidence.files.map((f: { path: string }) => f.path),
    ['rootfs/app/main.js'],
    'that file and no other',
  );
  assert.equal(text.code, 1);
  assert.match(text.stdout, /app\/main\.js/);
  assert.match(text.stderr, /files that differ: .*app\/main\.js/);
  // without --release the changed image's own PCR0 is simply not a logged release
  assert.deepEqual([unexplained.code, JSON.parse(unexplained.stdout).code], [1, 'RELEASE_NOT_LOGGED']);
});

test('verify rebuild: without --released-eif the image is fetched from the release eif.uri and diffed; a wrong image is refused, nothing diffed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-rebuild-uri-'));
  const { vkey } = createLog(join(dir, 'log'), ORIGIN);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(dir, 'k.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const pubPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  writeFileSync(join(dir, 'k.pem.pub'), pubPem);
  const { url } = await listenLog(t, join(dir, 'log'), [pubPem], join(dir, 'log'));
  writeFileSync(join(dir, 'bzImage'), Buffer.alloc(4096, 7));
  writeFileSync(join(dir, 'init'), Buffer.alloc(1024, 3));
  mkdirSync(join(dir, 'rootfs', 'app'), { recursive: true });
  writeFileSync(join(dir, 'rootfs', 'app', 'main.js'), 'console.log("release")\n');
  const inputs = ['--kernel', 'bzImage', '--init', 'init', '--rootfs', 'rootfs', '--cmdline', 'console=ttyS0'];
  assert.equal((await keycast(['build', '--out', 'release', ...inputs], dir)).code, 0);

  // the EIF's host: the released image, or (once switched) another image of the same size
  let wrong = false;
  const host = createServer((req, res) => {
    if (req.url !== '/images/enclave.eif') return res.writeHead(404).end();
    const eif = readFileSync(join(dir, 'release', 'enclave.eif'));
    if (wrong) eif[eif.length - 1]! ^= 1;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': eif.length }).end(eif);
  });
  await new Promise<void>((ok) => host.listen(0, '127.0.0.1', ok));
  t.after(() => host.close());
  const eifUri = `http://127.0.0.1:${(host.address() as { port: number }).port}/images/enclave.eif`;

  const sign = (uri: string, out: string) =>
    keycast(
      [
        'release',
        'sign',
        '--eif',
        'release/enclave.eif',
        '--eif-uri',
        uri,
        '--source',
        `https://github.com/keycast/demo@${'cd'.repeat(20)}`,
        '--lock',
        'release/builder.lock.json',
        '--key',
        'k.pem',
        '--out',
        out,
      ],
      dir,
    );
  const refused = await sign('http://example.com/enclave.eif', 'refused.json');
  assert.equal(refused.code, 1, 'an http URI off loopback is refused before signing');
  assert.match(refused.stderr + refused.stdout, /predicate\.eif\.uri/);
  const signed = await sign(eifUri, 'bundle.json');
  assert.equal(signed.code, 0, signed.stderr);
  const pub = await keycast(['release', 'publish', '--log', url, 'bundle.json', '--log-key', vkey], dir);
  assert.equal(pub.code, 0, pub.stderr);

  writeFileSync(join(dir, 'rootfs', 'app', 'main.js'), 'console.log("tampered")\n');
  assert.equal((await keycast(['build', '--out', 'changed', ...inputs], dir)).code, 0);
  const pcr0 = JSON.parse((await keycast(['describe-eif', 'release/enclave.eif'], dir)).stdout).Measurements.PCR0;
  const rebuild = (out: string) =>
    keycast(
      [
        'verify',
        'rebuild',
        '--lock',
        'changed/builder.lock.json',
        '--out',
        out,
        '--release',
        pcr0,
        '--log',
        url,
        '--log-key',
        vkey,
        '--publisher',
        'k.pem.pub',
        '--state',
        'state',
        '--json',
      ],
      dir,
    );
  const fetched = await rebuild('again1');
  assert.equal(fetched.code, 1, fetched.stderr + fetched.stdout);
  const err = JSON.parse(fetched.stdout);
  assert.equal(err.code, 'PCR_MISMATCH');
  assert.deepEqual(
    err.evidence.files.map((f: { path: string }) => f.path),
    ['rootfs/app/main.js'],
  );
  assert.match(fetched.stderr, new RegExp(`fetching the released EIF from ${eifUri}`));
  assert.match(fetched.stderr, /released EIF: [\d.]+ MiB of [\d.]+ MiB/, 'progress on stderr');

  wrong = true;
  const tampered = await rebuild('again2');
  assert.equal(tampered.code, 1, tampered.stderr + tampered.stdout);
  const e2 = JSON.parse(tampered.stdout);
  assert.equal(e2.code, 'EIF_DIGEST_MISMATCH');
  assert.equal(e2.evidence.uri, eifUri);
  assert.notEqual(e2.evidence.actual, e2.evidence.expected);
  assert.equal(e2.evidence.files, undefined, 'nothing diffed');
  assert.doesNotMatch(tampered.stdout + tampered.stderr, /diff \(a = released/);
});
