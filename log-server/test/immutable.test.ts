/**
 * Immutable reads written from kept bytes (src/http/immutable.ts), over a real socket (inject()
 * does not pass through the HTTP server): the second ask for a tile or proof gets the same bytes
 * and headers as the first; refusals are never kept, so a tile or proof beyond the tree becomes
 * answerable once the tree reaches it; and mutable answers (the checkpoint) keep changing. A
 * plain proof or tile URL is made before fastify (src/http/routes/*.ts `makeWith`) with exactly
 * the route's bytes, and every refusal still comes from the route.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLog, openLog } from '../src/log.ts';
import { buildApp } from '../src/http/app.ts';
import { ORIGIN, leafBundle, post, rawLeafPolicy, startTestLog } from './helpers.ts';

async function get(url: string) {
  const r = await fetch(url);
  return { status: r.status, headers: r.headers, body: Buffer.from(await r.arrayBuffer()) };
}

test('kept immutable answers equal the first ones; refusals and mutable answers are never kept', async (t) => {
  const log = await startTestLog();
  t.after(() => log.close());
  for (let i = 0; i < 3; i++) assert.equal((await post(log.url, leafBundle(`imm-${i}`))).status, 200);
  for (const path of ['/tile/0/000.p/3', '/tile/entries/000.p/3', '/proof/inclusion?index=1&size=3']) {
    const first = await get(log.url + path);
    const again = await get(log.url + path);
    assert.equal(first.status, 200, path);
    assert.equal(again.status, 200, path);
    assert.ok(first.body.equals(again.body), `${path}: the same bytes`);
    for (const h of ['content-type', 'cache-control', 'content-length'])
      assert.equal(again.headers.get(h), first.headers.get(h), `${path}: the same ${h}`);
  }
  const before = await get(`${log.url}/checkpoint`);
  assert.equal((await get(`${log.url}/tile/0/000.p/4`)).status, 404);
  assert.equal((await get(`${log.url}/proof/inclusion?index=3&size=4`)).status, 400);
  assert.equal((await post(log.url, leafBundle('imm-3'))).status, 200);
  assert.equal((await get(`${log.url}/tile/0/000.p/4`)).status, 200, 'the 404 was not kept');
  const proof = await get(`${log.url}/proof/inclusion?index=3&size=4`);
  assert.equal(proof.status, 200, 'the refusal was not kept');
  assert.equal(JSON.parse(proof.body.toString()).treeSize, 4);
  assert.notEqual((await get(`${log.url}/checkpoint`)).body.toString(), before.body.toString(), 'the checkpoint moves');
});

test('a plain proof or tile URL is made before fastify routes it, with the bytes the route gives; anything else reaches the route', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-made-'));
  createLog(dir, ORIGIN);
  const log = await openLog(dir, { policy: rawLeafPolicy });
  const app = await buildApp({ log });
  let routed = 0;
  app.addHook('onRequest', async () => {
    routed++;
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(async () => {
    await app.close();
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });
  for (let i = 0; i < 3; i++) assert.equal((await post(url, leafBundle(`made-${i}`))).status, 200);
  const pairs = [
    ['/proof/inclusion?size=3&index=1', '/proof/inclusion?index=1&size=3'],
    ['/tile/0/000.p/3?again', '/tile/0/000.p/3'],
    ['/tile/entries/000.p/3?again', '/tile/entries/000.p/3'],
  ];
  for (const [viaRoute, plain] of pairs) {
    const before = routed;
    const a = await get(url + viaRoute!);
    assert.equal(routed, before + 1, `${viaRoute} reaches the route`);
    const b = await get(url + plain!);
    assert.equal(routed, before + 1, `${plain} is answered before the route`);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.ok(a.body.equals(b.body), `${plain}: the route's bytes`);
    for (const h of ['content-type', 'cache-control', 'content-length'])
      assert.equal(b.headers.get(h), a.headers.get(h), `${plain}: the route's ${h}`);
  }
  // refusals are the route's, with its codes, and never kept
  for (const [path, status, code] of [
    ['/proof/inclusion?index=3&size=3', 400, 'OUT_OF_RANGE'],
    ['/proof/inclusion?index=1&size=4', 400, 'OUT_OF_RANGE'],
    ['/proof/inclusion?index=01&size=3', 400, 'NON_CANONICAL_NUMBER'],
    ['/proof/inclusion?index=1&size=9999999999999999', 400, 'NON_CANONICAL_NUMBER'],
    ['/tile/0/000.p/4', 404, 'TILE_NOT_FOUND'],
    ['/tile/0/00', 404, 'TILE_PATH_INVALID'],
    ['/tile/0/000.p/', 404, 'TILE_PATH_INVALID'],
    ['/tile/0/0.0', 404, 'TILE_PATH_INVALID'],
  ] as const) {
    const before = routed;
    const r = await get(url + path);
    assert.equal(routed, before + 1, `${path} reaches the route`);
    assert.equal(r.status, status, path);
    assert.equal(JSON.parse(r.body.toString()).code, code, path);
  }
  assert.equal((await post(url, leafBundle('made-3'))).status, 200);
  assert.equal((await get(`${url}/proof/inclusion?index=1&size=4`)).status, 200, 'answerable once the tree grows');
  assert.equal((await get(`${url}/tile/0/000.p/4`)).status, 200);
});
