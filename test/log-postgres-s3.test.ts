/**
 * `keycast log serve --store postgres://… --tiles s3://…` end to end, against a real private
 * PostgreSQL cluster and s3rver: the bucket gets the tiles and the checkpoint the server serves;
 * and a bucket whose checkpoint is ahead of the database (a database restored from an old
 * backup, or a bucket written by another log) makes the next start refuse with STARTUP_MISMATCH
 * and the log's exit code, instead of serving a tree that forks from what readers already saw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { formatCheckpoint, signNote } from '#verifier/build';
import { createPgLog, loadLogKey } from '../log-server/index.ts';
import { newPublisher, releaseBundle } from './log-fixtures.ts';
import { serveKeycast } from './enclave-e2e-helpers.ts';
import { pgUnavailable, startPgCluster } from './pg-cluster.ts';

interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
const S3rver = createRequire(import.meta.url)('s3rver') as new (o: Record<string, unknown>) => S3rverInstance;
const ORIGIN = 'pg-s3.keycast.test/log';
const BUCKET = 'keycast-pg-tiles';

test('log serve --store --tiles: the bucket follows the database, and a bucket ahead of it refuses start-up', {
  skip: pgUnavailable() ?? false,
  timeout: 120_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-pg-s3-'));
  const s3 = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: join(dir, 's3'),
    configureBuckets: [{ name: BUCKET }],
  });
  const { port } = await s3.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const cluster = await startPgCluster();
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  t.after(async () => {
    client.destroy();
    cluster.stop();
    await s3.close();
    rmSync(dir, { recursive: true, force: true });
  });
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  const url = await cluster.database('tiles');
  const keyFile = join(dir, 'log.key');
  const { vkey } = await createPgLog(url, ORIGIN, keyFile);
  const publisher = newPublisher();
  writeFileSync(join(dir, 'publisher.pem'), publisher.publicPem);
  const args = [
    'log',
    'serve',
    '--store',
    url,
    '--key',
    keyFile,
    '--listen',
    '127.0.0.1:0',
    '--trust-signer',
    join(dir, 'publisher.pem'),
    '--tiles',
    `s3://${BUCKET}/log`,
    '--s3-endpoint',
    endpoint,
    '--admission-workers',
    '0',
  ];
  const object = async (key: string): Promise<Buffer> => {
    const r = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: `log/${key}` }));
    return Buffer.from(await r.Body!.transformToByteArray());
  };

  const s = await serveKeycast(args);
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`${s.url}/add-entry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: releaseBundle(publisher, `s3-${i}`),
    });
    assert.equal(r.status, 200);
  }
  const served = await (await fetch(`${s.url}/checkpoint`)).text();
  const tile = Buffer.from(await (await fetch(`${s.url}/tile/0/000.p/3`)).arrayBuffer());
  assert.ok(tile.equals(await object('tile/0/000.p/3')), 'the hash tile in the bucket is the served one');
  assert.ok(
    Buffer.from(await (await fetch(`${s.url}/tile/entries/000.p/3`)).arrayBuffer()).equals(
      await object('tile/entries/000.p/3'),
    ),
  );
  for (let i = 0; i < 50 && (await object('checkpoint')).toString() !== served; i++)
    await new Promise((r) => setTimeout(r, 20));
  assert.equal((await object('checkpoint')).toString(), served, 'the bucket holds the served checkpoint');
  s.child.kill('SIGTERM');
  await once(s.child, 'exit');

  // The bucket now claims a tree the database never reached.
  const key = loadLogKey(readFileSync(keyFile, 'utf8').trim(), vkey, ORIGIN);
  const ahead = signNote(formatCheckpoint({ origin: ORIGIN, size: 9, rootHash: new Uint8Array(32), extensions: [] }), [
    key.signer,
  ]);
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'log/checkpoint', Body: ahead }));
  await assert.rejects(serveKeycast(args), (e: Error) => {
    assert.match(e.message, /exited 3/, 'the log exit code');
    assert.match(e.message, /STARTUP_MISMATCH/);
    assert.match(e.message, /ahead of the database/);
    return true;
  });
});
