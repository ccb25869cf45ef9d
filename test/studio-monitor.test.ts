/**
 * `keycast monitor` against real logs on loopback, and against a malicious or broken log (a
 * proxy in front of a real one): new releases, revocations and endorsements reported; a log that
 * signs "active" for a revoked release, a fork seen through another view, wrong content types,
 * truncated or mismatched tiles, oversized and slow answers — each a clear coded alarm or error,
 * no crash, and no state saved.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openReleaseStatus, noteVerifier } from '#verifier';
import {
  SIG_COSIGNATURE_V1,
  cosignatureSigner,
  formatAddCheckpoint,
  formatReleaseStatus,
  formatSignerKey,
  noteSigner,
  signNote,
} from '#verifier/build';
import { buildWitnessApp, createLog, FileWitnessState, KEY_FILE } from '../log-server/index.ts';
import { listenLog, newPublisher, releaseBundle, releaseFields, revocationBundle } from './log-fixtures.ts';
import { runKeycast } from '../cli/index.ts';

const BIN = resolve(import.meta.dirname, '../bin/keycast.mjs');
const ORIGIN = 'releases.keycast.test/monitor';

/** `keycast ARGS` in this process (cli/main.ts, as the binary runs it), its output captured. */
const keycast = runKeycast;

async function add(url: string, body: string): Promise<number> {
  const r = await fetch(`${url}/add-entry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  assert.equal(r.status, 200, await r.clone().text());
  return ((await r.json()) as { index: number }).index;
}

type Mode = 'honest' | 'lying-status' | 'content-type' | 'truncated-tile' | 'mismatched-tile' | 'oversized' | 'slow';

/** A proxy in front of a real log that misbehaves in one way. */
function proxy(
  upstream: string,
  mode: () => Mode,
  skey: string,
  vkey: string,
): Promise<{ url: string; server: Server }> {
  const server = createServer(async (req, res) => {
    const r = await fetch(upstream + req.url);
    let body = Buffer.from(await r.arrayBuffer());
    let type = r.headers.get('content-type') ?? 'application/octet-stream';
    const m = mode();
    const isTile = /^\/tile\/\d/.test(req.url ?? '');
    if (m === 'lying-status' && req.url?.startsWith('/status/') && r.status === 200) {
      const s = openReleaseStatus(body, noteVerifier(vkey));
      body = Buffer.from(signNote(formatReleaseStatus({ ...s, status: { state: 'active' } }), [noteSigner(skey)]));
    }
    if (m === 'content-type' && isTile) type = 'text/html';
    if (m === 'truncated-tile' && isTile) body = body.subarray(0, body.length - 7);
    if (m === 'mismatched-tile' && isTile) body[0] = body[0]! ^ 1;
    if (m === 'oversized' && isTile) body = Buffer.alloc(1 << 20, 1);
    if (m === 'slow' && isTile) {
      res.writeHead(200, { 'content-type': type });
      res.write(body.subarray(0, 1)); // then nothing, forever
      return;
    }
    res.writeHead(r.status, { 'content-type': type }).end(body);
  });
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () =>
      ok({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server }),
    ),
  );
}

test('monitor: events, a lying status statement, a fork through another view, and a broken log', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-monitor-'));
  const { vkey } = createLog(join(dir, 'a'), ORIGIN);
  cpSync(join(dir, 'a'), join(dir, 'b'), { recursive: true });
  const skey = readFileSync(join(dir, 'a', KEY_FILE), 'utf8').trim();
  const p = newPublisher();
  const a = await listenLog(t, join(dir, 'a'), [p.publicPem], join(dir, 'a'));
  const b = await listenLog(t, join(dir, 'b'), [p.publicPem], join(dir, 'b'));
  let mode: Mode = 'honest';
  const bad = await proxy(a.url, () => mode, skey, vkey);
  const hooks: unknown[] = [];
  const hook = createServer((req, res) => {
    let s = '';
    req
      .on('data', (d) => (s += d))
      .on('end', () => {
        hooks.push(JSON.parse(s));
        res.end();
      });
  });
  await new Promise<void>((ok) => hook.listen(0, '127.0.0.1', ok));
  t.after(() => {
    bad.server.closeAllConnections();
    bad.server.close();
    hook.close();
  });
  const hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}`;
  const state = join(dir, 'state');
  const run = (url: string, extra: string[] = [], stateDir = state) =>
    keycast(['monitor', '--log', url, '--log-key', vkey, '--state', stateDir, '--once', '--json', ...extra]);

  await add(a.url, releaseBundle(p, 'v1'));
  await add(a.url, releaseBundle(p, 'v2'));
  const first = await run(a.url);
  assert.equal(first.code, 0, first.stderr);
  const r1 = JSON.parse(first.stdout);
  assert.deepEqual(
    r1.events.map((e: { type: string; index: number }) => [e.type, e.index]),
    [
      ['release', 0],
      ['release', 1],
    ],
  );
  assert.equal(r1.events[0].repo, 'https://github.com/keycast/demo-enclave');
  assert.match(first.stderr, /read tiles for entries 2\/2/);

  await add(a.url, revocationBundle(p, 0, releaseFields('v1').pcr0));
  const afterRevoke = join(dir, 'state-before-lie');
  cpSync(state, afterRevoke, { recursive: true });
  const second = await run(a.url, ['--watch-source', 'https://github.com/keycast/demo-enclave']);
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual(JSON.parse(second.stdout).events, [
    { type: 'revocation', index: 2, revokes: 0, pcr0: releaseFields('v1').pcr0 },
  ]);
  const unwatched = await run(a.url, ['--watch-source', 'https://github.com/someone/else']);
  assert.deepEqual([unwatched.code, JSON.parse(unwatched.stdout).events], [0, []]);

  // the log (through the proxy, signing with its own key) says "active" for the revoked release
  mode = 'lying-status';
  const stateFile = () =>
    readFileSync(join(afterRevoke, 'monitor', readdirSync(join(afterRevoke, 'monitor'))[0]!), 'utf8');
  const before = stateFile();
  const lie = await run(bad.url, ['--webhook', hookUrl], afterRevoke);
  assert.equal(lie.code, 1, lie.stderr);
  const alarm = JSON.parse(lie.stdout).alarms[0];
  assert.deepEqual(
    [alarm.code, alarm.evidence.index, alarm.evidence.revokedBy, alarm.evidence.treeSize],
    ['STATUS_CONTRADICTED', 0, 2, 3],
  );
  assert.match(alarm.evidence.statement, /\n0\n[0-9a-f]{96}\nactive\n/);
  assert.equal(stateFile(), before, 'no state saved after an alarm');
  assert.equal((hooks[0] as { alarms: Array<{ code: string }> }).alarms[0]!.code, 'STATUS_CONTRADICTED');

  // a fork: b has the same key and origin but another history; seen as another view of a
  await add(b.url, releaseBundle(p, 'fork-1'));
  await add(b.url, releaseBundle(p, 'fork-2'));
  const fork = await run(a.url, ['--mirror-url', b.url]);
  assert.equal(fork.code, 1, fork.stderr);
  const f = JSON.parse(fork.stdout).alarms[0];
  assert.equal(f.code, 'LOG_INCONSISTENT');
  assert.equal(f.evidence.view, b.url);
  assert.match(f.evidence.older, new RegExp(`^${ORIGIN}\\n2\\n`));
  assert.match(f.evidence.newer, new RegExp(`^${ORIGIN}\\n3\\n`));
  // the same split view seen through a witness: it cosigned b's tree, monitor reads a and asks the
  // witness (GET /logs/<origin>/checkpoint) for what it cosigned; a witness of a's tree is clean
  const witness = async (name: string, note: string) => {
    const app = await buildWitnessApp({
      state: new FileWitnessState(join(dir, name)),
      signer: cosignatureSigner(formatSignerKey(`${name}.keycast.test/w`, SIG_COSIGNATURE_V1, randomBytes(32))),
      logs: [{ origin: ORIGIN, vkey }],
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => app.close());
    const r = await fetch(`${url}/add-checkpoint`, {
      method: 'POST',
      body: formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: note }),
    });
    assert.equal(r.status, 200, await r.text());
    return url;
  };
  const bNote = await (await fetch(`${b.url}/checkpoint`)).text();
  const aNote = await (await fetch(`${a.url}/checkpoint`)).text();
  const wb = await witness('wb', bNote);
  const wa = await witness('wa', aNote);
  const split = await run(a.url, ['--witness-url', wb]);
  assert.equal(split.code, 1, split.stderr);
  const sv = JSON.parse(split.stdout).alarms[0];
  assert.deepEqual([sv.code, sv.evidence.view], ['LOG_INCONSISTENT', wb]);
  assert.ok(sv.evidence.older.startsWith(bNote), "the witness's view: b's note as b signed it");
  assert.match(sv.evidence.older, /\n— wb\.keycast\.test\/w [A-Za-z0-9+/=]+\n$/, "with the witness's cosignature");
  assert.equal(sv.evidence.newer, aNote, "the log's view");
  const agreed = await run(a.url, ['--witness-url', wa, '--witness-url', `${wa}/`]);
  assert.deepEqual([agreed.code, JSON.parse(agreed.stdout).alarms], [0, []], agreed.stderr);
  const unknown = await run(a.url, ['--witness-url', a.url]);
  assert.equal(unknown.code, 3, 'a server with no such route is an unreachable view, not a clean one');

  // and b, monitored with a's history in memory, is a fork of what was seen (once it is larger),
  // or a rollback while it is smaller
  const behind = await run(b.url, [], state);
  assert.deepEqual([behind.code, JSON.parse(behind.stdout).alarms[0].code], [1, 'CHECKPOINT_STALE']);
  await add(b.url, releaseBundle(p, 'fork-3'));
  await add(b.url, releaseBundle(p, 'fork-4'));
  const forkDirect = await run(b.url, [], state);
  assert.deepEqual([forkDirect.code, JSON.parse(forkDirect.stdout).alarms[0].code], [1, 'LOG_INCONSISTENT']);

  // a broken or malicious log: coded errors, no crash, nothing saved
  const cases: Array<[Mode, number, string[]]> = [
    ['content-type', 3, ['LOG_RESPONSE_INVALID']],
    ['truncated-tile', 1, ['TILE_MISMATCH']],
    ['mismatched-tile', 1, ['TILE_MISMATCH', 'ROOT_MISMATCH', 'PROOF_INVALID']],
    ['oversized', 3, ['LOG_RESPONSE_OVERSIZED']],
    ['slow', 3, ['LOG_UNAVAILABLE']],
  ];
  for (const [m, exit, codes] of cases) {
    mode = m;
    const fresh = join(dir, `state-${m}`);
    const r = await run(bad.url, ['--timeout', '1'], fresh);
    assert.equal(r.code, exit, `${m}: ${r.stderr}${r.stdout}`);
    const body = JSON.parse(r.stdout);
    assert.ok(codes.includes(body.code), `${m}: ${body.code} ${body.message}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, `${m}: no stack trace`);
    assert.ok(!existsSync(join(fresh, 'monitor')), `${m}: no state saved`);
    if (m === 'slow') assert.match(r.stderr, /retry 1 of 3/, 'retries are said on stderr');
  }
});

test('monitor --follow: keeps reading and reports each new entry once', async (t) => {
  const { spawn } = await import('node:child_process');
  const dir = mkdtempSync(join(tmpdir(), 'keycast-follow-'));
  const { vkey } = createLog(join(dir, 'a'), ORIGIN);
  const p = newPublisher();
  const a = await listenLog(t, join(dir, 'a'), [p.publicPem], join(dir, 'a'));
  await add(a.url, releaseBundle(p, 'f1'));
  const child = spawn(
    process.execPath,
    [
      BIN,
      'monitor',
      '--log',
      a.url,
      '--log-key',
      vkey,
      '--state',
      join(dir, 'state'),
      '--follow',
      '--interval',
      '1',
      '--json',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => child.kill());
  const passes: Array<{ treeSize: number; events: Array<{ type: string; index: number }> }> = [];
  let buf = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (d) => {
    buf += d;
    for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) passes.push(JSON.parse(buf.slice(0, i)));
    for (const w of waiters) w();
  });
  const waitFor = (pred: () => boolean) =>
    new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`timed out; passes: ${JSON.stringify(passes)}`)), 45_000);
      const check = () => {
        if (!pred()) return;
        clearTimeout(timer);
        waiters.delete(check);
        ok();
      };
      waiters.add(check);
      check();
    });
  await waitFor(() => passes.length >= 1);
  assert.deepEqual(
    passes[0]!.events.map((e) => e.index),
    [0],
  );
  await add(a.url, releaseBundle(p, 'f2'));
  await waitFor(() => passes.some((x) => x.treeSize === 2));
  const events = passes.flatMap((x) => x.events.map((e) => e.index));
  assert.deepEqual(events, [0, 1], 'each entry reported once across passes');
});
