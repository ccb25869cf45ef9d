/**
 * The host's proof source, a thin adapter over #verifier's log client (fetchProofBundle), against
 * a fake log serving a GateWorld's tree: the bundle it hands on is exactly the one the gate tests
 * open with; retries are said on the host's log; a log that is down is LOG_UNREACHABLE and a log
 * that lies (another key, a status for another tree, an endless body) is LOG_ANSWER_INVALID —
 * nothing is forwarded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatTlogProof,
  generateNoteKey,
  noteSigner,
  proveConsistency,
  proveInclusion,
  signReleaseStatus,
  toBase64,
} from '#verifier/build';
import { LogProofSource } from '../host/proof-source.ts';
import { isEnclaveError } from '../common/errors.ts';
import { GateWorld, ORIGIN, measurements } from '#test-kit';

const world = new GateWorld();
const m = measurements('proof-source');
const RELEASE = world.publish(m);
for (let i = 0; i < 5; i++) world.publish(measurements(`later-${i}`));
const SIZE = world.tree.size;

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const text = (body: string) => new Response(body, { headers: { 'content-type': 'text/plain; charset=utf-8' } });

/** A fake Keycast log over the world's tree; `hook` answers first (the attacker's seat). */
function fakeLog(hook?: (path: string) => Response | undefined) {
  return async (input: string | URL): Promise<Response> => {
    const u = new URL(String(input));
    const path = u.pathname + u.search;
    const hooked = hook?.(path);
    if (hooked) return hooked;
    let r = /^\/lookup\/pcr0\/([0-9a-f]{96})$/.exec(path);
    if (r) {
      const i = world.pcr0s.indexOf(r[1]!);
      if (i < 0) return json(404, { code: 'NOT_FOUND' });
      return json(200, {
        index: i,
        status: 'active',
        entry: toBase64(world.tree.entry(i)),
        proof: formatTlogProof({
          index: i,
          proof: proveInclusion(i, SIZE, world.tree.hashReader()),
          checkpoint: world.checkpointNote(SIZE),
        }),
      });
    }
    r = /^\/status\/(\d+)\?size=(\d+)$/.exec(path);
    if (r) return text(world.statusNote(Number(r[1]), Number(r[2])));
    r = /^\/proof\/consistency\?old=(\d+)&new=(\d+)$/.exec(path);
    if (r)
      return json(200, {
        old: Number(r[1]),
        new: Number(r[2]),
        hashes: proveConsistency(Number(r[1]), Number(r[2]), world.tree.hashReader()).map(toBase64),
      });
    return json(404, { code: 'NOT_FOUND' });
  };
}

function source(fetch: ReturnType<typeof fakeLog>, logKey?: string) {
  const lines: string[] = [];
  const s = new LogProofSource({
    logUrl: 'http://log.keycast.test',
    fetch,
    ...(logKey ? { logKey } : {}),
    log: (l) => lines.push(l),
    sleep: async () => {},
  });
  return { s, lines };
}

async function refused(
  p: Promise<unknown>,
  code: 'LOG_UNREACHABLE' | 'LOG_ANSWER_INVALID',
  verifierCode: RegExp,
): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isEnclaveError(e, code), String(e));
    assert.match(String(e.evidence.verifierCode), verifierCode);
    return true;
  });
}

test('the host hands on exactly the bundle the gate opens with, with or without the log key', async () => {
  for (const key of [world.log.vkey, undefined]) {
    const { s } = source(fakeLog(), key);
    assert.deepEqual(await s.bundleFor(m.pcr0, null), world.bundle(RELEASE));
    assert.deepEqual(await s.bundleFor(m.pcr0, 3), world.bundle(RELEASE, { fromSize: 3 }));
    assert.deepEqual(await s.bundleFor(m.pcr0, SIZE), world.bundle(RELEASE, { fromSize: SIZE }));
    assert.equal(await s.bundleFor(measurements('never').pcr0, null), null);
  }
  await assert.rejects(source(fakeLog()).s.bundleFor('AB', null), TypeError);
});

test('transient failures are retried and said on the host log; a log that stays down is LOG_UNREACHABLE', async () => {
  let n = 0;
  const flaky = source(
    fakeLog((p) => (p.startsWith('/lookup/') && n++ === 0 ? json(503, { code: 'PUSHBACK' }) : undefined)),
    world.log.vkey,
  );
  assert.deepEqual(await flaky.s.bundleFor(m.pcr0, null), world.bundle(RELEASE));
  assert.equal(flaky.lines.length, 1);
  assert.match(flaky.lines[0]!, /^log: retry 1\/2 of \/lookup\/pcr0\/[0-9a-f]{96} in \d+ ms: HTTP 503 PUSHBACK$/);
  const down = source(async () => {
    throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
  });
  await refused(down.s.bundleFor(m.pcr0, null), 'LOG_UNREACHABLE', /^LOG_UNAVAILABLE$/);
  assert.equal(down.lines.length, 2);
});

test('a lying log is LOG_ANSWER_INVALID and nothing is handed on: another key, a status for another tree, an endless body', async () => {
  const impostor = generateNoteKey(ORIGIN);
  const forged = fakeLog((p) =>
    p.startsWith('/status/')
      ? text(
          signReleaseStatus(
            {
              origin: ORIGIN,
              treeSize: SIZE,
              rootHash: world.tree.root(SIZE),
              index: RELEASE,
              pcr0: m.pcr0,
              status: { state: 'active' },
            },
            noteSigner(impostor.skey),
          ),
        )
      : undefined,
  );
  await refused(source(forged, world.log.vkey).s.bundleFor(m.pcr0, null), 'LOG_ANSWER_INVALID', /^NOTE_/);
  const stale = fakeLog((p) => (p.startsWith('/status/') ? text(world.statusNote(RELEASE, SIZE - 1)) : undefined));
  for (const key of [world.log.vkey, undefined])
    await refused(source(stale, key).s.bundleFor(m.pcr0, null), 'LOG_ANSWER_INVALID', /^STATUS_TREE_MISMATCH$/);
  let pulled = 0;
  const endless = fakeLog((p) =>
    p.startsWith('/lookup/')
      ? new Response(
          new ReadableStream({
            pull(c) {
              pulled += 65536;
              c.enqueue(new Uint8Array(65536).fill(0x20));
            },
          }),
          { headers: { 'content-type': 'application/json' } },
        )
      : undefined,
  );
  await refused(source(endless).s.bundleFor(m.pcr0, null), 'LOG_ANSWER_INVALID', /^LOG_RESPONSE_OVERSIZED$/);
  assert.ok(pulled < 4 << 20, `pulled ${pulled} bytes`);
});
