/**
 * S3ObjectStore against a real S3-compatible server (s3rver, started here on 127.0.0.1 with an
 * ephemeral port and a temp dir): put/get with the tlog-tiles cache headers, missing keys, a
 * missing bucket; then a log publishing to it, read back from S3 alone and verified with the
 * verifier's tile and checkpoint checks (the way a CDN reader would).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { checkEntryBundle, checkTile, noteVerifier, openCheckpoint, tileHashReader } from '#verifier';
import { entriesPath, entryBundlesForSize, tilePath, tilesForSize } from '#verifier/build';
import type { Tile } from '#verifier/build';
import { S3ObjectStore, IMMUTABLE_CACHE_CONTROL, MUTABLE_CACHE_CONTROL } from '../src/objectstore/s3.ts';
import type { ObjectStore } from '../src/ports.ts';
import { ORIGIN, leafBundle, post, startTestLog } from './helpers.ts';

interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
const S3rver = createRequire(import.meta.url)('s3rver') as new (o: Record<string, unknown>) => S3rverInstance;

const BUCKET = 'keycast-tiles';
const CREDS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
let server: S3rverInstance;
let endpoint: string;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keycast-s3rver-'));
  server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: dir,
    configureBuckets: [{ name: BUCKET }],
  });
  const { port } = await server.run();
  endpoint = `http://127.0.0.1:${port}`;
});

after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

function store(prefix?: string, bucket = BUCKET): S3ObjectStore {
  return new S3ObjectStore({ bucket, prefix, endpoint, region: 'us-east-1', credentials: CREDS, maxAttempts: 2 });
}

test('put then get returns the same bytes with tlog-tiles content type and cache control', async () => {
  const s = store('p1');
  try {
    const tile = new Uint8Array(32 * 3).map((_, i) => i);
    await s.put('tile/0/000.p/3', tile, { contentType: 'application/octet-stream', immutable: true });
    await s.put('checkpoint', Buffer.from('hello\n'), { contentType: 'text/plain; charset=utf-8', immutable: false });
    assert.deepEqual(await s.get('tile/0/000.p/3'), tile);
    assert.equal(Buffer.from((await s.get('checkpoint'))!).toString(), 'hello\n');
    const t = await s.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'p1/tile/0/000.p/3' }));
    assert.equal(t.CacheControl, IMMUTABLE_CACHE_CONTROL);
    assert.equal(t.ContentType, 'application/octet-stream');
    const c = await s.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'p1/checkpoint' }));
    assert.equal(c.CacheControl, MUTABLE_CACHE_CONTROL);
    assert.match(String(c.ContentType), /^text\/plain/);
  } finally {
    s.close();
  }
});

test('a missing key is null; a missing bucket or a bad bucket name is an error, not null', async () => {
  const s = store('p2');
  const nb = store(undefined, 'no-such-bucket');
  try {
    assert.equal(await s.get('tile/0/999'), null);
    await assert.rejects(nb.put('checkpoint', new Uint8Array(1), { contentType: 'text/plain', immutable: false }));
    assert.throws(() => store(undefined, 'Bad_Bucket'), TypeError);
  } finally {
    s.close();
    nb.close();
  }
});

test('transient S3 errors (503 SlowDown) are retried; persistent ones reject after maxAttempts', async () => {
  let requests = 0;
  let failFirst = 1;
  const flaky = createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => {
      if (requests <= failFirst) {
        res
          .writeHead(503, { 'content-type': 'application/xml' })
          .end('<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>slow down</Message></Error>');
      } else {
        res.writeHead(200, { etag: '"x"' }).end();
      }
    });
  });
  await new Promise<void>((ok) => flaky.listen(0, '127.0.0.1', ok));
  const s = new S3ObjectStore({
    bucket: BUCKET,
    endpoint: `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`,
    region: 'us-east-1',
    credentials: CREDS,
    maxAttempts: 3,
  });
  try {
    await s.put('checkpoint', new Uint8Array(3), { contentType: 'text/plain', immutable: false });
    assert.equal(requests, 2, 'one failure, one retry');
    requests = 0;
    failFirst = 100;
    await assert.rejects(s.put('checkpoint', new Uint8Array(3), { contentType: 'text/plain', immutable: false }));
    assert.equal(requests, 3, 'gave up after maxAttempts');
  } finally {
    s.close();
    flaky.close();
  }
});

/** Records the order of puts on top of a real store. */
class Recording implements ObjectStore {
  readonly order: string[] = [];
  constructor(private readonly inner: ObjectStore) {}
  async put(key: string, body: Uint8Array, opts: { contentType: string; immutable: boolean }): Promise<void> {
    await this.inner.put(key, body, opts);
    this.order.push(key);
  }
  get(key: string): Promise<Uint8Array | null> {
    return this.inner.get(key);
  }
}

test('a log publishing to S3: tiles, entry bundles and checkpoint read back from S3 verify', async () => {
  const s3 = store('log');
  const rec = new Recording(s3);
  const t = await startTestLog({ objectStore: rec });
  try {
    const leaves = Array.from({ length: 300 }, (_, i) => `release ${i}`);
    for (let i = 0; i < leaves.length; i += 100) {
      const rs = await Promise.all(leaves.slice(i, i + 100).map((l) => post(t.url, leafBundle(l))));
      for (const r of rs) assert.equal(r.status, 200, JSON.stringify(r.json));
    }
    const reader = store('log'); // a fresh client: nothing shared with the writer
    const note = Buffer.from((await reader.get('checkpoint'))!).toString();
    const { checkpoint } = openCheckpoint(note, noteVerifier(t.vkey), ORIGIN);
    assert.equal(checkpoint.size, 300);

    const tiles = new Map<string, Uint8Array>();
    for (const tile of tilesForSize(checkpoint.size)) {
      const data = await reader.get(tilePath(tile));
      assert.ok(data, `tile ${tilePath(tile)} is in S3`);
      tiles.set(tilePath(tile), data);
    }
    const get = (tile: Tile) => tiles.get(tilePath(tile))!;
    const read = tileHashReader(checkpoint.size, get);
    for (const tile of tilesForSize(checkpoint.size)) checkTile(tile, get(tile), checkpoint, read);

    const got: string[] = [];
    for (const b of entryBundlesForSize(checkpoint.size)) {
      const bundle = await reader.get(entriesPath(b.index, b.width));
      assert.ok(bundle, `bundle ${entriesPath(b.index, b.width)} is in S3`);
      for (const e of checkEntryBundle(bundle, get({ level: 0, index: b.index, width: b.width })))
        got.push(Buffer.from(e).toString());
    }
    assert.deepEqual(got.sort(), [...leaves].sort());

    const lastCheckpoint = rec.order.lastIndexOf('checkpoint');
    for (const tile of tilesForSize(checkpoint.size)) {
      assert.ok(
        rec.order.indexOf(tilePath(tile)) < lastCheckpoint,
        `${tilePath(tile)} was uploaded before the checkpoint implying it`,
      );
    }
    const tampered = new Uint8Array(get({ level: 0, index: 0, width: 256 }));
    tampered[5]! ^= 1;
    assert.throws(() => checkTile({ level: 0, index: 0, width: 256 }, tampered, checkpoint, read), {
      code: 'TILE_MISMATCH',
    });
    reader.close();
  } finally {
    await t.close();
    s3.close();
  }
});
