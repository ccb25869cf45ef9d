/**
 * Witness round trips between a real log (loopback) and real witness servers (loopback): the
 * log serves checkpoints with the cosignatures it collected; a witness that is behind is
 * resynced through 409; a witness that is ahead (the log was rolled back) refuses and the log
 * carries on without its cosignature; a witness that is down costs nothing but a log line, and
 * one that streams an endless or huge answer costs a capped read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkWitnessPolicy, openCheckpoint, noteVerifier } from '#verifier';
import { cosignatureSigner, cosignatureVerifierKey, formatSignerKey, SIG_COSIGNATURE_V1 } from '#verifier/build';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createLog } from '../src/log.ts';
import type { Log } from '../src/log.ts';
import { consistencyProof } from '../src/proofs.ts';
import { buildWitnessApp } from '../src/witness/server.ts';
import { FileWitnessState } from '../src/witness/state.ts';
import { WitnessClient } from '../src/witness/client.ts';
import { ORIGIN, leafBundle, post, startTestLog } from './helpers.ts';
import type { TestLog } from './helpers.ts';

async function startWitness(name: string, logVkey: string, dir = mkdtempSync(join(tmpdir(), 'keycast-w-'))) {
  const skey = formatSignerKey(name, SIG_COSIGNATURE_V1, new Uint8Array(randomBytes(32)));
  const state = new FileWitnessState(dir);
  const app = await buildWitnessApp({
    state,
    signer: cosignatureSigner(skey),
    logs: [{ origin: ORIGIN, vkey: logVkey }],
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    state,
    vkey: cosignatureVerifierKey(skey),
    close: async () => {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A log in `dir` whose witness client proves consistency from the log's own hashes. */
async function logWith(
  dir: string,
  witnesses: Array<{ vkey: string; url: string }>,
  messages: string[],
): Promise<TestLog> {
  let log: Log | undefined;
  const client = new WitnessClient({
    witnesses,
    timeoutMs: 1000,
    log: (m) => messages.push(m),
    prove: (o, n) => consistencyProof(o, n, log!.hashes.read),
  });
  const t = await startTestLog({ dir, witnesses: client });
  log = t.log;
  return t;
}

async function checkpoint(url: string): Promise<string> {
  const r = await fetch(`${url}/checkpoint`);
  assert.equal(r.status, 200);
  return r.text();
}

async function add(t: TestLog, text: string): Promise<void> {
  const r = await post(t.url, leafBundle(text));
  assert.equal(r.status, 200, JSON.stringify(r.json));
}

test('the log serves checkpoints cosigned by its witnesses; a late witness is resynced via 409', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-log-'));
  const { vkey } = createLog(dir, ORIGIN);
  const w1 = await startWitness('w1.keycast.test', vkey);
  const w2 = await startWitness('w2.keycast.test', vkey);
  const messages: string[] = [];
  let t = await logWith(dir, [{ vkey: w1.vkey, url: w1.url }], messages);
  try {
    await add(t, 'one');
    await add(t, 'two');
    const cp = await checkpoint(t.url);
    assert.equal(openCheckpoint(cp, noteVerifier(vkey), ORIGIN).checkpoint.size, 2);
    assert.deepEqual(
      checkWitnessPolicy(cp, { witnesses: [w1.vkey], threshold: 1, now: Date.now() / 1000 }).cosigners.map(
        (c) => c.name,
      ),
      ['w1.keycast.test'],
    );
    assert.equal(w1.state.latest(ORIGIN)?.size, 2);
    await t.close();

    // Restart with a second witness that has never seen this log: its first answer is 409 "0".
    t = await logWith(
      dir,
      [
        { vkey: w1.vkey, url: w1.url },
        { vkey: w2.vkey, url: w2.url },
      ],
      messages,
    );
    await add(t, 'three');
    const cp3 = await checkpoint(t.url);
    checkWitnessPolicy(cp3, { witnesses: [w1.vkey, w2.vkey], threshold: 2, now: Date.now() / 1000 });
    assert.equal(w2.state.latest(ORIGIN)?.size, 3);
    await add(t, 'four');
    checkWitnessPolicy(await checkpoint(t.url), {
      witnesses: [w1.vkey, w2.vkey],
      threshold: 2,
      now: Date.now() / 1000,
    });
    assert.equal(w1.state.latest(ORIGIN)?.size, 4);
    assert.equal(w2.state.latest(ORIGIN)?.size, 4);
  } finally {
    await t.close();
    await w1.close();
    await w2.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a witness that is ahead (the log was rolled back) refuses; the log keeps serving without it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-log-'));
  const snapshot = mkdtempSync(join(tmpdir(), 'keycast-snap-'));
  const { vkey } = createLog(dir, ORIGIN);
  cpSync(dir, snapshot, { recursive: true });
  const w = await startWitness('w1.keycast.test', vkey);
  const messages: string[] = [];
  let t = await logWith(dir, [{ vkey: w.vkey, url: w.url }], messages);
  try {
    for (const s of ['a', 'b', 'c']) await add(t, s);
    assert.equal(w.state.latest(ORIGIN)?.size, 3);
    await t.close();
    rmSync(dir, { recursive: true, force: true });
    cpSync(snapshot, dir, { recursive: true }); // the operator restores an old backup: a fork
    t = await logWith(dir, [{ vkey: w.vkey, url: w.url }], messages);
    await add(t, 'x');
    const cp = await checkpoint(t.url);
    assert.equal(
      openCheckpoint(cp, noteVerifier(vkey), ORIGIN).checkpoint.size,
      1,
      'the entry is still acknowledged and served',
    );
    assert.throws(() => checkWitnessPolicy(cp, { witnesses: [w.vkey], threshold: 1, now: Date.now() / 1000 }), {
      code: 'WITNESS_POLICY',
    });
    assert.equal(w.state.latest(ORIGIN)?.size, 3, 'the witness did not roll back');
    assert.ok(
      messages.some((m) => /w1\.keycast\.test/.test(m) && /409/.test(m)),
      messages.join('\n'),
    );
  } finally {
    await t.close();
    await w.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(snapshot, { recursive: true, force: true });
  }
});

test('a witness that is down, hangs, or returns a forged cosignature contributes nothing and is not fatal', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-log-'));
  const sockets: Socket[] = [];
  const hanging = createServer((s) => sockets.push(s)); // accepts, never answers
  await new Promise<void>((ok) => hanging.listen(0, '127.0.0.1', ok));
  const hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
  const { vkey } = createLog(dir, ORIGIN);
  const good = await startWitness('good.keycast.test', vkey);
  const liar = await startWitness('liar.keycast.test', vkey);
  const impostorKey = cosignatureVerifierKey(
    formatSignerKey('liar.keycast.test', SIG_COSIGNATURE_V1, new Uint8Array(randomBytes(32))),
  );
  const messages: string[] = [];
  const witnesses = [
    { vkey: good.vkey, url: good.url },
    { vkey: impostorKey, url: liar.url }, // answers 200, but not with the key we pinned
    {
      vkey: cosignatureVerifierKey(formatSignerKey('down.keycast.test', SIG_COSIGNATURE_V1, new Uint8Array(32))),
      url: 'http://127.0.0.1:9',
    },
    {
      vkey: cosignatureVerifierKey(
        formatSignerKey('hang.keycast.test', SIG_COSIGNATURE_V1, new Uint8Array(32).fill(1)),
      ),
      url: hangingUrl,
    },
  ];
  const t = await logWith(dir, witnesses, messages);
  try {
    const t0 = Date.now();
    await add(t, 'only');
    assert.ok(Date.now() - t0 < 5000, 'the 1 s witness timeout bounds the wait');
    const cp = await checkpoint(t.url);
    const lines = cp.split('\n').filter((l) => l.startsWith('— '));
    assert.deepEqual(
      lines.map((l) => l.split(' ')[1]),
      [ORIGIN, 'good.keycast.test'],
    );
    assert.ok(
      messages.some((m) => /liar/.test(m) && /no valid cosignature/.test(m)),
      messages.join('\n'),
    );
    assert.ok(
      messages.some((m) => /down\.keycast\.test/.test(m)),
      messages.join('\n'),
    );
    assert.ok(
      messages.some((m) => /hang\.keycast\.test/.test(m) && /abort|timeout/i.test(m)),
      messages.join('\n'),
    );
  } finally {
    for (const s of sockets) s.destroy();
    hanging.close();
    await t.close();
    await good.close();
    await liar.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a hostile witness streaming an endless body or declaring a huge one costs a capped read; the log keeps serving without its cosignature', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-log-'));
  const chunk = new Uint8Array(16 * 1024).fill(0x41);
  let streamed = 0;
  let endlessClosed = false;
  const endless = createHttpServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.on('close', () => (endlessClosed = true));
    const pump = () => {
      while (!res.destroyed && res.write(chunk)) streamed += chunk.length;
      if (!res.destroyed) res.once('drain', pump);
    };
    pump();
  });
  const huge = createHttpServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(2 ** 40) });
    res.write('— huge.keycast.test AAAA\n'); // then nothing: the declared length alone is refused
  });
  const urlOf = async (s: ReturnType<typeof createHttpServer>) => {
    await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  };
  const { vkey } = createLog(dir, ORIGIN);
  const good = await startWitness('good.keycast.test', vkey);
  const messages: string[] = [];
  const witnesses = [
    { vkey: good.vkey, url: good.url },
    {
      vkey: cosignatureVerifierKey(
        formatSignerKey('endless.keycast.test', SIG_COSIGNATURE_V1, new Uint8Array(32).fill(2)),
      ),
      url: await urlOf(endless),
    },
    {
      vkey: cosignatureVerifierKey(
        formatSignerKey('huge.keycast.test', SIG_COSIGNATURE_V1, new Uint8Array(32).fill(3)),
      ),
      url: await urlOf(huge),
    },
  ];
  const t = await logWith(dir, witnesses, messages);
  try {
    const t0 = Date.now();
    await add(t, 'first');
    assert.ok(Date.now() - t0 < 5000, 'the hostile witnesses do not hold the log up');
    const cosigners = (cp: string) =>
      cp
        .split('\n')
        .filter((l) => l.startsWith('— '))
        .map((l) => l.split(' ')[1]);
    assert.deepEqual(cosigners(await checkpoint(t.url)), [ORIGIN, 'good.keycast.test']);
    for (const name of ['endless', 'huge']) {
      assert.ok(
        messages.some((m) => m.includes(`${name}.keycast.test`) && /larger than 65536 bytes/.test(m)),
        messages.join('\n'),
      );
    }
    await new Promise((ok) => setTimeout(ok, 100));
    assert.ok(endlessClosed, 'the log hung up on the endless body');
    assert.ok(streamed < 64 * 1024 * 1024, `the endless witness got to send ${streamed} bytes`);
    // The log keeps serving and sequencing; the next round is cosigned by the good witness again.
    await add(t, 'second');
    const cp2 = await checkpoint(t.url);
    assert.equal(openCheckpoint(cp2, noteVerifier(vkey), ORIGIN).checkpoint.size, 2);
    assert.deepEqual(cosigners(cp2), [ORIGIN, 'good.keycast.test']);
  } finally {
    endless.closeAllConnections();
    huge.closeAllConnections();
    endless.close();
    huge.close();
    await t.close();
    await good.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without appends the log refreshes its cosignatures: same tree, newer timestamps; a down witness keeps its older line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-log-'));
  const { vkey } = createLog(dir, ORIGIN);
  const ws = [
    await startWitness('r1.keycast.test', vkey),
    await startWitness('r2.keycast.test', vkey),
    await startWitness('r3.keycast.test', vkey),
  ];
  const vkeys = ws.map((w) => w.vkey);
  const messages: string[] = [];
  const t = await logWith(
    dir,
    ws.map((w) => ({ vkey: w.vkey, url: w.url })),
    messages,
  );
  const times = (cp: string) =>
    new Map(
      checkWitnessPolicy(cp, { witnesses: vkeys, threshold: 1, now: Date.now() / 1000 }).cosigners.map((c) => [
        c.name,
        c.timestamp,
      ]),
    );
  const body = (cp: string) => cp.slice(0, cp.indexOf('\n\n'));
  let refresher: { stop(): void } | null = null;
  try {
    await add(t, 'only');
    const first = await checkpoint(t.url);
    const t0 = times(first);
    assert.equal(t0.size, 3);
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(await t.log.sequencer.refreshCosignatures(), 3);
    const second = await checkpoint(t.url);
    assert.equal(body(second), body(first), 'the same checkpoint (size, root, log signature)');
    const t1 = times(second);
    for (const [name, ts] of t0) assert.ok(t1.get(name)! > ts, `${name} cosigned again with a newer timestamp`);
    assert.equal(second.split('\n— ').length - 1, 4, 'one log signature and one line per witness, no duplicates');
    for (const w of ws) assert.equal(w.state.latest(ORIGIN)?.size, 1, 'the witnesses did not move');

    // One witness down: the other two refresh, its older line stays (still valid for this tree).
    await ws[2]!.close();
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(await t.log.sequencer.refreshCosignatures(), 2);
    const third = await checkpoint(t.url);
    const t2 = times(third);
    assert.ok(t2.get('r1.keycast.test')! > t1.get('r1.keycast.test')!);
    assert.ok(t2.get('r2.keycast.test')! > t1.get('r2.keycast.test')!);
    assert.equal(t2.get('r3.keycast.test'), t1.get('r3.keycast.test'), 'the down witness keeps its last line');
    checkWitnessPolicy(third, { witnesses: vkeys, threshold: 3, now: Date.now() / 1000 });

    // The timer: with nothing appended, timestamps keep moving.
    const { startWitnessRefresh } = await import('../src/witness/refresh.ts');
    refresher = startWitnessRefresh(t.log.sequencer, 1);
    await new Promise((r) => setTimeout(r, 2500));
    const t3 = times(await checkpoint(t.url));
    assert.ok(t3.get('r1.keycast.test')! > t2.get('r1.keycast.test')!, 'the timer refreshed without an append');
    assert.throws(() => startWitnessRefresh(t.log.sequencer, 0), RangeError);

    // An append during refreshes still integrates and is cosigned by the witnesses that are up.
    await add(t, 'later');
    const fourth = await checkpoint(t.url);
    assert.equal(openCheckpoint(fourth, noteVerifier(vkey), ORIGIN).checkpoint.size, 2);
    checkWitnessPolicy(fourth, { witnesses: vkeys, threshold: 2, now: Date.now() / 1000 });
  } finally {
    refresher?.stop();
    await t.close();
    await ws[0]!.close();
    await ws[1]!.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
