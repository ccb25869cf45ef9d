/**
 * The signed release-status statement (GET /status/<index>[?size=]) and "revoked means
 * revoked": a revocation retires the measurement, so a later release of the same PCR0 is
 * refused, and every answer the log gives (statement, /entry, /lookup) agrees on it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noteVerifier, openCheckpoint, openReleaseStatus } from '#verifier';
import { bytesEqual } from '#verifier/build';
import type { Checkpoint, ReleaseStatus } from '#verifier';
import { ORIGIN, leafBundle, post, startTestLog } from './helpers.ts';
import type { TestLog } from './helpers.ts';

const X = 'ab'.repeat(48);
const Y = 'cd'.repeat(48);

async function checkpoint(l: TestLog): Promise<Checkpoint> {
  const r = await fetch(`${l.url}/checkpoint`);
  return openCheckpoint(await r.text(), noteVerifier(l.vkey), ORIGIN).checkpoint;
}

async function status(l: TestLog, index: number, size?: number): Promise<{ s: ReleaseStatus; headers: Headers }> {
  const r = await fetch(`${l.url}/status/${index}${size === undefined ? '' : `?size=${size}`}`);
  const text = await r.text();
  assert.equal(r.status, 200, text);
  assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
  return { s: openReleaseStatus(text, noteVerifier(l.vkey), ORIGIN), headers: r.headers };
}

async function getJson(l: TestLog, path: string): Promise<{ status: number; json: any }> {
  const r = await fetch(`${l.url}${path}`);
  return { status: r.status, json: await r.json() };
}

test('status statements: active, revoked at and after the revocation, active at a past size below it, each for that past root', async (t) => {
  const l = await startTestLog();
  t.after(() => l.close());
  const rel = await post(l.url, leafBundle('release-x', { pcr0: X }));
  assert.equal(rel.status, 200);
  const cp1 = await checkpoint(l);
  const first = await status(l, rel.json.index);
  assert.deepEqual(first.s.status, { state: 'active' });
  assert.equal(first.s.treeSize, cp1.size);
  assert.ok(bytesEqual(first.s.rootHash, cp1.rootHash));
  assert.equal(first.s.pcr0, X);
  assert.equal(first.headers.get('cache-control'), 'max-age=2');

  await post(l.url, leafBundle('filler-1'));
  const cp2 = await checkpoint(l);
  const rev = await post(
    l.url,
    leafBundle('revoke-x', { kind: 'revocation', revokes: { index: rel.json.index, pcr0: X } }),
  );
  assert.equal(rev.status, 200, JSON.stringify(rev.json));
  await post(l.url, leafBundle('filler-2'));
  const cp4 = await checkpoint(l);

  // Now: revoked by the revocation entry, for the current root.
  const now = await status(l, rel.json.index);
  assert.deepEqual(now.s.status, { state: 'revoked', revokedBy: rev.json.index });
  assert.equal(now.s.treeSize, cp4.size);
  assert.ok(bytesEqual(now.s.rootHash, cp4.rootHash));
  // A past size above the revocation: revoked. At exactly the revocation's index (it is not in that tree): active.
  const justAfter = await status(l, rel.json.index, rev.json.index + 1);
  assert.deepEqual(justAfter.s.status, { state: 'revoked', revokedBy: rev.json.index });
  assert.equal(justAfter.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  const past = await status(l, rel.json.index, cp2.size);
  assert.equal(cp2.size, rev.json.index);
  assert.deepEqual(past.s.status, { state: 'active' });
  assert.ok(bytesEqual(past.s.rootHash, cp2.rootHash), 'a past statement speaks for that past root');
  const smallest = await status(l, rel.json.index, rel.json.index + 1);
  assert.ok(bytesEqual(smallest.s.rootHash, cp1.rootHash));
  assert.deepEqual(smallest.s.status, { state: 'active' });

  // /entry and /lookup agree with the statement.
  const entry = await getJson(l, `/entry/${rel.json.index}`);
  assert.equal(entry.json.status, 'revoked');
  assert.equal(entry.json.revokedBy, rev.json.index);
  const look = await getJson(l, `/lookup/pcr0/${X}`);
  assert.equal(look.json.status, 'revoked');
  assert.equal(look.json.revokedBy, rev.json.index);
});

test('status requests the log cannot answer are coded: not a release 404, sizes out of range 400, bad numbers and queries 400', async (t) => {
  const l = await startTestLog();
  t.after(() => l.close());
  await post(l.url, leafBundle('release-y', { pcr0: Y }));
  await post(l.url, leafBundle('a-rebuild', { kind: 'rebuild', pcr0: Y }));
  const cases: Array<[string, number, string]> = [
    ['/status/1', 404, 'NOT_FOUND'], // a rebuild entry, not a release
    ['/status/2', 404, 'NOT_FOUND'], // beyond the tree
    ['/status/99999999999', 404, 'NOT_FOUND'],
    ['/status/0?size=0', 400, 'OUT_OF_RANGE'], // the release is not in a tree of size 0
    ['/status/0?size=3', 400, 'OUT_OF_RANGE'], // beyond the current size
    ['/status/01', 400, 'NON_CANONICAL_NUMBER'],
    ['/status/-1', 400, 'NON_CANONICAL_NUMBER'],
    ['/status/0?size=01', 400, 'NON_CANONICAL_NUMBER'],
    ['/status/0?size=', 400, 'NON_CANONICAL_NUMBER'],
    ['/status/0?size=1&size=2', 400, 'MALFORMED_REQUEST'],
    ['/status/0?index=0', 400, 'MALFORMED_REQUEST'],
    ['/status/0?__proto__=1', 400, 'MALFORMED_REQUEST'],
  ];
  for (const [path, code, name] of cases) {
    const r = await getJson(l, path);
    assert.equal(r.status, code, `${path}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.code, name, path);
  }
  assert.deepEqual((await status(l, 0, 2)).s.status, { state: 'active' });
});

test('a revocation retires the measurement: a new release of that PCR0 is refused naming the revocation, and earlier releases of it read as revoked', async (t) => {
  const l = await startTestLog();
  t.after(() => l.close());
  const a = await post(l.url, leafBundle('release-x-a', { pcr0: X }));
  const b = await post(l.url, leafBundle('release-x-b', { pcr0: X })); // the same image released twice
  const y = await post(l.url, leafBundle('release-y', { pcr0: Y }));
  const rev = await post(
    l.url,
    leafBundle('revoke-x-a', { kind: 'revocation', revokes: { index: a.json.index, pcr0: X } }),
  );
  assert.equal(rev.status, 200);

  // The release logged again after the revocation: refused, with the revocation as evidence.
  const again = await post(l.url, leafBundle('release-x-c', { pcr0: X }));
  assert.equal(again.status, 422, JSON.stringify(again.json));
  assert.equal(again.json.code, 'MEASUREMENT_REVOKED');
  assert.equal(again.json.evidence.revokedBy, rev.json.index);
  assert.equal(again.json.evidence.pcr0, X);
  // Resubmitting the original bundle answers with its entry (a duplicate), still revoked.
  const dup = await post(l.url, leafBundle('release-x-b', { pcr0: X }));
  assert.equal(dup.json.duplicate, true);
  assert.equal(dup.json.index, b.json.index);

  // The other release of X (never named by a revocation) is revoked too, in every answer.
  const sb = await status(l, b.json.index);
  assert.deepEqual(sb.s.status, { state: 'revoked', revokedBy: rev.json.index });
  const eb = await getJson(l, `/entry/${b.json.index}`);
  assert.deepEqual([eb.json.status, eb.json.revokedBy], ['revoked', rev.json.index]);
  const look = await getJson(l, `/lookup/pcr0/${X.toUpperCase()}`);
  assert.equal(look.json.index, b.json.index);
  assert.deepEqual([look.json.status, look.json.revokedBy], ['revoked', rev.json.index]);
  // An unrelated measurement is untouched, and the size did not move for the refused release.
  assert.deepEqual((await status(l, y.json.index)).s.status, { state: 'active' });
  assert.equal((await getJson(l, `/entry/${y.json.index}`)).json.status, 'active');
  assert.equal((await checkpoint(l)).size, rev.json.index + 1);
});

test('a release and a revocation of its PCR0 in one batch: the release after the revocation is refused', async (t) => {
  const l = await startTestLog();
  t.after(() => l.close());
  const a = await post(l.url, leafBundle('release-x', { pcr0: X }));
  const leaf = (s: string) => new Uint8Array(Buffer.from(s));
  const { hashLeaf } = await import('#verifier/build');
  // Submitted synchronously, so both wait in the pool for the same batch, revocation first.
  const revP = l.log.sequencer.submit(
    { leaf: leaf('rev'), kind: 'revocation', revokes: { index: a.json.index, pcr0: X } },
    hashLeaf(leaf('rev')),
  );
  const relP = l.log.sequencer.submit({ leaf: leaf('rel'), kind: 'release', pcr0: X }, hashLeaf(leaf('rel')));
  const rev = await revP;
  await assert.rejects(relP, (e: any) => e.code === 'MEASUREMENT_REVOKED' && e.evidence.revokedBy === rev.index);
  assert.equal(l.log.sequencer.current.size, 2);
});

test('a release logged after its PCR0 was revoked (a database from before the rule) reads as revoked, and no statement is signed for it', async (t) => {
  const l = await startTestLog();
  t.after(() => l.close());
  const a = await post(l.url, leafBundle('release-x', { pcr0: X }));
  const rev = await post(
    l.url,
    leafBundle('revoke-x', { kind: 'revocation', revokes: { index: a.json.index, pcr0: X } }),
  );
  // Simulate the log version that did not refuse it: its sequencer saw no revocation.
  const storage = l.log.storage as { firstRevocation: (...a: [string, number, number]) => number | null };
  const real = storage.firstRevocation;
  storage.firstRevocation = () => null;
  const late = await post(l.url, leafBundle('release-x-late', { pcr0: X }));
  storage.firstRevocation = real;
  assert.equal(late.status, 200);
  const entry = await getJson(l, `/entry/${late.json.index}`);
  assert.deepEqual([entry.json.status, entry.json.revokedBy], ['revoked', rev.json.index]);
  const look = await getJson(l, `/lookup/pcr0/${X}`);
  assert.deepEqual(
    [look.json.index, look.json.status, look.json.revokedBy],
    [late.json.index, 'revoked', rev.json.index],
  );
  const st = await getJson(l, `/status/${late.json.index}`);
  assert.equal(st.status, 422);
  assert.equal(st.json.code, 'MEASUREMENT_REVOKED');
  assert.equal(st.json.evidence.revokedBy, rev.json.index);
});
