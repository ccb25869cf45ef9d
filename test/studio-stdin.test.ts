/**
 * What crosses the process boundary (issue 17), so through the binary:
 *   - `-` reads stdin in every command that reads a file (describe-eif, kdm inspect, receipt verify,
 *     rules sign, …): the bytes piped in are what is checked, not a file named "-" (exit 6);
 *     two inputs named `-` in one command are a usage error;
 *   - `describe-eif --eif-path FILE` (nitro-cli's spelling) prints what `describe-eif FILE` prints;
 *   - the AWS SDK's Node-version warning does not reach a keycast process's stderr (the SDK's own
 *     switch, set by bin/keycast.mjs), while the switch set otherwise still lets it through.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLog } from '../log-server/index.ts';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = resolve(ROOT, 'bin/keycast.mjs');
const EIF = resolve(ROOT, 'testdata/nitro/eif/synthetic-x86_64.eif');

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function keycast(args: string[], stdin?: Uint8Array | string, env: NodeJS.ProcessEnv = process.env): Promise<Ran> {
  return new Promise((done) => {
    const c = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('close', (code) => done({ code: code ?? 70, stdout, stderr }));
    c.stdin.end(stdin ?? '');
  });
}

const dir = mkdtempSync(join(tmpdir(), 'keycast-stdin-'));
const f = (...s: string[]) => join(dir, ...s);
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('- reads stdin: describe-eif (and --eif-path), kdm inspect, receipt verify, rules sign; two - are refused', {
  timeout: 120_000,
}, async () => {
  const byPath = await keycast(['describe-eif', EIF]);
  assert.equal(byPath.code, 0, byPath.stderr);
  const piped = await keycast(['describe-eif', '-'], readFileSync(EIF));
  assert.equal(piped.code, 0, piped.stderr);
  assert.deepEqual(JSON.parse(piped.stdout), JSON.parse(byPath.stdout));
  const nitro = await keycast(['describe-eif', '--eif-path', EIF]);
  assert.equal(nitro.code, 0, nitro.stderr);
  assert.equal(nitro.stdout, byPath.stdout, "nitro-cli's spelling prints nitro-cli's JSON");
  assert.ok('Measurements' in (JSON.parse(nitro.stdout) as object));

  // what is piped in is what is checked: malformed input refused by its checker (exit 1), not exit 6 for "-"
  const kdm = await keycast(['kdm', 'inspect', '-', '--json'], '<not-a-kdm/>');
  assert.equal(kdm.code, 1, kdm.stdout + kdm.stderr);
  assert.equal((JSON.parse(kdm.stdout) as { code: string }).code, 'KDM_MALFORMED');

  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(f('receipt.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(f('studio.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const receipt = await keycast(['receipt', 'verify', '-', '--receipt-key', f('receipt.pub'), '--json'], 'garbage');
  assert.equal(receipt.code, 1, receipt.stdout + receipt.stderr);
  assert.equal((JSON.parse(receipt.stdout) as { code: string }).code, 'RECEIPT_INVALID');

  const rules = await keycast(['rules', 'sign', '-', '--key', f('studio.pem'), '--out', f('r.dsse'), '--json'], '{}');
  assert.equal(rules.code, 1, rules.stdout + rules.stderr);
  assert.equal((JSON.parse(rules.stdout) as { code: string }).code, 'RULES_INVALID');

  const twice = await keycast(['rules', 'sign', '-', '--key', '-', '--out', f('r.dsse')], '{}');
  assert.equal(twice.code, 2, twice.stderr);
  assert.match(twice.stderr, /only one input can be -/);
  const diff = await keycast(['diff-eif', '-', '-'], readFileSync(EIF));
  assert.equal(diff.code, 2, diff.stderr);
  const same = await keycast(['diff-eif', '-', EIF], readFileSync(EIF));
  assert.equal(same.code, 0, same.stderr + same.stdout);
});

/** Runs `log serve` with an S3 mirror (which constructs an AWS SDK client) until it listens or 20 s pass. */
function serveWithS3(env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((done) => {
    const c = spawn(
      process.execPath,
      [
        BIN,
        'log',
        'serve',
        '--data',
        f('log'),
        '--listen',
        '127.0.0.1:0',
        '--s3-bucket',
        'keycast-test',
        '--s3-endpoint',
        'http://127.0.0.1:9',
        '--s3-region',
        'us-east-1',
      ],
      {
        env: { ...env, AWS_ACCESS_KEY_ID: 'AKIATEST', AWS_SECRET_ACCESS_KEY: 'test-only' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    c.stderr.on('data', (d) => (stderr += d));
    const stop = setTimeout(() => c.kill(), 20_000);
    c.stdout.on('data', (d) => {
      if (String(d).includes('listening')) setTimeout(() => c.kill(), 500);
    });
    c.on('close', () => {
      clearTimeout(stop);
      done(stderr);
    });
  });
}

test("the AWS SDK's Node-version warning stays out of keycast's stderr; other settings of its switch still show it", {
  timeout: 60_000,
}, async () => {
  createLog(f('log'), 'releases.keycast.test/stdin');
  const env = { ...process.env };
  delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  const quiet = await serveWithS3(env);
  assert.doesNotMatch(quiet, /NodeVersionSupportWarning/, quiet);
  const loud = await serveWithS3({ ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'false' });
  if (Number(process.versions.node.split('.')[0]) < 22)
    assert.match(loud, /NodeVersionSupportWarning/, 'the SDK warns on this Node when its switch is off');
  else assert.doesNotMatch(loud, /NodeVersionSupportWarning/, 'the SDK does not warn on Node 22');
});
