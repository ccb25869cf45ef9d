/**
 * The host store's create-once primitive, putIfAbsent (issue 23): on a real directory, many
 * callers at once — in this process and in other processes — and exactly one creates the
 * artefact, whose bytes are the winner's and never half-written; on S3, the request carries
 * `If-None-Match: *` and a 412 answer means "another got there first" (checked on the wire
 * against a loopback S3 endpoint, since s3rver ignores conditional PUTs), while s3rver still
 * serves the unconditional paths.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { DirStore, MemoryStore, S3Store } from '../host/store.ts';

const STORE_TS = resolve(import.meta.dirname, '../host/store.ts');

test('DirStore.putIfAbsent: of 16 callers in this process and 4 other processes, exactly one creates it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-store-excl-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // other processes race for the same name with their own bytes
  const child = (i: number) =>
    new Promise<string>((ok, fail) => {
      const code = `import { DirStore } from ${JSON.stringify(STORE_TS)};
        const won = await new DirStore(${JSON.stringify(dir)}).putIfAbsent('identity.json', new TextEncoder().encode('process-${i}-'.repeat(4096)));
        process.stdout.write(String(won));`;
      const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (err += d));
      p.once('exit', (c) => (c === 0 ? ok(out) : fail(new Error(err))));
    });
  const store = new DirStore(dir);
  const results = await Promise.all([
    ...Array.from({ length: 4 }, (_, i) => child(i).then((s) => s === 'true')),
    ...Array.from({ length: 16 }, (_, i) =>
      store.putIfAbsent('identity.json', new TextEncoder().encode(`local-${i}-`.repeat(4096))),
    ),
  ]);
  assert.equal(results.filter(Boolean).length, 1, `winners: ${JSON.stringify(results)}`);
  const body = readFileSync(join(dir, 'identity.json'), 'utf8');
  const m = /^((?:process|local)-\d+-)/.exec(body);
  assert.ok(m && body === m[1]!.repeat(4096), 'the artefact is exactly one caller’s whole body');
  assert.deepEqual(readdirSync(dir), ['identity.json'], 'no temporary file is left behind');
  // later callers lose too, and the bytes stay the winner's
  assert.equal(await store.putIfAbsent('identity.json', new Uint8Array([1])), false);
  assert.equal(readFileSync(join(dir, 'identity.json'), 'utf8'), body);
  await assert.rejects(store.putIfAbsent('../escape', new Uint8Array(1)), TypeError);
});

test('MemoryStore.putIfAbsent: first one wins', async () => {
  const m = new MemoryStore();
  assert.equal(await m.putIfAbsent('a', new Uint8Array([1])), true);
  assert.equal(await m.putIfAbsent('a', new Uint8Array([2])), false);
  assert.deepEqual(await m.get('a'), new Uint8Array([1]));
});

test('S3Store.putIfAbsent sends If-None-Match: * and reads 412 as "already exists"; 409 is asked again', async (t) => {
  const seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders }> = [];
  const answers = [200, 409, 412, 412];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers });
      const status = answers.shift() ?? 500;
      if (status === 200) {
        res.writeHead(200, { etag: '"abc"' }).end();
        return;
      }
      const code = status === 412 ? 'PreconditionFailed' : 'ConditionalRequestConflict';
      res
        .writeHead(status, { 'content-type': 'application/xml' })
        .end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>m</Message></Error>`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const store = new S3Store('s3://bucket-a/prefix', {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIATEST', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  assert.equal(await store.putIfAbsent('identity.json', new TextEncoder().encode('{}')), true);
  assert.equal(await store.putIfAbsent('identity.json', new TextEncoder().encode('{}')), false, '409 then 412');
  assert.equal(await store.putIfAbsent('identity.json', new TextEncoder().encode('{}')), false);
  assert.equal(seen.length, 4);
  for (const r of seen) {
    assert.equal(r.method, 'PUT');
    assert.equal(r.url.split('?')[0], '/bucket-a/prefix/identity.json');
    assert.equal(r.headers['if-none-match'], '*');
    assert.match(String(r.headers.authorization), /SignedHeaders=[^,]*if-none-match/, 'the condition is signed');
  }
});

test('S3Store against s3rver: put/get and a first putIfAbsent work (s3rver does not enforce the condition)', async (t) => {
  interface S3rverInstance {
    run(): Promise<{ port: number }>;
    close(): Promise<void>;
  }
  const S3rver = createRequire(import.meta.url)('s3rver') as new (o: Record<string, unknown>) => S3rverInstance;
  const dir = mkdtempSync(join(tmpdir(), 'keycast-store-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: dir,
    configureBuckets: [{ name: 'hoststore' }],
  });
  const { port } = await server.run();
  t.after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const store = new S3Store('s3://hoststore/p', {
    endpoint: `http://127.0.0.1:${port}`,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  assert.equal(await store.get('identity.json'), null);
  assert.equal(await store.putIfAbsent('identity.json', new TextEncoder().encode('first')), true);
  assert.equal(new TextDecoder().decode((await store.get('identity.json'))!), 'first');
});
