/**
 * bench/log — the log server's figures, each beside a fastify hello-world measured in the same
 * run on the same machine (both servers in their own process, driven by the same closed-loop
 * keep-alive client):
 *   - acknowledged appends/s with N concurrent clients (durable: WAL + synchronous=FULL, one
 *     fsync'd transaction per batch; every reply carries a signed checkpoint and proof), p50/p99;
 *   - tile reads/s and inclusion-proof reads/s.
 * Usage: node --import tsx bench/log/run.ts [--clients 64] [--seconds 5] [--workers N (admission threads)]
 * Targets (issue #3, 2 cores): ≥ 3,000 appends/s; tile and proof reads ≥ 50% of hello-world.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { tilePath, tilesForSize } from '#verifier';
import { createLog } from '../../log-server/index.ts';
import { benchPublisher } from './bundles.ts';
import { runLoad } from './load.ts';
import type { LoadResult } from './load.ts';

const root = resolve(import.meta.dirname, '../..');
const { values } = parseArgs({ options: { clients: { type: 'string', default: '64' }, seconds: { type: 'string', default: '5' }, workers: { type: 'string' } } });
const clients = Number(values.clients);
const seconds = Number(values.seconds);

function start(args: string[]): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((ok, fail) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening (\S+)\n/.exec(out);
      if (m) ok({ url: m[1]!, stop: () => child.kill('SIGTERM') });
    });
    child.on('exit', (c) => fail(new Error(`server exited ${c}`)));
  });
}

const fmt = (r: LoadResult) => `${r.perSecond.toFixed(0).padStart(7)}/s  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms  (${r.ok}/${r.requests} ok)`;

const hello = await start(['--import', 'tsx', 'bench/log/hello.ts']);
const helloLoad = () => runLoad(hello.url, clients, seconds, () => ({ method: 'GET', path: '/' }));
await runLoad(hello.url, clients, 1, () => ({ method: 'GET', path: '/' }));

const dir = mkdtempSync(join(tmpdir(), 'keycast-bench-'));
createLog(join(dir, 'log'), 'bench.keycast.test/log');
const pub = benchPublisher();
writeFileSync(join(dir, 'pub.pem'), pub.publicPem);
const n = 4000 * seconds;
process.stderr.write(`signing ${n} release bundles…\n`);
const bundles = Array.from({ length: n }, (_, i) => pub.bundle(`b-${i}`));
const log = await start([resolve(root, 'bin/keycast.mjs'), 'log', 'serve', '--data', join(dir, 'log'), '--listen', '127.0.0.1:0', '--trust-signer', join(dir, 'pub.pem'), ...(values.workers ? ['--admission-workers', values.workers] : [])]);
const warm = 500;
await runLoad(log.url, clients, 30, (i) => (i < warm ? { method: 'POST', path: '/add-entry', body: bundles[i]! } : null));

// Each phase is measured right after its own hello-world baseline: the machine is shared, so a
// baseline taken minutes earlier would not describe the same conditions.
const base1 = await helloLoad();
const appends = await runLoad(log.url, clients, seconds, (i) => (i + warm < n ? { method: 'POST', path: '/add-entry', body: bundles[i + warm]! } : null));
const size = warm + appends.ok;
const tiles = tilesForSize(size).map((t) => `/${tilePath(t)}`);
const rand = (k: number) => Math.floor(Math.random() * k);
const base2 = await helloLoad();
const tileReads = await runLoad(log.url, clients, seconds, () => ({ method: 'GET', path: tiles[rand(tiles.length)]! }));
const base3 = await helloLoad();
const proofReads = await runLoad(log.url, clients, seconds, () => ({ method: 'GET', path: `/proof/inclusion?index=${rand(size)}&size=${size}` }));
log.stop();
hello.stop();
rmSync(dir, { recursive: true, force: true });

const pct = (a: LoadResult, b: LoadResult) => `${((100 * a.perSecond) / b.perSecond).toFixed(0)}% of hello-world`;
console.log(`bench/log  (${clients} clients, ${seconds} s per phase, tree size ${size}; 2 shared cores, figures are noisy)`);
console.log(`  fastify hello-world GET /      ${fmt(base1)}`);
console.log(`  acknowledged appends (durable) ${fmt(appends)}   target ≥ 3000/s (${pct(appends, base1)})`);
console.log(`  fastify hello-world GET /      ${fmt(base2)}`);
console.log(`  tile reads                     ${fmt(tileReads)}   ${pct(tileReads, base2)} (target ≥ 50%)`);
console.log(`  fastify hello-world GET /      ${fmt(base3)}`);
console.log(`  inclusion-proof reads          ${fmt(proofReads)}   ${pct(proofReads, base3)} (target ≥ 50%)`);
