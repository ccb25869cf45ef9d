/**
 * End to end through the CLI: `keycast witness serve` and `keycast log serve --witness …
 * --s3-bucket …` as child processes, a real s3rver, and real signed release bundles.
 * The log serves checkpoints cosigned by the witness and mirrors them to S3; the explorer
 * page is served at `/`; the witness persists its state across a restart (a stale `old 0`
 * is answered 409 with the size it last cosigned) and keeps cosigning afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { checkWitnessPolicy, noteVerifier, openCheckpoint } from '#verifier';
import { splitNote } from '#verifier/build';
import { ROOT, newPublisher, releaseBundle } from './log-fixtures.ts';
import { serveKeycast, serveLog } from './enclave-e2e-helpers.ts';

const KEYCAST = resolve(ROOT, 'bin/keycast.mjs');
const ORIGIN = 'witnessed.keycast.test/log';
const S3rver = createRequire(import.meta.url)('s3rver') as new (
  o: Record<string, unknown>,
) => { run(): Promise<{ port: number }>; close(): Promise<void> };

function keycast(...args: string[]): string {
  const r = spawnSync(process.execPath, [KEYCAST, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

function serveWitness(dir: string, logVkey: string): Promise<{ child: ChildProcess; url: string }> {
  return serveKeycast([
    'witness',
    'serve',
    '--data',
    dir,
    '--listen',
    '127.0.0.1:0',
    '--log',
    logVkey,
    '--name',
    'w1.keycast.test',
  ]);
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((ok) => {
    child.removeAllListeners('exit');
    child.once('exit', (code) => ok(code));
    child.kill('SIGTERM');
  });
}

test('log serve with a CLI witness and S3: cosigned checkpoints, mirrored, state survives a witness restart', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'keycast-witness-e2e-'));
  const s3 = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: join(tmp, 's3'),
    configureBuckets: [{ name: 'keycast' }],
  });
  const { port } = await s3.run();
  const children: ChildProcess[] = [];
  t.after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await s3.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const logVkey = keycast('log', 'init', '--data', join(tmp, 'log'), '--origin', ORIGIN);
  let witness = await serveWitness(join(tmp, 'w'), logVkey);
  children.push(witness.child);
  const witnessVkey = keycast('witness', 'vkey', '--data', join(tmp, 'w'));
  assert.equal(statSync(join(tmp, 'w', 'witness.key')).mode & 0o777, 0o600);

  const pub = newPublisher();
  writeFileSync(join(tmp, 'signer.pem'), pub.publicPem);
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' }); // the child's default credential chain
  const log = await serveLog(join(tmp, 'log'), [
    '--trust-signer',
    join(tmp, 'signer.pem'),
    '--witness',
    `${witnessVkey}=${witness.url}`,
    '--admission-workers',
    '0',
    '--s3-bucket',
    'keycast',
    '--s3-endpoint',
    `http://127.0.0.1:${port}`,
    '--s3-region',
    'us-east-1',
    '--s3-prefix',
    'releases',
  ]);
  children.push(log.child);
  const add = async (seed: string) => {
    const r = await fetch(`${log.url}/add-entry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: releaseBundle(pub, seed),
    });
    assert.equal(r.status, 200, await r.text());
  };
  const served = async () => (await fetch(`${log.url}/checkpoint`)).text();
  const policy = () => ({ witnesses: [witnessVkey], threshold: 1, now: Date.now() / 1000 });

  await add('one');
  await add('two');
  const cp = await served();
  assert.equal(openCheckpoint(cp, noteVerifier(logVkey), ORIGIN).checkpoint.size, 2);
  checkWitnessPolicy(cp, policy());

  const client = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  const mirrored = await (
    await client.send(new GetObjectCommand({ Bucket: 'keycast', Key: 'releases/checkpoint' }))
  ).Body!.transformToString();
  assert.equal(mirrored, cp, 'S3 holds the cosigned checkpoint');
  client.destroy();

  const page = await fetch(`${log.url}/`);
  assert.equal(page.status, 200);
  assert.ok((await page.text()).includes(logVkey), 'the explorer page names the log key');

  assert.equal(await stop(witness.child), 0, 'the witness stops cleanly on SIGTERM');
  witness = await serveWitness(join(tmp, 'w'), logVkey);
  children.push(witness.child);
  const logSigned = splitNote(cp).text + '\n' + cp.split('\n').find((l) => l.startsWith(`— ${ORIGIN} `)) + '\n';
  const stale = await fetch(`${witness.url}/add-checkpoint`, { method: 'POST', body: `old 0\n\n${logSigned}` });
  assert.equal(stale.status, 409);
  assert.equal(await stale.text(), '2\n', 'the restarted witness remembers the size it cosigned');

  // The log still points at the old witness URL (new port): that witness is "down" for it,
  // the entry is still logged; then a log restart against the new URL resumes cosigning.
  await add('three');
  const cp3 = await served();
  assert.equal(openCheckpoint(cp3, noteVerifier(logVkey), ORIGIN).checkpoint.size, 3);
  assert.throws(() => checkWitnessPolicy(cp3, policy()), { code: 'WITNESS_POLICY' });
  assert.equal(await stop(log.child), 0);
  const log2 = await serveLog(join(tmp, 'log'), [
    '--trust-signer',
    join(tmp, 'signer.pem'),
    '--witness',
    `${witnessVkey}=${witness.url}`,
    '--admission-workers',
    '0',
  ]);
  children.push(log2.child);
  const r = await fetch(`${log2.url}/add-entry`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: releaseBundle(pub, 'four'),
  });
  assert.equal(r.status, 200);
  const cp4 = await (await fetch(`${log2.url}/checkpoint`)).text();
  assert.equal(openCheckpoint(cp4, noteVerifier(logVkey), ORIGIN).checkpoint.size, 4);
  checkWitnessPolicy(cp4, policy());
  assert.equal(await stop(log2.child), 0);
});
