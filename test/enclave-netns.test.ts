/**
 * The enclave needs nothing but its host channel: `keycast enclave run` runs in its own network
 * namespace with only loopback (`ip netns`), reachable only through socat bridges over UNIX
 * sockets — standing in for vsock, which this machine does not have — exactly as on AWS:
 *
 *   host  TCP 127.0.0.1:B  ─socat→ UNIX enclave.sock ─socat (in the netns)→ TCP 127.0.0.1:8443  enclave API
 *   enclave TCP 127.0.0.1:8000 ─socat (in the netns)→ UNIX kms.sock ─socat→ TCP dev-kms         (vsock-proxy's role)
 *
 * The log, witness, dev-kms and host stay outside. The enclave cannot reach the log directly,
 * yet opens its gate on publication and seals its identity through the KMS bridge.
 * Skipped, with the reason, without root, `ip netns` or socat.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { formatEnclaveConfig } from '#verifier/build';
import { createTestPki, exportTestPki } from '../enclave/index.ts';
import { newPublisher, releaseBundle, releaseFields } from './log-fixtures.ts';
import { freePort, start, until, type Proc } from './enclave-e2e-helpers.ts';
import { keycastSync } from './enclave-stack.ts';

function why(): string | false {
  if (process.getuid?.() !== 0) return 'needs root for ip netns';
  if (spawnSync('socat', ['-V'], { encoding: 'utf8' }).status !== 0)
    return 'socat is not installed (apt-get install -y socat)';
  const ns = `kc-probe-${randomBytes(3).toString('hex')}`;
  if (spawnSync('ip', ['netns', 'add', ns]).status !== 0) return 'ip netns is not available here';
  spawnSync('ip', ['netns', 'del', ns]);
  return false;
}

const CALLER = 'arn:aws:iam::111122223333:role/keycast-enclave';
const sha384 = (s: string) => createHash('sha384').update(s).digest('hex');

test('the enclave in a loopback-only network namespace, reachable only through socat bridges', {
  skip: why(),
  timeout: 180_000,
}, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'keycast-netns-'));
  const ns = `keycast-e2e-${randomBytes(3).toString('hex')}`;
  const procs: Proc[] = [];
  const socats: ChildProcess[] = [];
  t.after(() => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    for (const s of socats) if (s.exitCode === null) s.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(tmp, { recursive: true, force: true });
  });
  assert.equal(spawnSync('ip', ['netns', 'add', ns]).status, 0);
  assert.equal(spawnSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']).status, 0);
  const socat = (inNs: boolean, ...args: string[]) => {
    const c = inNs
      ? spawn('ip', ['netns', 'exec', ns, 'socat', ...args], { stdio: 'ignore' })
      : spawn('socat', args, { stdio: 'ignore' });
    socats.push(c);
  };
  const keycast = keycastSync;

  // outside: log, witness, dev-kms
  const origin = 'netns.keycast.test/log';
  const logVkey = keycast('log', 'init', '--data', join(tmp, 'log'), '--origin', origin);
  const witness = await start([
    'witness',
    'serve',
    '--data',
    join(tmp, 'w'),
    '--listen',
    '127.0.0.1:0',
    '--log',
    logVkey,
    '--name',
    'w.netns.keycast.test',
  ]);
  procs.push(witness);
  const witnessVkey = keycast('witness', 'vkey', '--data', join(tmp, 'w'));
  const pub = newPublisher();
  writeFileSync(join(tmp, 'signer.pem'), pub.publicPem);
  const log = await start([
    'log',
    'serve',
    '--data',
    join(tmp, 'log'),
    '--listen',
    '127.0.0.1:0',
    '--trust-signer',
    join(tmp, 'signer.pem'),
    '--witness',
    `${witnessVkey}=${witness.url}`,
    '--admission-workers',
    '0',
  ]);
  procs.push(log);
  const pki = createTestPki();
  writeFileSync(join(tmp, 'pki.json'), JSON.stringify(exportTestPki(pki, { keys: 'issuing' })), { mode: 0o600 });
  writeFileSync(join(tmp, 'root.pem'), pki.rootPem);
  const kms = await start([
    'dev-kms',
    '--data',
    join(tmp, 'kms'),
    '--listen',
    '127.0.0.1:0',
    '--trust-root',
    join(tmp, 'root.pem'),
    '--caller',
    CALLER,
  ]);
  procs.push(kms);
  const f = releaseFields('netns');
  writeFileSync(
    join(tmp, 'pcrs.json'),
    JSON.stringify({ pcr0: f.pcr0, pcr1: sha384('pcr1-netns'), pcr2: sha384('pcr2-netns') }),
  );
  const creds = { accessKeyId: 'AKIANETNSEXAMPLE0001', secretAccessKey: 'netns-test-not-a-secret-0000000000000' };
  const admin = new KMSClient({ region: 'us-east-1', endpoint: kms.url, maxAttempts: 1, credentials: creds });
  const keyArn = (
    await admin.send(
      new CreateKeyCommand({
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'Admin',
              Effect: 'Allow',
              Principal: { AWS: CALLER },
              Action: ['kms:PutKeyPolicy', 'kms:GetKeyPolicy'],
              Resource: '*',
            },
            {
              Sid: 'Enclave',
              Effect: 'Allow',
              Principal: { AWS: CALLER },
              Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
              Resource: '*',
              Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': [f.pcr0] } },
            },
          ],
        }),
      }),
    )
  ).KeyMetadata!.Arn!;
  admin.destroy();
  writeFileSync(
    join(tmp, 'enclave.json'),
    formatEnclaveConfig({
      version: 1,
      log: { origin, vkey: logVkey },
      witnesses: { vkeys: [witnessVkey], threshold: 1 },
      maxCheckpointAgeSeconds: 600,
      publishers: [pub.publicPem],
      kms: { keyArn, region: 'us-east-1' },
    }),
  );

  // the bridges: UNIX sockets stand in for vsock
  const kmsPort = new URL(kms.url).port;
  socat(false, `UNIX-LISTEN:${join(tmp, 'kms.sock')},fork`, `TCP:127.0.0.1:${kmsPort}`);
  socat(true, 'TCP-LISTEN:8000,bind=127.0.0.1,fork,reuseaddr', `UNIX-CONNECT:${join(tmp, 'kms.sock')}`);
  socat(true, `UNIX-LISTEN:${join(tmp, 'enclave.sock')},fork`, 'TCP:127.0.0.1:8443');
  const bridge = await freePort();
  socat(false, `TCP-LISTEN:${bridge},bind=127.0.0.1,fork,reuseaddr`, `UNIX-CONNECT:${join(tmp, 'enclave.sock')}`);

  // inside: the enclave, loopback only
  const enclave = await start(
    [
      'enclave',
      'run',
      '--nsm',
      'sim',
      '--pki',
      join(tmp, 'pki.json'),
      '--pcrs',
      join(tmp, 'pcrs.json'),
      '--config',
      join(tmp, 'enclave.json'),
      '--listen',
      '127.0.0.1:8443',
      '--recheck',
      '1',
      '--kms-endpoint',
      'http://127.0.0.1:8000',
    ],
    { AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey },
    ['ip', 'netns', 'exec', ns],
  );
  procs.push(enclave);
  // the namespace really is cut off: the log's port is unreachable from inside
  const probe = spawnSync(
    'ip',
    [
      'netns',
      'exec',
      ns,
      process.execPath,
      '-e',
      `require('net').connect(${new URL(log.url).port}, '127.0.0.1').on('connect', () => process.exit(0)).on('error', (e) => { console.log(e.code); process.exit(1); })`,
    ],
    { encoding: 'utf8', timeout: 10_000 },
  );
  assert.equal(probe.status, 1, 'the enclave namespace reached the log directly');

  const host = await start([
    'host',
    'run',
    '--enclave',
    `127.0.0.1:${bridge}`,
    '--log',
    log.url,
    '--listen',
    '127.0.0.1:0',
    '--store',
    join(tmp, 'store'),
    '--refresh',
    '1',
  ]);
  procs.push(host);
  const status = async () => {
    const r = await fetch(`${host.url}/v1/status`);
    return {
      code: r.status,
      body: (await r.json()) as {
        enclave: { gate: { refusal: { code: string } | null }; identity: { ready: boolean } };
      },
    };
  };
  await until('the enclave to answer through the bridge', async () =>
    (await status()).body.enclave.gate.refusal?.code === 'PROOF_MISSING' ? true : undefined,
  );
  const r = await fetch(`${log.url}/add-entry`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: releaseBundle(pub, 'netns'),
  });
  assert.equal(r.status, 200);
  const s = await until(
    'the gate to open and the identity to be sealed through the KMS bridge',
    async () => {
      const x = await status();
      return x.code === 200 && x.body.enclave.identity.ready ? x : undefined;
    },
    30_000,
  );
  assert.equal(s.code, 200);
});
