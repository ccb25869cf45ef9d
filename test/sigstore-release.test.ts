/**
 * The release path end to end, as a user runs it: `keycast release keygen`, `sign`
 * (@sigstore/sign DSSEBundleBuilder, local P-256 key, offline), `publish` to a real Keycast log
 * over loopback (log-server with the verifier's admission policy), then stock @sigstore/verify
 * 3.1.1 on the written-back bundle given the log's TrustedRoot, `verify release` (and its old name
 * `release verify`), `revoke`, `endorse`, and
 * the refusals: a tampered checkpoint, bad flags, a missing key file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createPublicKey } from 'node:crypto';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { parseVerifierKey, verifyEntryBundle } from '#verifier';
import { trustedRootForLog } from '#verifier/build';
import { createLog } from '../log-server/index.ts';
import { commands } from '../builder/cli.ts';
import { listenLog } from './log-fixtures.ts';

const ROOT = resolve(import.meta.dirname, '..');
const ORIGIN = 'releases.keycast.test/e2e';

function keycast(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/keycast.mjs'), ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', rej);
    child.on('exit', (code) => res({ code: code ?? -1, stdout, stderr }));
  });
}

function statExists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs a `keycast release …` command in this process (spawning tsx per step is slow on a loaded
 * 2-core machine): relative paths resolve against `cwd`, the --json line printed is returned.
 * The exit-code mapping itself is exercised through bin/keycast.mjs below.
 */
async function ok(args: string[], cwd: string): Promise<Record<string, unknown>> {
  const cmd = commands
    .filter((c) => c.path.every((w, i) => args[i] === w))
    .sort((a, b) => b.path.length - a.path.length)[0];
  assert.ok(cmd, `no command for ${args.join(' ')}`);
  const lines: string[] = [];
  const log = console.log;
  const stderr = process.stderr.write;
  const here = process.cwd();
  console.log = (...a: unknown[]) => {
    lines.push(a.join(' '));
  };
  process.stderr.write = (() => true) as typeof process.stderr.write;
  process.chdir(cwd);
  try {
    assert.equal(await cmd.run([...args.slice(cmd.path.length), '--json']), 0);
  } finally {
    process.chdir(here);
    console.log = log;
    process.stderr.write = stderr;
  }
  return JSON.parse(lines.pop()!);
}

test('keygen → sign → publish → stock @sigstore/verify → verify → revoke, through the CLI and a real log', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-sigstore-'));
  const logDir = join(dir, 'log');
  const { vkey } = createLog(logDir, ORIGIN);

  const kg = await ok(['release', 'keygen', '--out', 'k.pem'], dir);
  await ok(['release', 'keygen', '--out', 'other.pem'], dir);
  assert.equal(kg.privateKey, 'k.pem');
  assert.equal(statSync(join(dir, 'k.pem')).mode & 0o777, 0o600);
  const pubPem = readFileSync(join(dir, 'k.pem.pub'), 'utf8');
  await assert.rejects(
    ok(['release', 'keygen', '--out', 'k.pem'], dir),
    (e: unknown) => (e as { code?: string }).code === 'EEXIST',
    'refuses to overwrite a key',
  );

  const { log, url } = await listenLog(t, logDir, [pubPem], dir);

  const pcr = (c: string) => c.repeat(96);
  writeFileSync(join(dir, 'enclave.eif'), randomBytes(4096));
  writeFileSync(
    join(dir, 'pcrs.json'),
    JSON.stringify({
      Measurements: { HashAlgorithm: 'Sha384 { ... }', PCR0: pcr('a'), PCR1: pcr('b'), PCR2: pcr('c') },
    }),
  );
  writeFileSync(join(dir, 'builder.lock.json'), '{"inputs":[]}\n');
  const commit = '0123456789abcdef0123456789abcdef01234567';
  await ok(
    [
      'release',
      'sign',
      '--eif',
      'enclave.eif',
      '--pcrs',
      'pcrs.json',
      '--source',
      `https://github.com/keycast/demo@${commit}`,
      '--key',
      'k.pem',
      '--lock',
      'builder.lock.json',
      '--out',
      'bundle.json',
    ],
    dir,
  );

  const pub = await ok(['release', 'publish', '--log', url, 'bundle.json', '--log-key', vkey], dir);
  assert.equal(pub.index, 0);
  const published = JSON.parse(readFileSync(join(dir, 'bundle.json'), 'utf8'));
  assert.equal(published.verificationMaterial.tlogEntries.length, 1);

  // stock @sigstore/verify 3.1.1, nothing of ours but the TrustedRoot JSON
  const root = trustedRootForLog({ origin: ORIGIN, logPublicKey: parseVerifierKey(vkey).publicKey });
  const keys = () => ({ publicKey: createPublicKey(pubPem), validFor: () => true });
  const verifier = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(root), keys), {
    tlogThreshold: 1,
    ctlogThreshold: 0,
    timestampThreshold: 0,
  });
  verifier.verify(toSignedEntity(bundleFromJSON(published)));
  const stmt = JSON.parse(Buffer.from(published.dsseEnvelope.payload, 'base64').toString());
  assert.equal(stmt.predicate.measurements.pcr0, pcr('a'));
  assert.equal(stmt.predicate.source.commit, commit);

  // the studio's command (the verifier's CLI), and its deprecated builder-era name
  const [studio, legacy, stranger] = await Promise.all([
    keycast(
      ['verify', 'release', '--bundle', 'bundle.json', '--log-key', vkey, '--publisher', 'k.pem.pub', '--json'],
      dir,
    ),
    keycast(['release', 'verify', 'bundle.json', '--log-key', vkey, '--public-key', 'k.pem.pub', '--json'], dir),
    keycast(
      ['verify', 'release', '--bundle', 'bundle.json', '--log-key', vkey, '--publisher', 'other.pem.pub', '--json'],
      dir,
    ),
  ]);
  assert.equal(studio.code, 0, studio.stderr);
  const v = JSON.parse(studio.stdout);
  assert.deepEqual([v.kind, v.pcr0, v.logIndex, v.commit, v.publisher], ['release', pcr('a'), 0, commit, kg.keyId]);
  assert.equal(legacy.code, 0, legacy.stderr);
  assert.match(legacy.stderr, /deprecated; use keycast verify release/);
  assert.deepEqual(JSON.parse(legacy.stdout), v);
  assert.deepEqual([stranger.code, JSON.parse(stranger.stdout).code], [1, 'SIGNER_NOT_ALLOWED']);

  const rev = await ok(
    [
      'release',
      'revoke',
      '--log',
      url,
      '--index',
      '0',
      '--reason',
      'runtime CVE',
      '--key',
      'k.pem',
      '--out',
      'rev.json',
      '--log-key',
      vkey,
    ],
    dir,
  );
  assert.equal(rev.index, 1);
  const entry = await (await fetch(`${url}/entry/0`)).json();
  assert.equal(entry.status, 'revoked');

  // a third party's rebuild attestation, signed offline; this log admits no rebuilders
  await ok(
    [
      'endorse',
      '--eif',
      'enclave.eif',
      '--pcrs',
      'pcrs.json',
      '--source',
      `https://github.com/keycast/demo@${commit}`,
      '--lock',
      'builder.lock.json',
      '--key',
      'k.pem',
      '--release-index',
      '0',
      '--out',
      'rebuild.json',
    ],
    dir,
  );
  const rb = verifyEntryBundle(readFileSync(join(dir, 'rebuild.json'), 'utf8'), {
    allowedSigners: [],
    allowedRebuilders: [pubPem],
  });
  assert.equal(rb.kind, 'rebuild');
  assert.equal(rb.pcr0, pcr('a'));
  await assert.rejects(ok(['release', 'publish', '--log', url, 'rebuild.json'], dir), (e: unknown) => {
    const b = e as { name: string; code: string; evidence: { logCode: string } };
    return b.name === 'BuilderError' && b.code === 'PUBLISH_REFUSED' && b.evidence.logCode === 'SIGNER_NOT_ALLOWED';
  });

  // without --pcrs the PCRs are measured from the EIF itself (shared vector, nitro-cli values)
  const vector = resolve(ROOT, 'testdata/nitro/eif/synthetic-x86_64');
  const expected = JSON.parse(readFileSync(`${vector}.json`, 'utf8'));
  await ok(
    [
      'release',
      'sign',
      '--eif',
      `${vector}.eif`,
      '--source',
      `https://github.com/keycast/demo@${commit}`,
      '--key',
      'k.pem',
      '--lock',
      'builder.lock.json',
      '--out',
      'measured.json',
    ],
    dir,
  );
  const measured = verifyEntryBundle(readFileSync(join(dir, 'measured.json'), 'utf8'), { allowedSigners: [pubPem] });
  assert.equal(measured.pcr0, expected.expected_measurements.PCR0);
  assert.equal(measured.eifSha256, expected.sha256);
  writeFileSync(
    join(dir, 'corrupt.eif'),
    Buffer.concat([readFileSync(`${vector}.eif`).subarray(0, 100), Buffer.alloc(50)]),
  );
  await assert.rejects(
    ok(
      [
        'release',
        'sign',
        '--eif',
        'corrupt.eif',
        '--source',
        `https://github.com/keycast/demo@${commit}`,
        '--key',
        'k.pem',
        '--lock',
        'builder.lock.json',
        '--out',
        'c.json',
      ],
      dir,
    ),
    'a truncated EIF is not signed',
  );
  assert.ok(!statExists(join(dir, 'c.json')));

  // through the real binary: a tampered checkpoint exits 1 (VerifierError), bad flags 2, a
  // missing key file 6 (I/O), --help 0 — spawned concurrently to keep the test fast
  const bad = structuredClone(published);
  const cp = bad.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint;
  cp.envelope = cp.envelope.replace('\n1\n', '\n2\n');
  writeFileSync(join(dir, 'bad.json'), JSON.stringify(bad));
  const [refused, bogus, missing, help] = await Promise.all([
    keycast(
      ['verify', 'release', '--bundle', 'bad.json', '--log-key', vkey, '--publisher', 'k.pem.pub', '--json'],
      dir,
    ),
    keycast(['release', 'sign', '--bogus'], dir),
    keycast(
      [
        'release',
        'sign',
        '--eif',
        'enclave.eif',
        '--pcrs',
        'pcrs.json',
        '--source',
        `https://github.com/keycast/demo@${commit}`,
        '--key',
        'missing.pem',
        '--lock',
        'builder.lock.json',
        '--out',
        'x.json',
      ],
      dir,
    ),
    keycast(['release', 'sign', '--help'], dir),
  ]);
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  assert.equal(JSON.parse(refused.stdout).code, 'TLE_INVALID');
  assert.equal(bogus.code, 2, bogus.stderr);
  assert.equal(missing.code, 6, missing.stderr);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--source REPO@COMMIT/);
});
