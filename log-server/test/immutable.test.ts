/**
 * Immutable reads written from kept bytes (src/http/immutable.ts), over a real socket (inject()
 * does not pass through the HTTP server): the second ask for a tile or proof gets the same bytes
 * and headers as the first; refusals are never kept, so a tile or proof beyond the tree becomes
 * answerable once the tree reaches it; and mutable answers (the checkpoint) keep changing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { leafBundle, post, startTestLog } from './helpers.ts';

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
