/**
 * The tlog-witness server against the c2sp vectors (testdata/tlog/signed-notes.json):
 * the exact cosignature line, then the attacker's cases — unknown log, foreign signature,
 * rollback, stale old size (409 + size), inconsistent checkpoints (422 + evidence, state kept),
 * malformed and oversized bodies, racing submissions — and state that survives a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  MemoryTree,
  SIG_COSIGNATURE_V1,
  cosignatureSigner,
  formatAddCheckpoint,
  formatCheckpoint,
  formatSignerKey,
  fromHex,
  generateNoteKey,
  noteSigner,
  proveConsistency,
  signNote,
} from '#verifier/build';
import { buildWitnessApp } from '../src/witness/server.ts';
import { FileWitnessState, STATE_FILE } from '../src/witness/state.ts';

const V = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../testdata/tlog/signed-notes.json'), 'utf8'));
const TREE = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../testdata/tlog/rfc6962-8leaf.json'), 'utf8'));
const ORIGIN = V.testKeys.log.name as string;
const LOG_VKEY = V.testKeys.log.vkey as string;
const WITNESS_SKEY = formatSignerKey(V.testKeys.witness.name, SIG_COSIGNATURE_V1, fromHex(V.testKeys.witness.seedHex));
const [FIRST, SIX_TO_EIGHT] = V.tlogWitnessAddCheckpoint as Array<{
  requestBody: string;
  expectedCosignatureLineIfTimestampIs1700000000?: string;
}>;

function tree(): MemoryTree {
  const t = new MemoryTree();
  for (const hex of TREE.leafInputsHex as string[]) t.append(fromHex(hex));
  return t;
}

async function witness(dir = mkdtempSync(join(tmpdir(), 'keycast-witness-'))) {
  const state = new FileWitnessState(dir);
  const app = await buildWitnessApp({
    state,
    signer: cosignatureSigner(WITNESS_SKEY, () => 1700000000),
    logs: [{ origin: ORIGIN, vkey: LOG_VKEY }],
  });
  const post = async (body: string) => {
    const r = await app.inject({
      method: 'POST',
      url: '/add-checkpoint',
      headers: { 'content-type': 'text/plain' },
      payload: body,
    });
    return { status: r.statusCode, body: r.body, type: String(r.headers['content-type']) };
  };
  return {
    dir,
    state,
    app,
    post,
    close: async () => {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const cp = (size: number) => V.checkpoints[`size${size}`] as string;
const body = (old: number, proof: Uint8Array[], note: string) =>
  formatAddCheckpoint({ oldSize: old, proof, checkpoint: note });

test('vectors: old 0 is accepted, then 6→8 yields the expected cosignature line', async () => {
  const w = await witness();
  try {
    const first = await w.post(FIRST!.requestBody);
    assert.equal(first.status, 200, first.body);
    assert.match(first.body, /^— witness\.example\.com\/w1 [A-Za-z0-9+/=]+\n$/);
    const six = await w.post(body(4, proveConsistency(4, 6, tree().hashReader()), cp(6)));
    assert.equal(six.status, 200, six.body);
    const eight = await w.post(SIX_TO_EIGHT!.requestBody);
    assert.equal(eight.status, 200, eight.body);
    assert.equal(eight.body, SIX_TO_EIGHT!.expectedCosignatureLineIfTimestampIs1700000000 + '\n');
    assert.equal(w.state.latest(ORIGIN)?.size, 8);
    assert.equal(new FileWitnessState(w.dir).latest(ORIGIN)?.checkpoint, cp(8), 'state is on disk');
    assert.deepEqual(
      readdirSync(w.dir).filter((f) => f.includes('tmp')),
      [],
      'no temp files left',
    );
  } finally {
    await w.close();
  }
});

test('a client that is behind gets 409 with the witness size as text/x.tlog.size', async () => {
  const w = await witness();
  try {
    assert.equal((await w.post(body(0, [], cp(6)))).status, 200);
    const r = await w.post(FIRST!.requestBody); // old 0, size 4
    assert.equal(r.status, 409);
    assert.equal(r.body, '6\n');
    assert.match(r.type, /^text\/x\.tlog\.size/);
    const r2 = await w.post(body(4, proveConsistency(4, 8, tree().hashReader()), cp(8)));
    assert.equal(r2.status, 409);
    assert.equal(r2.body, '6\n');
    assert.equal(w.state.latest(ORIGIN)?.size, 6, 'state unchanged');
  } finally {
    await w.close();
  }
});

test('refusals: unknown log 404, foreign signature 403, old > size 400, malformed 400, oversized 413', async () => {
  const w = await witness();
  try {
    const other = noteSigner(generateNoteKey('example.com/other').skey);
    const foreign = signNote(
      formatCheckpoint({ origin: 'example.com/other', size: 1, rootHash: new Uint8Array(32), extensions: [] }),
      [other],
    );
    const nf = await w.post(body(0, [], foreign));
    assert.equal(nf.status, 404, nf.body);
    assert.equal(JSON.parse(nf.body).code, 'WITNESS_UNKNOWN_LOG');
    const forged = signNote(cp(8).split('\n\n')[0] + '\n', [noteSigner(V.testKeys.unrelated.skey)]);
    const f = await w.post(body(0, [], forged));
    assert.equal(f.status, 403, f.body);
    assert.equal(JSON.parse(f.body).code, 'WITNESS_UNTRUSTED');
    const bitflip = cp(8).replace(/pjU9kP/, 'pjU9kQ');
    assert.equal((await w.post(body(0, [], bitflip))).status, 403);
    assert.equal((await w.post(body(9, [], cp(8)))).status, 400);
    assert.equal((await w.post('old 0\n' + cp(8))).status, 400);
    assert.equal((await w.post('old x\n\n' + cp(8))).status, 400);
    assert.equal((await w.post('')).status, 400);
    assert.equal((await w.post('old 0\n\n' + 'a'.repeat(70_000))).status, 413);
    assert.equal(w.state.latest(ORIGIN), null, 'nothing stored');
  } finally {
    await w.close();
  }
});

test('inconsistent checkpoints are refused with 422, kept as evidence, and do not move the state', async () => {
  const w = await witness();
  try {
    assert.equal((await w.post(body(0, [], cp(6)))).status, 200);
    const logSigner = noteSigner(V.testKeys.log.skey);
    const fork8 = signNote(
      formatCheckpoint({ origin: ORIGIN, size: 8, rootHash: new Uint8Array(32).fill(7), extensions: [] }),
      [logSigner],
    );
    const r = await w.post(body(6, proveConsistency(6, 8, tree().hashReader()), fork8));
    assert.equal(r.status, 422, r.body);
    assert.equal(JSON.parse(r.body).code, 'WITNESS_INCONSISTENT');
    const fork6 = signNote(
      formatCheckpoint({ origin: ORIGIN, size: 6, rootHash: new Uint8Array(32).fill(9), extensions: [] }),
      [logSigner],
    );
    assert.equal((await w.post(body(6, [], fork6))).status, 422, 'same size, other root');
    const tampered = proveConsistency(6, 8, tree().hashReader()).map((h, i) => (i === 0 ? h.map((b) => b ^ 1) : h));
    assert.equal((await w.post(body(6, tampered, cp(8)))).status, 422, 'tampered proof');
    const evidence = readdirSync(join(w.dir, 'evidence'));
    assert.equal(evidence.length, 3);
    const e = JSON.parse(readFileSync(join(w.dir, 'evidence', evidence.sort()[0]!), 'utf8'));
    assert.equal(e.older, cp(6));
    assert.ok([fork8, fork6, body(6, tampered, cp(8)).split('\n\n').slice(1).join('\n\n')].includes(e.newer));
    assert.equal(w.state.latest(ORIGIN)?.size, 6);
    assert.equal((await w.post(SIX_TO_EIGHT!.requestBody)).status, 200, 'the honest checkpoint is still accepted');
  } finally {
    await w.close();
  }
});

test('a proof sent with old 0 is refused (422); the same checkpoint again is cosigned without a state change', async () => {
  const w = await witness();
  try {
    assert.equal((await w.post(body(0, [new Uint8Array(32)], cp(4)))).status, 422);
    assert.equal((await w.post(FIRST!.requestBody)).status, 200);
    const again = await w.post(body(4, [], cp(4)));
    assert.equal(again.status, 200, again.body);
    assert.equal(w.state.latest(ORIGIN)?.size, 4);
  } finally {
    await w.close();
  }
});

test('racing submissions from the same old size: exactly one wins, the other gets 409', async () => {
  const w = await witness();
  try {
    const rs = await Promise.all([w.post(body(0, [], cp(6))), w.post(body(0, [], cp(8)))]);
    assert.deepEqual(rs.map((r) => r.status).sort(), [200, 409]);
    const winner = rs[0]!.status === 200 ? 6 : 8;
    assert.equal(new FileWitnessState(w.dir).latest(ORIGIN)?.size, winner);
  } finally {
    await w.close();
  }
});

test('a corrupt state file is refused, never silently reset', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-witness-'));
  try {
    new FileWitnessState(dir);
    const p = join(dir, STATE_FILE);
    writeFileSync(p, '{"version":1,"logs":{"x":{"size":-1,"checkpoint":""}}}');
    assert.throws(() => new FileWitnessState(dir), { name: 'LogError', code: 'WITNESS_STATE' });
    writeFileSync(p, 'not json');
    assert.throws(() => new FileWitnessState(dir), { code: 'WITNESS_STATE' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('GET /logs/<origin>/checkpoint serves the latest cosigned checkpoint with the cosignature; old state still reads', async () => {
  const w = await witness();
  const get = async (origin: string) => {
    const r = await w.app.inject({ method: 'GET', url: `/logs/${encodeURIComponent(origin)}/checkpoint` });
    return { status: r.statusCode, body: r.body, type: String(r.headers['content-type']) };
  };
  try {
    assert.deepEqual(
      [(await get(ORIGIN)).status, JSON.parse((await get(ORIGIN)).body).code],
      [404, 'NOT_FOUND'],
      'nothing cosigned yet',
    );
    assert.equal(JSON.parse((await get('other.example/log')).body).code, 'WITNESS_UNKNOWN_LOG');
    assert.equal((await w.post(FIRST!.requestBody)).status, 200);
    assert.equal((await w.post(body(4, proveConsistency(4, 6, tree().hashReader()), cp(6)))).status, 200);
    assert.equal((await w.post(SIX_TO_EIGHT!.requestBody)).status, 200);
    const latest = w.state.latest(ORIGIN)!;
    assert.equal(latest.size, 8);
    const got = await get(ORIGIN);
    assert.equal(got.status, 200, got.body);
    assert.match(got.type, /^text\/plain/);
    assert.ok(latest.cosignature, 'the cosignature is kept in the state');
    assert.equal(got.body, latest.checkpoint + latest.cosignature);
    assert.ok(got.body.startsWith(cp(latest.size)), 'the log-signed note, verbatim');
    assert.match(got.body, /\n— witness\.example\.com\/w1 [A-Za-z0-9+/=]+\n$/);
    assert.equal(new FileWitnessState(w.dir).latest(ORIGIN)?.cosignature, latest.cosignature, 'kept on disk');

    // a state file written before cosignatures were kept: the checkpoint is cosigned afresh
    const old = { version: 1, logs: { [ORIGIN]: { size: latest.size, checkpoint: latest.checkpoint } } };
    writeFileSync(join(w.dir, STATE_FILE), JSON.stringify(old));
    const w2 = await witness(w.dir);
    const r = await w2.app.inject({ method: 'GET', url: `/logs/${encodeURIComponent(ORIGIN)}/checkpoint` });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.body, got.body, 'same checkpoint, same (fixed-clock) cosignature');
    await w2.app.close();
  } finally {
    await w.close();
  }
});

test('an unchanged checkpoint is cosigned again with a new timestamp, without touching the state (freshness without appends)', async () => {
  let now = 1700000000;
  const dir = mkdtempSync(join(tmpdir(), 'keycast-witness-'));
  const state = new FileWitnessState(dir);
  const app = await buildWitnessApp({
    state,
    signer: cosignatureSigner(WITNESS_SKEY, () => now),
    logs: [{ origin: ORIGIN, vkey: LOG_VKEY }],
  });
  const post = (payload: string) =>
    app.inject({ method: 'POST', url: '/add-checkpoint', headers: { 'content-type': 'text/plain' }, payload });
  const timestamp = (line: string) => Number(Buffer.from(line.trim().split(' ').pop()!, 'base64').readBigUInt64BE(4));
  try {
    const first = await post(FIRST!.requestBody);
    assert.equal(first.statusCode, 200);
    assert.equal(timestamp(first.body), 1700000000);
    const stored = readFileSync(join(dir, STATE_FILE), 'utf8');
    const note = FIRST!.requestBody.slice(FIRST!.requestBody.indexOf('\n\n') + 2);
    now += 60;
    const again = await post(formatAddCheckpoint({ oldSize: 4, proof: [], checkpoint: note }));
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(timestamp(again.body), 1700000060, 'the same tree head, cosigned as of now');
    assert.equal(readFileSync(join(dir, STATE_FILE), 'utf8'), stored, 'no state written for the same tree head');
    // a refresh from a client that lost track of the witness's size is told it (409), not cosigned
    const lost = await post(formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: note }));
    assert.equal(lost.statusCode, 409);
    assert.equal(lost.body, '4\n');
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
