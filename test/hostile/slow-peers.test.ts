/**
 * Attack: slow and huge peers. Before the shared server limits, the log and the witness waited
 * forever for a request trickled in a byte at a time (fastify's requestTimeout is 0) and had no
 * connection cap, so enough slow peers exhausted file descriptors. Against real servers on
 * loopback with small configured limits: slow headers, a slow body, a chunked body announcing
 * a gigabyte, a Content-Length of 10 GB, one connection pipelining without end, and a flood of
 * idle connections are each cut within their limit, while a normal client keeps being served.
 * Every fastify server in the source tree must apply the shared limits (a static check, so the
 * servers still to come — host, enclave, dev-kms — cannot forget them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  SIG_COSIGNATURE_V1,
  SERVER_LIMITS,
  cosignatureSigner,
  formatSignerKey,
  generateNoteKey,
  serverLimits,
  serverLimitsFromFlags,
  serverOptions,
} from '#verifier/build';
import type { ServerLimits } from '#verifier/build';
import { FileWitnessState, buildApp, buildWitnessApp, createLog, openLog } from '../../log-server/index.ts';

const HEADERS_MS = 800;
const REQUEST_MS = 1200;
const LIMITS = serverLimits({
  headersTimeoutMs: HEADERS_MS,
  requestTimeoutMs: REQUEST_MS,
  keepAliveTimeoutMs: 800,
  socketTimeoutMs: 4000,
  maxRequestsPerSocket: 3,
  maxConnections: 24,
});
/** A peer must be cut by its timeout plus one sweep, plus scheduling slack on a shared machine. */
const CUT_BY = (ms: number) => ms + LIMITS.checkIntervalMs + 1500;

interface Target {
  name: string;
  url: URL;
  postPath: string;
  close(): Promise<void>;
}

async function logTarget(limits: ServerLimits): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-hostile-log-'));
  createLog(dir, 'log.hostile.test/slow');
  const log = await openLog(dir, {
    policy: {
      admit: () => {
        throw new Error('not reached');
      },
    },
  });
  const app = await buildApp({ log, limits });
  const url = new URL(await app.listen({ host: '127.0.0.1', port: 0 }));
  return {
    name: 'log',
    url,
    postPath: '/add-entry',
    close: async () => {
      await app.close();
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function witnessTarget(limits: ServerLimits): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-hostile-witness-'));
  const state = new FileWitnessState(dir);
  const signer = cosignatureSigner(formatSignerKey('witness.hostile.test/w', SIG_COSIGNATURE_V1, randomBytes(32)));
  const logKey = generateNoteKey('log.hostile.test/slow');
  const app = await buildWitnessApp({
    state,
    signer,
    logs: [{ origin: 'log.hostile.test/slow', vkey: logKey.vkey }],
    limits,
  });
  const url = new URL(await app.listen({ host: '127.0.0.1', port: 0 }));
  return {
    name: 'witness',
    url,
    postPath: '/add-checkpoint',
    close: async () => {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A raw connection that records what the server sent and when it closed. */
function open(url: URL): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
  return new Promise((res, rej) => {
    const started = Date.now();
    let data = '';
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    const closed = new Promise<number>((c) => socket.on('close', () => c(Date.now() - started)));
    socket.on('data', (d) => {
      data += d.toString('latin1');
    });
    socket.on('error', () => {});
    socket.once('connect', () => res({ socket, received: () => data, closed }));
    socket.once('error', rej);
  });
}

/** Writes `chunk` every `everyMs` until the socket closes. */
function trickle(socket: Socket, chunk: string, everyMs = 100): void {
  const t = setInterval(() => {
    if (socket.destroyed || !socket.writable) return clearInterval(t);
    socket.write(chunk);
  }, everyMs);
  socket.on('close', () => clearInterval(t));
}

async function servedNormally(t: Target): Promise<void> {
  const r = await fetch(new URL('/', t.url), { signal: AbortSignal.timeout(3000) });
  assert.ok(r.status < 500, `${t.name} answers a normal client (${r.status})`);
  await r.arrayBuffer();
}

for (const make of [logTarget, witnessTarget]) {
  test(`${make.name}: slow headers, slow bodies and a gigabyte chunk are cut within the timeout while normal clients are served`, async (t) => {
    const target = await make(LIMITS);
    t.after(() => target.close());
    const host = `Host: ${target.url.host}\r\n`;

    const slowHeaders = await open(target.url);
    slowHeaders.socket.write(`GET / HTTP/1.1\r\n${host}`);
    trickle(slowHeaders.socket, 'X-Slow: a\r\n');

    const slowBody = await open(target.url);
    slowBody.socket.write(
      `POST ${target.postPath} HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: 50000\r\n\r\n`,
    );
    trickle(slowBody.socket, 'a');

    const gigaChunk = await open(target.url);
    gigaChunk.socket.write(
      `POST ${target.postPath} HTTP/1.1\r\n${host}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n40000000\r\n`,
    );
    trickle(gigaChunk.socket, 'b');

    // While they trickle, a normal client is served, repeatedly.
    for (let i = 0; i < 5; i++) await servedNormally(target);

    const [h, b, g] = await Promise.all([slowHeaders.closed, slowBody.closed, gigaChunk.closed]);
    assert.ok(h <= CUT_BY(HEADERS_MS), `slow headers cut after ${h} ms`);
    assert.ok(b <= CUT_BY(REQUEST_MS), `slow body cut after ${b} ms`);
    assert.ok(g <= CUT_BY(REQUEST_MS), `trickled gigabyte chunk cut after ${g} ms`);
    assert.ok(h >= HEADERS_MS - 50 && b >= REQUEST_MS - 50, 'and not before their timeouts');
    for (const c of [slowHeaders, slowBody])
      assert.match(c.received(), /^(HTTP\/1\.1 408 |)/, 'a 408 or a plain close, never a 2xx');
    await servedNormally(target);
  });

  test(`${make.name}: a body announced or streamed beyond the limit is refused with 413, not read`, async (t) => {
    const target = await make(LIMITS);
    t.after(() => target.close());
    const host = `Host: ${target.url.host}\r\n`;

    const announced = await open(target.url);
    announced.socket.write(
      `POST ${target.postPath} HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n{`,
    );
    const cutAnnounced = await Promise.race([
      announced.closed,
      new Promise<number>((r) => setTimeout(() => r(-1), CUT_BY(REQUEST_MS))),
    ]);
    assert.match(
      announced.received(),
      /^HTTP\/1\.1 413 /,
      `10 GB Content-Length: ${announced.received().slice(0, 80)}`,
    );
    announced.socket.destroy();
    assert.ok(cutAnnounced === -1 || cutAnnounced <= CUT_BY(REQUEST_MS));

    const streamed = await open(target.url);
    streamed.socket.write(
      `POST ${target.postPath} HTTP/1.1\r\n${host}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n40000000\r\n`,
    );
    const mib = Buffer.alloc(1 << 20, 0x61);
    for (let i = 0; i < 4 && !streamed.socket.destroyed; i++)
      await new Promise<void>((r) => streamed.socket.write(mib, () => r()));
    const ms = await streamed.closed;
    assert.match(streamed.received(), /^HTTP\/1\.1 413 /, 'a chunked body past the limit is 413');
    assert.ok(ms <= CUT_BY(REQUEST_MS), `closed after ${ms} ms`);
    await servedNormally(target);
  });

  test(`${make.name}: one connection carries at most maxRequestsPerSocket requests; idle connections are closed; connections beyond the cap are refused`, async (t) => {
    const target = await make(LIMITS);
    t.after(() => target.close());
    const host = `Host: ${target.url.host}\r\n`;

    const pipelined = await open(target.url);
    pipelined.socket.write(`GET / HTTP/1.1\r\n${host}\r\n`.repeat(6));
    await pipelined.closed;
    // node answers the first maxRequestsPerSocket, the last with Connection: close, and any
    // request already pipelined beyond them with 503, then closes.
    const answers = pipelined.received().match(/HTTP\/1\.1 \d{3} /g) ?? [];
    const served = answers.filter((a) => !a.includes(' 503 '));
    assert.equal(served.length, LIMITS.maxRequestsPerSocket, answers.join('|'));
    assert.ok(
      answers.slice(LIMITS.maxRequestsPerSocket).every((a) => a.includes(' 503 ')),
      answers.join('|'),
    );
    assert.match(pipelined.received(), /connection: close/i);

    // Fill every slot with idle connections: the next one is closed on accept.
    const idle = await Promise.all(Array.from({ length: LIMITS.maxConnections }, () => open(target.url)));
    await new Promise((r) => setTimeout(r, 100));
    const extra = await open(target.url);
    const extraClosed = await Promise.race([extra.closed, new Promise<number>((r) => setTimeout(() => r(-1), 1000))]);
    assert.notEqual(extraClosed, -1, 'a connection beyond the cap is closed at once');
    assert.equal(extra.received(), '');
    // Idle connections that never send a request are themselves cut by the headers timeout…
    const idleCut = await Promise.all(idle.map((c) => c.closed));
    assert.ok(
      Math.max(...idleCut) <= CUT_BY(HEADERS_MS) + 500,
      `idle connections closed after ${Math.max(...idleCut)} ms`,
    );
    // …after which the server takes connections again.
    await servedNormally(target);
  });
}

test('the shared limits: defaults, validation, flags, and fastify/node options', () => {
  assert.deepEqual(serverLimits(), { ...SERVER_LIMITS });
  for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 60])
    assert.throws(() => serverLimits({ requestTimeoutMs: bad }), TypeError);
  assert.throws(() => serverLimits({ headersTimeoutMs: 20_000, requestTimeoutMs: 10_000 }), /headersTimeoutMs/);
  assert.throws(() => serverLimits({ nope: 1 } as never), /unknown/);
  const l = serverLimitsFromFlags({ 'max-connections': '2048', 'request-timeout': '5000', 'headers-timeout': '2000' });
  assert.equal(l.maxConnections, 2048);
  assert.equal(l.requestTimeoutMs, 5000);
  assert.equal(l.checkIntervalMs, 500, 'the sweep follows a short headers timeout');
  for (const bad of ['0', '-5', '1e3', '', ' 5', '99999999999'])
    assert.throws(() => serverLimitsFromFlags({ 'max-connections': bad }), /--max-connections/);
  const o = serverOptions(l);
  assert.equal(o.requestTimeout, 5000);
  assert.equal(o.http.headersTimeout, 2000);
  assert.equal(o.maxRequestsPerSocket, SERVER_LIMITS.maxRequestsPerSocket);
  assert.ok(o.connectionTimeout > 0 && o.keepAliveTimeout > 0);
});

test('every fastify server in the source tree applies the shared limits', () => {
  const root = resolve(import.meta.dirname, '../..');
  const offenders: string[] = [];
  let servers = 0;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (name === 'node_modules' || name === 'test' || name.startsWith('.')) continue;
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) {
        const text = readFileSync(p, 'utf8');
        if (!/\bFastify\s*\(/.test(text)) continue;
        servers++;
        if (!/\.\.\.serverOptions\(/.test(text) || !/\blimitConnections\(/.test(text))
          offenders.push(p.slice(root.length + 1));
      }
    }
  };
  for (const folder of ['verifier', 'log-server', 'enclave', 'builder', 'cli']) walk(join(root, folder));
  assert.ok(servers >= 2, 'found the log and witness servers');
  assert.deepEqual(
    offenders,
    [],
    'these build a fastify server without serverOptions(...) and limitConnections(...) from #verifier/build',
  );
});
