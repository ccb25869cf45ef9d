/**
 * `keycast host run` exits promptly (and with 0) on SIGTERM, as systemd expects of a unit it
 * stops, even when every peer holds it up: the KMS relay carries a connection that stays open
 * (the SDK's keep-alive sockets idle for 120 s), and its refresh round is stuck on a log that
 * accepts connections and never answers (10 s per attempt, retried).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { freePort } from './enclave-e2e-helpers.ts';
import { KEYCAST } from './enclave-stack.ts';

test('host run stops within seconds of SIGTERM with a held KMS relay connection and a log that never answers', {
  timeout: 60_000,
}, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'keycast-host-term-'));
  const held: Socket[] = [];
  const silent = createServer((s) => held.push(s)); // the "log" and the "KMS": accept, never answer
  await new Promise<void>((ok) => silent.listen(0, '127.0.0.1', ok));
  const silentPort = (silent.address() as AddressInfo).port;
  let logAsked = false;
  const enclave = createHttpServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/v1/status') {
      res.statusCode = 503;
      res.end(
        JSON.stringify({
          gate: { open: false, heldSize: null, refusal: { code: 'PROOF_MISSING', message: 'none' }, release: null },
          identity: { ready: false },
          pcr0: 'ab'.repeat(48),
        }),
      );
    } else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise<void>((ok) => enclave.listen(0, '127.0.0.1', ok));
  silent.on('connection', () => (logAsked = true));
  t.after(() => {
    for (const s of held) s.destroy();
    silent.close();
    enclave.close();
    rmSync(tmp, { recursive: true, force: true });
  });
  const relay = await freePort();
  // spawned here rather than through start(): "listening" comes only after the first refresh
  // round, and that round is the one stuck on the silent log
  const child = spawn(
    process.execPath,
    [
      KEYCAST,
      'host',
      'run',
      '--enclave',
      `http://127.0.0.1:${(enclave.address() as AddressInfo).port}`,
      '--log',
      `http://127.0.0.1:${silentPort}`,
      '--listen',
      '127.0.0.1:0',
      '--store',
      join(tmp, 'store'),
      '--refresh',
      '1',
      '--kms-listen',
      `127.0.0.1:${relay}`,
      '--kms-target',
      `127.0.0.1:${silentPort}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  const until = async (what: string, f: () => boolean) => {
    const end = Date.now() + 30_000;
    while (!f()) {
      if (Date.now() > end || child.exitCode !== null) assert.fail(`${what}: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await until('the KMS relay to listen', () => out.includes('KMS relay'));
  const client = connect(relay, '127.0.0.1');
  await new Promise<void>((ok, fail) => client.once('connect', ok).once('error', fail));
  client.on('error', () => undefined);
  await until('the host to ask the log', () => logAsked && held.length >= 2);
  const at = Date.now();
  child.kill('SIGTERM');
  const code = await exited;
  const took = (Date.now() - at) / 1000;
  assert.ok(took < 3, `host run took ${took} s to exit`);
  assert.equal(code, 0, out);
  client.destroy();
});
