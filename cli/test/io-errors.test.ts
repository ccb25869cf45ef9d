/**
 * One I/O error everywhere: the same mistake (a missing file, a directory where a file belongs)
 * gives exit 6, the path in the message, no stack trace, and `--json` saying IoError with the
 * system's code — whichever folder's command hit it. In process through cli/main.ts (what the
 * binary runs); one case also through bin/keycast.mjs, for the exit status the shell sees.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { normalizeError, exitCodeFor } from '../exit-codes.ts';
import { runKeycast as keycast } from '../capture.ts';
import { createLog, KEY_FILE } from '../../log-server/index.ts';

const BIN = resolve(import.meta.dirname, '../../bin/keycast.mjs');
const dir = mkdtempSync(join(tmpdir(), 'keycast-io-'));
const missing = join(dir, 'missing');
const COMMIT = '0'.repeat(40);
const pub = join(dir, 'publisher.pem');
writeFileSync(
  pub,
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }),
);

function binary(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      done({ code: err ? (typeof err.code === 'number' ? err.code : 70) : 0, stdout, stderr }),
    );
  });
}

const CASES: Array<[string, string[], string]> = [
  ['describe-eif', ['describe-eif', missing], missing],
  ['diff-eif', ['diff-eif', missing, missing], missing],
  ['build --lock', ['build', '--lock', missing, '--out', join(dir, 'out')], missing],
  [
    'release sign --key',
    [
      'release',
      'sign',
      '--eif',
      BIN,
      '--pcrs',
      missing,
      '--source',
      `https://github.com/a/b@${COMMIT}`,
      '--lock',
      BIN,
      '--key',
      missing,
      '--out',
      join(dir, 'b.json'),
    ],
    missing,
  ],
  ['release publish', ['release', 'publish', '--log', 'http://127.0.0.1:9', missing], missing],
  ['verify attestation', ['verify', 'attestation', missing, '--any-pcr'], missing],
  ['verify attestation (directory)', ['verify', 'attestation', dir, '--any-pcr'], dir],
  [
    'verify release --bundle',
    ['verify', 'release', '--bundle', missing, '--log-key', 'log+01234567+AQ==', '--publisher', pub],
    missing,
  ],
];

test('a missing or unreadable file: exit 6, the path named, no stack, --json IoError', async () => {
  const runs = await Promise.all(CASES.map(([, args]) => Promise.all([keycast(args), keycast([...args, '--json'])])));
  CASES.forEach(([name, , path], i) => {
    const [text, json] = runs[i]!;
    assert.equal(text.code, 6, `${name}: ${text.stderr}`);
    assert.ok(text.stderr.includes(path), `${name} names ${path}: ${text.stderr}`);
    assert.doesNotMatch(text.stderr, /\n\s+at /, `${name}: no stack trace`);
    assert.equal(json.code, 6, name);
    const body = JSON.parse(json.stdout);
    assert.equal(body.error, 'IoError', name);
    assert.ok(['ENOENT', 'EISDIR'].includes(body.code), `${name}: ${body.code}`);
    assert.equal(body.evidence.file, path, name);
  });
});

test('through the binary: the shell sees exit 6 and the path, no stack trace', async () => {
  const r = await binary(['describe-eif', missing]);
  assert.equal(r.code, 6, r.stderr);
  assert.ok(r.stderr.includes(missing), r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('normalizeError: a coded error caused by a failed read becomes the IoError; others are left alone', () => {
  const enoent = Object.assign(new Error('ENOENT: open /x'), { code: 'ENOENT', path: '/x' });
  const wrapped = Object.assign(new Error('cannot read lock /x', { cause: enoent }), {
    name: 'BuilderError',
    code: 'LOCK_MISSING',
  });
  const n = normalizeError(wrapped) as { name: string; code: string; evidence: { file: string } };
  assert.deepEqual([n.name, n.code, n.evidence.file, exitCodeFor(n)], ['IoError', 'ENOENT', '/x', 6]);
  const refused = Object.assign(new Error('ECONNREFUSED'), { code: 'ECONNREFUSED' });
  assert.equal(exitCodeFor(normalizeError(refused)), 6);
  assert.equal((normalizeError(refused) as Error).name, 'IoError');
  const coded = Object.assign(new Error('bad'), { name: 'VerifierError', code: 'PCR_MISMATCH' });
  assert.equal(normalizeError(coded), coded);
  const bug = new TypeError('x is undefined');
  assert.equal(normalizeError(bug), bug);
});

test('log serve and build: a data dir or input that is missing or unreadable is the I/O error too; an empty data dir stays a log refusal', async () => {
  const logs = join(dir, 'logs');
  createLog(join(logs, 'keyless'), 'io.keycast.test/log');
  rmSync(join(logs, 'keyless', KEY_FILE));
  const empty = join(logs, 'empty');
  mkdirSync(empty, { recursive: true });
  const aFile = join(dir, 'a-file');
  writeFileSync(aFile, 'x');
  const lock = join(dir, 'dir-input.lock.json');
  const z = '0'.repeat(64);
  writeFileSync(
    lock,
    JSON.stringify({
      version: 1,
      arch: 'x86_64',
      format: 'canonical',
      inputs: {
        kernel: { path: dir, sha256: z },
        init: { path: aFile, sha256: z },
        rootfs: { path: dir, sha256: z, type: 'dir' },
      },
      cmdline: 'console=ttyS0',
      argv: ['/init'],
      env: [],
      image: { name: 'img', version: '1' },
    }),
  );
  const serve = (data: string) => ['log', 'serve', '--data', data, '--listen', '127.0.0.1:0', '--json'];
  const cases: Array<[string, string[], number, string, string]> = [
    ['log serve --data (missing)', serve(missing), 6, 'ENOENT', missing],
    ['log serve --data (a file)', serve(aFile), 6, 'ENOTDIR', aFile],
    ['log serve (key file missing)', serve(join(logs, 'keyless')), 6, 'ENOENT', join(logs, 'keyless', KEY_FILE)],
    ['build (an input is a directory)', ['build', '--lock', lock, '--out', join(dir, 'o'), '--json'], 6, 'EISDIR', dir],
    // a readable directory with no log in it is not an I/O failure: the log refuses (run keycast log init)
    ['log serve --data (no log there)', serve(empty), 3, 'DATA_MISSING', empty],
  ];
  const runs = await Promise.all(cases.map(([, args]) => keycast(args)));
  cases.forEach(([name, , exit, code, path], i) => {
    const r = runs[i]!;
    assert.equal(r.code, exit, `${name}: ${r.stderr}${r.stdout}`);
    const body = JSON.parse(r.stdout);
    assert.deepEqual([body.error, body.code], [exit === 6 ? 'IoError' : 'LogError', code], name);
    assert.ok(body.message.includes(path), `${name} names ${path}: ${body.message}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, `${name}: no stack trace`);
  });
});
