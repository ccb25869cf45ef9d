/**
 * AwsKmsPort's vsock-bridge option: every connection dials the local bridge port while the TLS
 * server name (SNI) and certificate check stay the real KMS host, and a refusal to trust the
 * peer is KMS_UNAVAILABLE (no silent retry, no plaintext fallback). Needs openssl for a cert.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, createServer } from 'node:tls';
import { AwsKmsPort } from '../runtime/kms/aws.ts';
import { EnclaveError } from '../common/errors.ts';

const noOpenssl = spawnSync('openssl', ['version']).status === 0 ? false : 'Debian openssl is not installed';

test('the bridge dials 127.0.0.1:<port> with SNI kms.<region>.amazonaws.com and verifies the certificate', {
  skip: noOpenssl,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-bridge-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, 'k.pem'),
      '-out',
      join(dir, 'c.pem'),
      '-subj',
      '/CN=kms.eu-west-1.amazonaws.com',
      '-days',
      '1',
    ],
    { stdio: 'pipe' },
  );
  const seen: string[] = [];
  const servername: string[] = [];
  const key = readFileSync(join(dir, 'k.pem'));
  const cert = readFileSync(join(dir, 'c.pem'));
  const server = createServer(
    {
      key,
      cert,
      SNICallback: (name, cb) => {
        servername.push(name);
        cb(null, createSecureContext({ key, cert }));
      },
    },
    (s) => s.end(),
  );
  server.on('tlsClientError', () => {});
  server.on('connection', () => seen.push('tcp'));
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const kms = new AwsKmsPort({
    region: 'eu-west-1',
    bridge: { host: '127.0.0.1', port },
    credentials: { accessKeyId: 'AKIAX', secretAccessKey: 'y' },
    connectTimeoutMs: 2000,
    requestTimeoutMs: 4000,
  });
  t.after(() => kms.destroy());
  await assert.rejects(
    kms.generateDataKey({ keyId: 'k', attestationDocument: new Uint8Array(8) }),
    (e) => e instanceof EnclaveError && e.code === 'KMS_UNAVAILABLE' && /certificate/i.test(e.message),
  );
  assert.deepEqual(seen, ['tcp'], 'exactly one connection, to the bridge: no retry');
  assert.deepEqual(servername, ['kms.eu-west-1.amazonaws.com'], 'the ClientHello names the real KMS host');
});
