/**
 * bench/log — the log server's figures, each beside a fastify hello-world measured in the same
 * run on the same machine (both servers in their own process, driven by the same closed-loop
 * keep-alive client):
 *   - acknowledged appends/s with N concurrent clients (durable: WAL + synchronous=FULL, one
 *     fsync'd transaction per batch; every reply carries a signed checkpoint and proof), p50/p99;
 *   - tile reads/s and inclusion-proof reads/s.
 * Usage: node --import tsx bench/log/run.ts [--clients 64] [--seconds 5] [--rounds 5] [--workers N (admission threads)] [--quick]
 *        (--quick: 1.5 s and 3 rounds per figure unless given)
 * Each figure is the median of `rounds` rounds of seconds/rounds each, every round right after
 * its own hello-world baseline (the shared machine drifts); the range of rounds is printed.
 * Targets (2 cores, issue 21): ≥ 8,000 appends/s with p99 ≤ 25 ms; tile and proof reads ≥ 80% of hello-world.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { tilePath, tilesForSize } from '#verifier/build';
import { createLog, createPgLog } from '../../log-server/index.ts';
import { pgUnavailable, startPgCluster } from '../../test/index.ts';
import { benchPublisher } from './bundles.ts';
import { runLoad } from './load.ts';
import type { LoadResult } from './load.ts';
import { emitResult, type BenchFigure } from '../result.ts';

const root = resolve(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '64' },
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    workers: { type: 'string' },
    quick: { type: 'boolean' },
  },
});
const clients = Number(values.clients);
const seconds = Number(values.seconds ?? (values.quick ? 1.5 : 5));

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

const fmt = (r: LoadResult) =>
  `${r.perSecond.toFixed(0).padStart(7)}/s  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms  (${r.ok}/${r.requests} ok)`;

const hello = await start(['--import', 'tsx', 'bench/log/hello.ts']);
const helloLoad = (secs: number) => runLoad(hello.url, clients, secs, () => ({ method: 'GET', path: '/' }));
await runLoad(hello.url, clients, 1, () => ({ method: 'GET', path: '/' }));

const dir = mkdtempSync(join(tmpdir(), 'keycast-bench-'));
createLog(join(dir, 'log'), 'bench.keycast.test/log');
const pub = benchPublisher();
writeFileSync(join(dir, 'pub.pem'), pub.publicPem);
const n = 500 + 5000 * seconds;
process.stderr.write(`signing ${n} release bundles…\n`);
const bundles = Array.from({ length: n }, (_, i) => pub.bundle(`b-${i}`));
const log = await start([
  resolve(root, 'bin/keycast.mjs'),
  'log',
  'serve',
  '--data',
  join(dir, 'log'),
  '--listen',
  '127.0.0.1:0',
  '--trust-signer',
  join(dir, 'pub.pem'),
  ...(values.workers ? ['--admission-workers', values.workers] : []),
]);
const warm = 500;
await runLoad(log.url, clients, 30, (i) =>
  i < warm ? { method: 'POST', path: '/add-entry', body: bundles[i]! } : null,
);

// The machine is shared and drifts by tens of percent within a minute, so every figure is
// taken in short rounds, each right after its own hello-world baseline, and the median
// round is reported (with the range): both sides of a ratio see the same conditions.
const rounds = Number(values.rounds ?? (values.quick ? 3 : 5));
const slice = seconds / rounds;
const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
type Round = { base: LoadResult; run: LoadResult };
async function measure(
  next: (i: number) => { method: 'GET' | 'POST'; path: string; body?: Buffer } | null,
  urls: string[] = [log.url],
): Promise<Round[]> {
  const out: Round[] = [];
  for (let r = 0; r < rounds; r++) {
    const base = await helloLoad(slice);
    const run = combine(
      await Promise.all(urls.map((u) => runLoad(u, Math.max(1, Math.round(clients / urls.length)), slice, next))),
    );
    out.push({ base, run });
  }
  return out;
}

/** Several servers loaded at once: counts add up; the percentiles are the worst server's. */
function combine(rs: LoadResult[]): LoadResult {
  if (rs.length === 1) return rs[0]!;
  const statuses: Record<number, number> = {};
  for (const r of rs) for (const [k, v] of Object.entries(r.statuses)) statuses[+k] = (statuses[+k] ?? 0) + v;
  return {
    requests: rs.reduce((k, r) => k + r.requests, 0),
    ok: rs.reduce((k, r) => k + r.ok, 0),
    seconds: Math.max(...rs.map((r) => r.seconds)),
    perSecond: rs.reduce((k, r) => k + r.perSecond, 0),
    p50ms: Math.max(...rs.map((r) => r.p50ms)),
    p99ms: Math.max(...rs.map((r) => r.p99ms)),
    statuses,
  };
}
let appended = warm;
const appendRounds = await measure(() =>
  appended < n ? { method: 'POST', path: '/add-entry', body: bundles[appended++]! } : null,
);
const size = warm + appendRounds.reduce((k, x) => k + x.run.ok, 0); // every bundle is distinct: each 200 is one new entry
const tiles = tilesForSize(size).map((t) => `/${tilePath(t)}`);
const rand = (k: number) => Math.floor(Math.random() * k);
const tileRounds = await measure(() => ({ method: 'GET', path: tiles[rand(tiles.length)]! }));
const proofRounds = await measure(() => ({ method: 'GET', path: `/proof/inclusion?index=${rand(size)}&size=${size}` }));
log.stop();

// The same appends on PostgreSQL (a private cluster on this machine, fsync on): one server, then three on one database.
let pgRounds: { one: Round[]; three: Round[] } | null = null;
const pgSkip = pgUnavailable();
if (pgSkip) process.stderr.write(`PostgreSQL figures skipped: ${pgSkip}\n`);
else {
  const cluster = await startPgCluster();
  try {
    const url = await cluster.database('bench');
    const keyFile = join(dir, 'pg.key');
    await createPgLog(url, 'bench.keycast.test/pg', keyFile);
    const servePg = () =>
      start([
        resolve(root, 'bin/keycast.mjs'),
        'log',
        'serve',
        '--store',
        url,
        '--key',
        keyFile,
        '--listen',
        '127.0.0.1:0',
        '--trust-signer',
        join(dir, 'pub.pem'),
        ...(values.workers ? ['--admission-workers', values.workers] : []),
      ]);
    const first = await servePg();
    let k = 0;
    await runLoad(first.url, clients, 30, () =>
      k < warm ? { method: 'POST', path: '/add-entry', body: bundles[k++]! } : null,
    );
    const nextPg = () => (k < n ? { method: 'POST' as const, path: '/add-entry', body: bundles[k++]! } : null);
    const one = await measure(nextPg, [first.url]);
    const more = [await servePg(), await servePg()];
    const three = await measure(nextPg, [first.url, ...more.map((m) => m.url)]);
    for (const m of [first, ...more]) m.stop();
    pgRounds = { one, three };
  } finally {
    cluster.stop();
  }
}
hello.stop();
rmSync(dir, { recursive: true, force: true });

const rate = (r: Round[], f: (x: Round) => number) => {
  const xs = r.map(f);
  return { mid: median(xs), lo: Math.min(...xs), hi: Math.max(...xs) };
};
const figures: BenchFigure[] = [];
const line = (label: string, r: Round[], target: string, goal: BenchFigure['target']) => {
  const run = rate(r, (x) => x.run.perSecond);
  const base = rate(r, (x) => x.base.perSecond);
  const ratio = rate(r, (x) => x.run.perSecond / x.base.perSecond);
  const p50 = median(r.map((x) => x.run.p50ms));
  const p99 = median(r.map((x) => x.run.p99ms));
  const failed = r.reduce((k, x) => k + x.run.requests - x.run.ok, 0);
  figures.push({
    figure: label,
    value: Math.round(run.mid),
    unit: '/s',
    baseline: {
      what: 'fastify hello-world, same client, measured just before',
      value: Math.round(base.mid),
      unit: '/s',
    },
    ratio: +ratio.mid.toFixed(3),
    target: goal,
    note: `median of ${rounds} rounds (value ${run.lo.toFixed(0)}–${run.hi.toFixed(0)}/s); p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms; ${failed} failed; ${clients} clients`,
  });
  console.log(
    `  ${label.padEnd(31)} ${run.mid.toFixed(0).padStart(6)}/s (rounds ${run.lo.toFixed(0)}–${run.hi.toFixed(0)})  p50 ${p50.toFixed(2)} ms  p99 ${p99.toFixed(2)} ms  ${failed} failed`,
  );
  console.log(
    `  ${'  beside hello-world'.padEnd(31)} ${base.mid.toFixed(0).padStart(6)}/s (rounds ${base.lo.toFixed(0)}–${base.hi.toFixed(0)})  ratio ${(100 * ratio.mid).toFixed(0)}% (rounds ${(100 * ratio.lo).toFixed(0)}–${(100 * ratio.hi).toFixed(0)}%)   ${target}`,
  );
};
console.log(
  `bench/log  (${clients} clients; ${rounds} rounds of ${slice.toFixed(1)} s per figure, each after its own hello-world baseline; tree size ${size}; 2 shared cores)`,
);
line('acknowledged appends (durable)', appendRounds, 'target ≥ 8000/s', { on: 'value', op: '>=', bound: 8000 });
{
  const p99 = median(appendRounds.map((x) => x.run.p99ms));
  figures.push({
    figure: 'acknowledged append p99',
    value: +p99.toFixed(1),
    unit: 'ms',
    baseline: null,
    ratio: null,
    target: { on: 'value', op: '<=', bound: 25 },
    note: `median over ${rounds} rounds of each round's p99; ${clients} clients`,
  });
}
if (pgRounds) {
  line('PostgreSQL appends, 1 server', pgRounds.one, 'no target (reported)', null);
  line('PostgreSQL appends, 3 servers', pgRounds.three, 'no target (reported)', null);
}
line('tile reads', tileRounds, 'target ≥ 80% of hello-world', { on: 'ratio', op: '>=', bound: 0.8 });
line('inclusion-proof reads', proofRounds, 'target ≥ 80% of hello-world', { on: 'ratio', op: '>=', bound: 0.8 });

// The shared result line (bench/result.ts) for `npm run bench`.
emitResult({ bench: 'log', quick: Boolean(values.quick), figures });
