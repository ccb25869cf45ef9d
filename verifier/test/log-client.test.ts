/**
 * The log client against a fake `fetch` serving a C2SP tlog built from the verifier's own
 * primitives — and from the attacker's side: wrong content types, truncated and tampered tiles,
 * bundles and proofs, a checkpoint under another key or without the witnesses, bodies that never
 * end or never arrive, transient failures (reported and retried) and permanent ones (given up on).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LogClient,
  parseBundle,
  parseTrustedKey,
  isVerifierError,
  fetchProofBundle,
  parseProofBundle,
  type VerifierErrorCode,
} from '../index.ts';
import {
  MemoryTree,
  generateNoteKey,
  noteSigner,
  signNote,
  formatCheckpoint,
  proveInclusion,
  proveConsistency,
  formatTlogProof,
  readTileData,
  encodeEntryBundle,
  parseTilePath,
  encodeLeaf,
  hashLeaf,
  toBase64,
  toHex,
  utf8,
  cosignatureSigner,
  cosignatureVerifierKey,
  signReleaseStatus,
  formatProofBundle,
  type RetryEvent,
} from '../build.ts';
import { makeBundle, newKey, releaseStatement, releasePredicate } from './release-fixtures.ts';

const origin = 'log.keycast.test/client';
const logKey = generateNoteKey(origin);
const witness = generateNoteKey('witness.keycast.test/w1');
const signer = newKey();
/** The fixture release's PCR0 (releasePredicate's default). */
const PCR0_OF_RELEASE =
  releasePredicate().measurements === undefined ? '' : (releasePredicate().measurements as { pcr0: string }).pcr0;
const releaseLeaf = encodeLeaf(parseBundle(makeBundle(releaseStatement({}), signer)), parseTrustedKey(signer.pem));

const tree = new MemoryTree();
for (let i = 0; i < 700; i++) tree.append(i === 600 ? releaseLeaf : utf8(`entry ${i}`));
const RELEASE = 600;
const NOW = 1_800_000_000;
const noteAt = (size: number, signers = [noteSigner(logKey.skey), cosignatureSigner(witness.skey, () => NOW)]) =>
  signNote(formatCheckpoint({ origin, size, rootHash: tree.root(size), extensions: [] }), signers);

/** The log's signed status of the fixture release (or another index) at `size`. */
const statusAt = (size: number, o: { index?: number; key?: string; root?: Uint8Array; revokedBy?: number } = {}) =>
  signReleaseStatus(
    {
      origin,
      treeSize: size,
      rootHash: o.root ?? tree.root(size),
      index: o.index ?? RELEASE,
      pcr0: PCR0_OF_RELEASE,
      status: o.revokedBy === undefined ? { state: 'active' } : { state: 'revoked', revokedBy: o.revokedBy },
    },
    noteSigner(o.key ?? logKey.skey),
  );
const text = (body: string) => new Response(body, { headers: { 'content-type': 'text/plain; charset=utf-8' } });

const json = (status: number, body: unknown, type = 'application/json; charset=utf-8') =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': type } });
const octets = (b: Uint8Array) =>
  new Response(b as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/octet-stream' } });

/** A fake Keycast log; `hook` may answer a path first (the attacker's seat). */
function fakeLog(hook?: (path: string, init?: RequestInit) => Response | Promise<Response> | undefined) {
  const size = tree.size;
  const note = noteAt(size);
  const requests: string[] = [];
  const fetch = async (input: string | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    const path = url.pathname.replace(/^\/log\//, '') + url.search;
    requests.push(path);
    const hooked = await hook?.(path, init);
    if (hooked) return hooked;
    if (path === 'checkpoint') return new Response(note, { headers: { 'content-type': 'text/plain; charset=utf-8' } });
    if (path.startsWith('tile/')) {
      const { tile, entries } = parseTilePath(path);
      if (entries)
        return octets(
          encodeEntryBundle(Array.from({ length: tile.width }, (_, i) => tree.entry(tile.index * 256 + i))),
        );
      return octets(readTileData(tile, tree.hashReader()));
    }
    let m = /^entry\/(\d+)$/.exec(path);
    if (m) {
      const i = Number(m[1]);
      if (i >= size)
        return json(
          404,
          { error: 'LogError', code: 'NOT_FOUND', message: 'no entry at that index', evidence: { index: i } },
          'application/json',
        );
      return json(200, {
        index: i,
        leaf: toBase64(tree.entry(i)),
        kind: i === RELEASE ? 'release' : 'other',
        status: 'active',
      });
    }
    m = /^lookup\/pcr0\/([0-9a-f]+)$/.exec(path);
    if (m) {
      if (m[1] !== PCR0_OF_RELEASE)
        return json(404, { error: 'LogError', code: 'NOT_FOUND', message: 'no release' }, 'application/json');
      return json(200, {
        index: RELEASE,
        status: 'active',
        entry: toBase64(releaseLeaf),
        proof: formatTlogProof({
          index: RELEASE,
          proof: proveInclusion(RELEASE, size, tree.hashReader()),
          checkpoint: note,
        }),
      });
    }
    m = /^status\/(\d+)\?size=(\d+)$/.exec(path);
    if (m) return text(statusAt(Number(m[2]), { index: Number(m[1]) }));
    m = /^proof\/inclusion\?index=(\d+)&size=(\d+)$/.exec(path);
    if (m)
      return json(200, {
        index: Number(m[1]),
        treeSize: Number(m[2]),
        hashes: proveInclusion(Number(m[1]), Number(m[2]), tree.hashReader()).map(toBase64),
      });
    m = /^proof\/consistency\?old=(\d+)&new=(\d+)$/.exec(path);
    if (m)
      return json(200, {
        old: Number(m[1]),
        new: Number(m[2]),
        hashes: proveConsistency(Number(m[1]), Number(m[2]), tree.hashReader()).map(toBase64),
      });
    if (path === 'add-entry' && init?.method === 'POST')
      return json(200, {
        index: 7,
        leafHash: '00'.repeat(32),
        duplicate: true,
        transparencyLogEntry: { logIndex: '7' },
      });
    return json(404, { code: 'NOT_FOUND' });
  };
  return { fetch, requests, note };
}

function client(
  f: { fetch: (i: string | URL, init?: RequestInit) => Promise<Response> },
  over: Partial<ConstructorParameters<typeof LogClient>[0]> = {},
) {
  const retries: RetryEvent[] = [];
  const slept: number[] = [];
  const c = new LogClient({
    url: 'http://log.keycast.test/log',
    fetch: f.fetch,
    logKey: logKey.vkey,
    now: () => NOW,
    onRetry: (e) => retries.push(e),
    sleep: async (ms) => {
      slept.push(ms);
    },
    ...over,
  });
  return { c, retries, slept };
}

async function rejectsCode(p: Promise<unknown>, code: VerifierErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isVerifierError(e), `expected VerifierError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

test('an honest log: checkpoint, tiles, entry bundles, proofs, entries, lookups and add-entry all verify', async () => {
  const log = fakeLog();
  const { c } = client(log, {
    witnessPolicy: { witnesses: [cosignatureVerifierKey(witness.skey)], threshold: 1 },
    maxAgeSeconds: 600,
  });
  const cp = await c.checkpoint();
  assert.equal(cp.checkpoint.size, 700);
  assert.deepEqual(cp.cosigners, [{ name: 'witness.keycast.test/w1', timestamp: NOW }]);
  assert.deepEqual(await c.tile(0, 1, cp), readTileData({ level: 0, index: 1, width: 256 }, tree.hashReader()));
  assert.equal((await c.tile(0, 2, cp)).length, (700 - 512) * 32, 'the partial right-edge tile');
  assert.equal((await c.tile(1, 0, cp)).length, 2 * 32);
  const bundle = await c.entryBundle(2, cp);
  assert.equal(bundle.length, 700 - 512);
  assert.deepEqual(bundle[RELEASE - 512], releaseLeaf);
  assert.deepEqual(
    await c.inclusionProof(RELEASE, hashLeaf(releaseLeaf), cp),
    proveInclusion(RELEASE, 700, tree.hashReader()),
  );
  const older = c.openCheckpoint(noteAt(300));
  assert.ok((await c.consistencyProof(older, cp)).length > 0);
  const e = await c.entry(RELEASE, cp);
  assert.deepEqual(
    [e.index, e.kind, e.status, toHex(e.leaf) === toHex(releaseLeaf)],
    [RELEASE, 'release', 'active', true],
  );
  assert.deepEqual(await c.releaseStatus(3), { index: 3, status: 'active' });
  const logged = await c.loggedPcr0(Buffer.from(PCR0_OF_RELEASE, 'hex'));
  assert.deepEqual([logged.index, logged.checkpoint.size, logged.cosigners.length], [RELEASE, 700, 1]);
  assert.equal(await c.lookup('pcr0', 'cd'.repeat(48)), null);
  await rejectsCode(c.loggedPcr0(new Uint8Array(48).fill(0xcd)), 'RELEASE_NOT_LOGGED');
  const added = await c.addEntry('{"bundle":1}');
  assert.deepEqual([added.index, added.duplicate], [7, true]);
  // a tile check fetches only the tiles it needs, each once: 0/000 itself, 1/000.p/2 (hash of
  // leaves 256..511) and 0/002.p/188 (the right edge)
  const before = log.requests.length;
  await c.tile(0, 0, cp);
  assert.deepEqual(log.requests.slice(before).sort(), ['tile/0/000', 'tile/0/002.p/188', 'tile/1/000.p/2']);
});

test('wrong content types are refused', async () => {
  const asJson = fakeLog((p) => (p === 'checkpoint' ? json(200, 'hi') : undefined));
  await rejectsCode(client(asJson).c.checkpoint(), 'LOG_RESPONSE_INVALID');
  const tileAsHtml = fakeLog((p) =>
    p.startsWith('tile/0/000')
      ? new Response(new Uint8Array(8192), { headers: { 'content-type': 'text/html' } })
      : undefined,
  );
  const { c } = client(tileAsHtml);
  await rejectsCode(c.tile(0, 0, await c.checkpoint()), 'LOG_RESPONSE_INVALID');
  const entryAsText = fakeLog((p) =>
    p.startsWith('entry/') ? new Response('{}', { headers: { 'content-type': 'text/plain' } }) : undefined,
  );
  await rejectsCode(client(entryAsText).c.entry(1), 'LOG_RESPONSE_INVALID');
});

test('truncated tiles, tiles or bundles that do not match the checkpoint, and forged proofs are refused', async () => {
  const truncated = fakeLog((p) => (p === 'tile/0/001' ? octets(new Uint8Array(100)) : undefined));
  let { c } = client(truncated);
  await rejectsCode(c.tile(0, 1, await c.checkpoint()), 'TILE_MISMATCH');
  const flipped = fakeLog((p) => {
    if (p !== 'tile/0/000') return undefined;
    const d = readTileData({ level: 0, index: 0, width: 256 }, tree.hashReader()).slice();
    d[77]! ^= 1;
    return octets(d);
  });
  ({ c } = client(flipped));
  const cp = await c.checkpoint();
  await rejectsCode(c.tile(0, 0, cp), 'TILE_MISMATCH');
  await rejectsCode(c.entryBundle(0, cp), 'TILE_MISMATCH');
  const badBundle = fakeLog((p) =>
    p === 'tile/entries/001'
      ? octets(encodeEntryBundle(Array.from({ length: 256 }, (_, i) => utf8(`forged ${i}`))))
      : undefined,
  );
  ({ c } = client(badBundle));
  await rejectsCode(c.entryBundle(1, await c.checkpoint()), 'TILE_MISMATCH');
  const forgedProof = fakeLog((p) =>
    p.startsWith('proof/inclusion')
      ? json(200, { index: 5, treeSize: 700, hashes: proveInclusion(6, 700, tree.hashReader()).map(toBase64) })
      : undefined,
  );
  ({ c } = client(forgedProof));
  await rejectsCode(c.inclusionProof(5, hashLeaf(tree.entry(5)), await c.checkpoint()), 'ROOT_MISMATCH');
  await rejectsCode(c.entry(5, await c.checkpoint()), 'ROOT_MISMATCH');
  const otherSize = fakeLog((p) =>
    p.startsWith('proof/inclusion') ? json(200, { index: 5, treeSize: 699, hashes: [] }) : undefined,
  );
  ({ c } = client(otherSize));
  await rejectsCode(c.inclusionProof(5, hashLeaf(tree.entry(5)), await c.checkpoint()), 'LOG_RESPONSE_INVALID');
  const fork = fakeLog((p) =>
    p.startsWith('proof/consistency')
      ? json(200, { old: 300, new: 700, hashes: proveConsistency(301, 700, tree.hashReader()).map(toBase64) })
      : undefined,
  );
  ({ c } = client(fork));
  const now = await c.checkpoint();
  await assert.rejects(
    c.consistencyProof(c.openCheckpoint(noteAt(300)), now),
    (e: unknown) =>
      isVerifierError(e) &&
      ['INCONSISTENT', 'PROOF_SIZE', 'PROOF_INVALID'].includes(e.code) &&
      typeof e.evidence.older === 'string',
  );
});

test('bad signatures: another key, a tampered note, missing or stale witnesses', async () => {
  const impostor = generateNoteKey(origin);
  const other = fakeLog((p) =>
    p === 'checkpoint'
      ? new Response(
          signNote(formatCheckpoint({ origin, size: 700, rootHash: tree.root(), extensions: [] }), [
            noteSigner(impostor.skey),
          ]),
          { headers: { 'content-type': 'text/plain' } },
        )
      : undefined,
  );
  await assert.rejects(client(other).c.checkpoint(), (e: unknown) => isVerifierError(e) && e.code.startsWith('NOTE_'));
  const tampered = fakeLog((p) =>
    p === 'checkpoint'
      ? new Response(noteAt(700).replace('\n700\n', '\n701\n'), { headers: { 'content-type': 'text/plain' } })
      : undefined,
  );
  await assert.rejects(
    client(tampered).c.checkpoint(),
    (e: unknown) => isVerifierError(e) && e.code.startsWith('NOTE_'),
  );
  const plain = fakeLog((p) =>
    p === 'checkpoint'
      ? new Response(noteAt(700, [noteSigner(logKey.skey)]), { headers: { 'content-type': 'text/plain' } })
      : undefined,
  );
  const policy = { witnessPolicy: { witnesses: [cosignatureVerifierKey(witness.skey)], threshold: 1 } };
  await rejectsCode(client(plain, policy).c.checkpoint(), 'WITNESS_POLICY');
  await rejectsCode(
    client(fakeLog(), { ...policy, maxAgeSeconds: 60, now: () => NOW + 3600 }).c.checkpoint(),
    'CHECKPOINT_STALE',
  );
  // the lookup's tlog-proof is judged by the same key and witness policy
  const release = Buffer.from(PCR0_OF_RELEASE, 'hex');
  const unwitnessedLookup = fakeLog((p) =>
    p.startsWith('lookup/')
      ? json(200, {
          index: RELEASE,
          status: 'active',
          entry: toBase64(releaseLeaf),
          proof: formatTlogProof({
            index: RELEASE,
            proof: proveInclusion(RELEASE, 700, tree.hashReader()),
            checkpoint: noteAt(700, [noteSigner(logKey.skey)]),
          }),
        })
      : undefined,
  );
  await rejectsCode(client(unwitnessedLookup, policy).c.loggedPcr0(release), 'WITNESS_POLICY');
  await assert.rejects(
    client(fakeLog(), { logKey: impostor.vkey }).c.loggedPcr0(release),
    (e: unknown) => isVerifierError(e) && e.code.startsWith('NOTE_'),
  );
  const revoked = fakeLog((p) =>
    p.startsWith('lookup/')
      ? json(200, {
          index: RELEASE,
          status: 'revoked',
          revokedBy: 650,
          entry: toBase64(releaseLeaf),
          proof: formatTlogProof({
            index: RELEASE,
            proof: proveInclusion(RELEASE, 700, tree.hashReader()),
            checkpoint: noteAt(700),
          }),
        })
      : undefined,
  );
  await rejectsCode(client(revoked).c.loggedPcr0(release), 'RELEASE_REVOKED');
  assert.throws(
    () => new LogClient({ url: 'http://x/', fetch: fakeLog().fetch }).openCheckpoint(noteAt(700)),
    TypeError,
    'no pinned key, nothing verified',
  );
});

/** A body that never ends: chunks of 64 KiB forever, counting what was pulled. */
function endless(type: string): { res: () => Response; pulled: () => number } {
  let n = 0;
  return {
    pulled: () => n,
    res: () =>
      new Response(
        new ReadableStream({
          pull(ctl) {
            n += 65536;
            ctl.enqueue(new Uint8Array(65536).fill(0x61));
          },
        }),
        { headers: { 'content-type': type } },
      ),
  };
}

test('an endless or oversized body fails fast with LOG_RESPONSE_OVERSIZED, not gigabytes of memory', async () => {
  const s = endless('application/json');
  const log = fakeLog((p) => (p.startsWith('entry/') ? s.res() : undefined));
  const { c, retries } = client(log);
  const before = process.memoryUsage().rss;
  await rejectsCode(c.entry(1), 'LOG_RESPONSE_OVERSIZED');
  assert.ok(s.pulled() < 1 << 20, `pulled ${s.pulled()} bytes`);
  assert.ok(process.memoryUsage().rss - before < 64 << 20);
  assert.equal(retries.length, 0, 'not retried: the log answered, too much');
  const t = endless('text/plain');
  await rejectsCode(
    client(fakeLog((p) => (p === 'checkpoint' ? t.res() : undefined))).c.checkpoint(),
    'LOG_RESPONSE_OVERSIZED',
  );
  assert.ok(t.pulled() <= (1 << 20) + 65536 * 2);
  // a declared Content-Length past the cap is refused before the body is read
  let read = false;
  const declared = fakeLog((p) =>
    p === 'tile/0/000'
      ? new Response(
          new ReadableStream(
            {
              pull(ctl) {
                read = true;
                ctl.enqueue(new Uint8Array(1));
              },
            },
            { highWaterMark: 0 },
          ),
          { headers: { 'content-type': 'application/octet-stream', 'content-length': '999999' } },
        )
      : undefined,
  );
  const d = client(declared).c;
  await rejectsCode(d.tile(0, 0, await d.checkpoint()), 'LOG_RESPONSE_OVERSIZED');
  assert.equal(read, false);
});

test('a never-ending slow body, or no answer at all, times out; each timeout is a reported retry, then LOG_UNAVAILABLE', async () => {
  const stalled = fakeLog((p) =>
    p === 'checkpoint'
      ? new Response(
          new ReadableStream({
            start(ctl) {
              ctl.enqueue(utf8(origin));
            },
          }),
          { headers: { 'content-type': 'text/plain' } },
        )
      : undefined,
  );
  const { c, retries } = client(stalled, { timeoutMs: 50, retries: 2 });
  const t0 = Date.now();
  await rejectsCode(c.checkpoint(), 'LOG_UNAVAILABLE');
  assert.ok(Date.now() - t0 < 2000);
  assert.equal(retries.length, 2);
  assert.match(retries[0]!.reason, /did not complete within 50 ms/);
  const silent = fakeLog((p, init) =>
    p === 'checkpoint'
      ? new Promise<Response>((_ok, fail) =>
          init!.signal!.addEventListener('abort', () => fail(new DOMException('aborted', 'AbortError'))),
        )
      : undefined,
  );
  const s = client(silent, { timeoutMs: 30, retries: 1 });
  await assert.rejects(
    s.c.checkpoint(),
    (e: unknown) =>
      isVerifierError(e, 'LOG_UNAVAILABLE') &&
      e.evidence.attempts === 2 &&
      /no answer within 30 ms/.test(String(e.evidence.reason)),
  );
  assert.equal(s.retries.length, 1);
});

test('503 PUSHBACK with Retry-After, then success: the retry is reported and the wait honours Retry-After', async () => {
  let busy = 2;
  const log = fakeLog((p) =>
    p === 'checkpoint' && busy-- > 0
      ? json(503, { error: 'LogError', code: 'PUSHBACK', message: 'busy' }, 'application/json')
      : undefined,
  );
  const { c, retries, slept } = client({
    fetch: async (i, init) => {
      const r = await log.fetch(i, init);
      if (r.status === 503) r.headers.set('retry-after', '2');
      return r;
    },
  });
  const cp = await c.checkpoint();
  assert.equal(cp.checkpoint.size, 700);
  assert.deepEqual(
    retries.map((r) => [r.attempt, r.status, r.delayMs, r.reason]),
    [
      [1, 503, 2000, 'HTTP 503 PUSHBACK'],
      [2, 503, 2000, 'HTTP 503 PUSHBACK'],
    ],
  );
  assert.deepEqual(slept, [2000, 2000]);
});

test('permanent failures: 500s and network errors give up after N retries with backoff; 4xx is not retried', async () => {
  let calls = 0;
  const down = client(
    {
      fetch: async () => {
        calls++;
        return json(500, { code: 'INTERNAL', message: 'internal error' }, 'application/json');
      },
    },
    { retries: 3, backoffMs: 100 },
  );
  await assert.rejects(
    down.c.checkpoint(),
    (e: unknown) => isVerifierError(e, 'LOG_UNAVAILABLE') && e.evidence.status === 500 && e.evidence.attempts === 4,
  );
  assert.equal(calls, 4);
  assert.deepEqual(down.slept, [100, 200, 400]);
  const refused = client(
    {
      fetch: async () => {
        throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
      },
    },
    { retries: 2 },
  );
  await assert.rejects(
    refused.c.entry(0),
    (e: unknown) => isVerifierError(e, 'LOG_UNAVAILABLE') && /ECONNREFUSED/.test(e.message),
  );
  assert.equal(refused.retries.length, 2);
  const notFound = client(fakeLog());
  await assert.rejects(
    notFound.c.entry(9999),
    (e: unknown) =>
      isVerifierError(e, 'LOG_REFUSED') && e.evidence.status === 404 && e.evidence.logCode === 'NOT_FOUND',
  );
  assert.equal(notFound.retries.length, 0);
  const junk = client(
    fakeLog((p) =>
      p.startsWith('entry/') ? json(200, { index: 1, leaf: '%%', kind: 'x', status: 'active' }) : undefined,
    ),
  );
  await rejectsCode(junk.c.entry(1), 'LOG_RESPONSE_INVALID');
  const notJson = client(
    fakeLog((p) =>
      p.startsWith('entry/')
        ? new Response('{"index":', { headers: { 'content-type': 'application/json' } })
        : undefined,
    ),
  );
  await rejectsCode(notJson.c.entry(1), 'LOG_RESPONSE_INVALID');
  const badStatus = client(
    fakeLog((p) =>
      p.startsWith('entry/') ? json(200, { index: 1, leaf: 'AA==', kind: 'x', status: 'fine' }) : undefined,
    ),
  );
  await rejectsCode(badStatus.c.entry(1), 'LOG_RESPONSE_INVALID');
});

test("the gate bundle: lookup, the signed status at the proof's size, consistency from a held size — each checked", async () => {
  const release = Buffer.from(PCR0_OF_RELEASE, 'hex');
  const { c } = client(fakeLog());
  const cp = await c.checkpoint();
  const s = await c.statusNote(RELEASE, cp);
  assert.deepEqual([s.verified, s.note, s.status.treeSize, s.status.index], [true, statusAt(700), 700, RELEASE]);
  assert.equal((await c.signedStatus(RELEASE, cp)).note, statusAt(700), 'the exact note text');
  assert.deepEqual(await c.consistencyFrom(300, cp), proveConsistency(300, 700, tree.hashReader()));
  assert.deepEqual(await c.consistencyFrom(700, cp), []);
  await assert.rejects(c.consistencyFrom(701, cp), RangeError);
  await assert.rejects(c.consistencyFrom(0, cp), RangeError);
  const b = (await fetchProofBundle(c, release, 300))!;
  assert.deepEqual(b.entry, releaseLeaf);
  assert.equal(b.status, statusAt(700));
  assert.deepEqual(b.consistency, { fromSize: 300, hashes: proveConsistency(300, 700, tree.hashReader()) });
  assert.deepEqual(parseProofBundle(formatProofBundle(b)), b, 'the bundle is one the gate parses');
  assert.deepEqual((await fetchProofBundle(c, release, 700))!.consistency, { fromSize: 700, hashes: [] });
  assert.equal((await fetchProofBundle(c, release, null))!.consistency, undefined);
  assert.equal(await fetchProofBundle(c, new Uint8Array(48).fill(0xcd), null), null, 'not logged');
  // without a pinned key: the same bundle, the status parsed but not verified (the gate verifies it)
  const keyless = new LogClient({ url: 'http://log.keycast.test/log', fetch: fakeLog().fetch });
  assert.deepEqual(await fetchProofBundle(keyless, release, 300), b);
  await assert.rejects(keyless.signedStatus(RELEASE, cp), TypeError, 'signedStatus still needs the key');
  assert.equal((await keyless.statusNote(RELEASE, cp)).verified, false);
  // a revoked status is handed on, not refused: the gate must hear it
  const revoked = fakeLog((p) => (p.startsWith('status/') ? text(statusAt(700, { revokedBy: 650 })) : undefined));
  assert.equal((await fetchProofBundle(client(revoked).c, release, null))!.status, statusAt(700, { revokedBy: 650 }));
});

test("the gate bundle from the attacker's side: wrong key, a status for another size, root or release, forged proofs, oversized answers", async () => {
  const release = Buffer.from(PCR0_OF_RELEASE, 'hex');
  const cp = await client(fakeLog()).c.checkpoint();
  const impostor = generateNoteKey(origin);
  const forgedStatus = fakeLog((p) =>
    p.startsWith('status/') ? text(statusAt(700, { key: impostor.skey })) : undefined,
  );
  await assert.rejects(
    client(forgedStatus).c.statusNote(RELEASE, cp),
    (e: unknown) => isVerifierError(e) && e.code.startsWith('NOTE_'),
  );
  await assert.rejects(
    fetchProofBundle(client(forgedStatus).c, release, null),
    (e: unknown) => isVerifierError(e) && e.code.startsWith('NOTE_'),
  );
  // a lookup whose checkpoint is under another key
  const forgedLookup = fakeLog((p) =>
    p.startsWith('lookup/')
      ? json(200, {
          index: RELEASE,
          status: 'active',
          entry: toBase64(releaseLeaf),
          proof: formatTlogProof({
            index: RELEASE,
            proof: proveInclusion(RELEASE, 700, tree.hashReader()),
            checkpoint: signNote(formatCheckpoint({ origin, size: 700, rootHash: tree.root(), extensions: [] }), [
              noteSigner(impostor.skey),
            ]),
          }),
        })
      : undefined,
  );
  await assert.rejects(
    fetchProofBundle(client(forgedLookup).c, release, null),
    (e: unknown) => isVerifierError(e) && e.code.startsWith('NOTE_'),
  );
  // statuses that speak for another tree (an older size; the same size with another root) or another release
  for (const [hook, code] of [
    [(p: string) => (p.startsWith('status/') ? text(statusAt(650)) : undefined), 'STATUS_TREE_MISMATCH'],
    [
      (p: string) => (p.startsWith('status/') ? text(statusAt(700, { root: tree.root(699) })) : undefined),
      'STATUS_TREE_MISMATCH',
    ],
    [(p: string) => (p.startsWith('status/') ? text(statusAt(700, { index: 601 })) : undefined), 'STATUS_MISMATCH'],
  ] as const) {
    await rejectsCode(client(fakeLog(hook)).c.statusNote(RELEASE, cp), code);
    await rejectsCode(fetchProofBundle(client(fakeLog(hook)).c, release, null), code);
    const keyless = new LogClient({ url: 'http://log.keycast.test/log', fetch: fakeLog(hook).fetch });
    await rejectsCode(fetchProofBundle(keyless, release, null), code);
  }
  // consistency for other sizes, with short hashes, leading elsewhere
  const otherSizes = fakeLog((p) =>
    p.startsWith('proof/consistency')
      ? json(200, { old: 299, new: 700, hashes: proveConsistency(299, 700, tree.hashReader()).map(toBase64) })
      : undefined,
  );
  await rejectsCode(fetchProofBundle(client(otherSizes).c, release, 300), 'LOG_RESPONSE_INVALID');
  const short = fakeLog((p) =>
    p.startsWith('proof/consistency') ? json(200, { old: 300, new: 700, hashes: ['AAAA'] }) : undefined,
  );
  await rejectsCode(client(short).c.consistencyFrom(300, cp), 'PROOF_INVALID');
  const fork = fakeLog((p) =>
    p.startsWith('proof/consistency')
      ? json(200, { old: 300, new: 700, hashes: proveConsistency(300, 699, tree.hashReader()).map(toBase64) })
      : undefined,
  );
  await assert.rejects(
    client(fork).c.consistencyFrom(300, cp),
    (e: unknown) => isVerifierError(e) && ['INCONSISTENT', 'PROOF_SIZE'].includes(e.code),
  );
  const flipped = proveConsistency(300, 700, tree.hashReader());
  flipped[0] = flipped[0]!.slice();
  flipped[0]![0]! ^= 1;
  const tamperedProof = fakeLog((p) =>
    p.startsWith('proof/consistency') ? json(200, { old: 300, new: 700, hashes: flipped.map(toBase64) }) : undefined,
  );
  await rejectsCode(fetchProofBundle(client(tamperedProof).c, release, 300), 'INCONSISTENT');
  // a tampered leaf is not included; another release's leaf is not this PCR0's
  const tampered = releaseLeaf.slice();
  tampered[tampered.length - 5]! ^= 1;
  const badLeaf = fakeLog((p) =>
    p.startsWith('lookup/')
      ? json(200, {
          index: RELEASE,
          status: 'active',
          entry: toBase64(tampered),
          proof: formatTlogProof({
            index: RELEASE,
            proof: proveInclusion(RELEASE, 700, tree.hashReader()),
            checkpoint: noteAt(700),
          }),
        })
      : undefined,
  );
  await rejectsCode(fetchProofBundle(client(badLeaf).c, release, null), 'ROOT_MISMATCH');
  await rejectsCode(
    fetchProofBundle(
      client(
        fakeLog((p) =>
          p.startsWith('lookup/pcr0/cd')
            ? fakeLog().fetch(`http://log.keycast.test/log/lookup/pcr0/${PCR0_OF_RELEASE}`)
            : undefined,
        ),
      ).c,
      new Uint8Array(48).fill(0xcd),
      null,
    ),
    'PCR_MISMATCH',
  );
  // oversized: an endless status, a consistency proof past its cap, a status declaring a huge length
  const s = endless('text/plain');
  await rejectsCode(
    fetchProofBundle(client(fakeLog((p) => (p.startsWith('status/') ? s.res() : undefined))).c, release, null),
    'LOG_RESPONSE_OVERSIZED',
  );
  assert.ok(s.pulled() <= (1 << 20) + 65536 * 2, `pulled ${s.pulled()} bytes`);
  const j = endless('application/json');
  await rejectsCode(
    client(fakeLog((p) => (p.startsWith('proof/consistency') ? j.res() : undefined))).c.consistencyFrom(300, cp),
    'LOG_RESPONSE_OVERSIZED',
  );
  const huge = fakeLog((p) =>
    p.startsWith('status/')
      ? new Response('x', { headers: { 'content-type': 'text/plain', 'content-length': String(2 ** 40) } })
      : undefined,
  );
  await rejectsCode(client(huge).c.statusNote(RELEASE, cp), 'LOG_RESPONSE_OVERSIZED');
});
