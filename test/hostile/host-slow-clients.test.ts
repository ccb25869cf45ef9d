/**
 * Issue 16 (medium): slow clients starving good ones on the host's public API. One peer opens
 * connections and never finishes a request (slowloris) until the host's connection cap is full;
 * before the per-client cap every other client was closed on accept for as long as the peer kept
 * them. Against the real `keycast host run` process with a small server-wide cap: the flood from
 * 127.0.0.2 holds at most PER_CLIENT_CONNECTIONS (64) sockets, and a client from 127.0.0.1 is
 * still answered promptly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, start, type Proc } from '../enclave-e2e-helpers.ts';

test('one slow client cannot take every connection of the host', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keycast-hostile-slow-host-'));
  const sockets: Socket[] = [];
  const procs: Proc[] = [];
  t.after(() => {
    for (const s of sockets) s.destroy();
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const nowhere = await freePort();
  const host = await start([
    'host',
    'run',
    ...['--enclave', `127.0.0.1:${nowhere}`, '--log', `http://127.0.0.1:${nowhere}`],
    ...['--listen', '127.0.0.1:0', '--store', join(dir, 'store'), '--refresh', '3600'],
    ...['--max-connections', '100', '--headers-timeout', '60000', '--request-timeout', '60000'],
  ]);
  procs.push(host);
  const url = new URL(host.url);
  // the flood: 150 connections from 127.0.0.2, each sending half a request line and then nothing
  const opened = await Promise.all(
    Array.from(
      { length: 150 },
      () =>
        new Promise<boolean>((done) => {
          const s = connect({ host: url.hostname, port: Number(url.port), localAddress: '127.0.0.2' });
          sockets.push(s);
          s.on('connect', () => s.write('GET /v1/forward/'));
          s.on('error', () => done(false));
          s.on('close', () => done(false));
          setTimeout(() => done(!s.destroyed), 1500);
        }),
    ),
  );
  const held = opened.filter(Boolean).length;
  assert.ok(held <= 64, `the flooding client holds ${held} connections`);
  // a good client is answered while the flood stands (404: no such stored answer)
  const started = Date.now();
  const r = await fetch(`${host.url}/v1/forward/${'ab'.repeat(32)}`, { signal: AbortSignal.timeout(5000) });
  assert.equal(r.status, 404);
  assert.equal(((await r.json()) as { code: string }).code, 'NOT_FOUND');
  assert.ok(Date.now() - started < 3000, 'answered promptly');
});
