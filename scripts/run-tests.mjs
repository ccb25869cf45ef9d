#!/usr/bin/env node
// Runs the project's *.test.ts files with node's test runner (TypeScript through tsx).
//
//   node scripts/run-tests.mjs [--unit] [--concurrency N] [folder-or-file ...]   (default: all folders)
//
// `npm test` runs every file; `npm run test:unit` (--unit) only the unit tests: the in-process files
// of the folders' own test/ directories (test/ at the root holds the cross-folder and end-to-end
// tests). A test file is in-process when neither it nor a test helper it imports (relative imports
// of test-side files, followed transitively) uses node:child_process or drives a browser, and it
// registers no root-level before/after hooks. In-process files run together in shard processes
// (scripts/test-shard.mjs: the TypeScript loader and the shared modules load once per shard, not
// once per file); every other file runs in a process of its own. Jobs run N at a time (default 2,
// the CI machine's cores), the longest first, so a long end-to-end file never starts last.
// Each job's output is printed whole when it ends, then a summary with the slowest jobs.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { spawn } from 'node:child_process';

const root = resolve(import.meta.dirname, '..');
const defaults = ['verifier', 'log-server', 'enclave', 'builder', 'test', 'cli'];
// Packages with their own install and `npm test` (test/cdk.test.ts runs the CDK app's, or says why not).
const OWN_PACKAGES = new Set(['enclave/deploy/cdk'].map((p) => join(root, p)));
// The files that take longest alone (by the CPU and wall time each took when run by itself), started
// first. A file missing here is started after them, by name.
const LONGEST = [
  'test/readme-commands.test.ts',
  'test/enclave-soak.test.ts',
  'test/forward-e2e.test.ts',
  'test/cdk.test.ts',
  'test/enclave-e2e.test.ts',
  'test/hostile/identity-forgery.test.ts',
  'test/hostile/forward-host.test.ts',
  'test/log-crash.test.ts',
  'test/hostile/gate-reopen.test.ts',
  'test/log-postgres-failover.test.ts',
  'test/enclave-rootfs-boot.test.ts',
  'test/reproducible.test.ts',
  'test/log-postgres.test.ts',
  'test/log-postgres-s3.test.ts',
  'test/verifier-package.test.ts',
  'test/studio-monitor.test.ts',
  'test/enclave-netns.test.ts',
  'test/host-sigterm.test.ts',
  'log-server/test/explorer.test.ts',
].map((p) => join(root, p));
const SHARDS = 2;
// In-process files that still get a process of their own: they assert wall-clock bounds of their own
// waits (a 1 s witness timeout), which other files' work in the same process would stretch.
const ALONE = new Set(['log-server/test/witness-log.test.ts'].map((p) => join(root, p)));

const argv = process.argv.slice(2);
let unitOnly = false;
let concurrency = Number(process.env.KEYCAST_TEST_CONCURRENCY ?? 2);
const targets = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--unit') unitOnly = true;
  else if (argv[i] === '--concurrency') concurrency = Number(argv[++i]);
  else targets.push(argv[i]);
}
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error('run-tests: --concurrency takes a positive integer');
  process.exit(2);
}

function collect(path, out) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return;
  }
  if (st.isFile()) {
    if (path.endsWith('.test.ts')) out.push(path);
    return;
  }
  if (OWN_PACKAGES.has(path)) return;
  for (const name of readdirSync(path).sort()) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    collect(join(path, name), out);
  }
}

const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"`]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/gm;
const SPAWNS = /node:child_process|from 'child_process'|playwright/;
const ROOT_HOOK = /^(before|after|beforeEach|afterEach)\(/m;
/** Test-side files: *.test.ts and the helpers beside them (a test/ folder, or a helper under test/). */
const testSide = (file) => relative(root, file).split(sep).includes('test');
const spawnsMemo = new Map();

/** Whether `file` or a test-side file it imports (transitively) starts processes or a browser. */
function spawnsProcesses(file) {
  if (spawnsMemo.has(file)) return spawnsMemo.get(file);
  spawnsMemo.set(file, false); // an import cycle adds nothing
  const src = readFileSync(file, 'utf8');
  let found = SPAWNS.test(src);
  for (const m of src.matchAll(IMPORT)) {
    if (found) break;
    const dep = resolve(dirname(file), m[1] ?? m[2]);
    if (testSide(dep) && /\.(ts|mts|mjs)$/.test(dep)) found = spawnsProcesses(dep);
  }
  spawnsMemo.set(file, found);
  return found;
}

const inProcess = (file) => !spawnsProcesses(file) && !ROOT_HOOK.test(readFileSync(file, 'utf8'));
const shareable = (file) => inProcess(file) && !ALONE.has(file);

const files = [];
for (const t of targets.length > 0 ? targets : defaults) collect(resolve(t), files);
const crossFolder = (f) => relative(root, f).split(sep)[0] === 'test';
const wanted = files.filter((f) => !(unitOnly && (crossFolder(f) || !inProcess(f))));
const unit = wanted.filter(shareable);
const own = wanted.filter((f) => !shareable(f));
if (unit.length + own.length === 0) {
  console.error(
    `run-tests: no ${unitOnly ? 'in-process ' : ''}test files found under`,
    targets.join(', ') || defaults.join(', '),
  );
  process.exit(1);
}

// Shards balanced by source size (a fair proxy for how much a file tests), largest first.
const shards = Array.from({ length: Math.min(SHARDS, unit.length) }, () => ({ files: [], bytes: 0 }));
for (const f of [...unit].sort((a, b) => statSync(b).size - statSync(a).size)) {
  const s = shards.reduce((a, b) => (b.bytes < a.bytes ? b : a));
  s.files.push(f);
  s.bytes += statSync(f).size;
}
for (const s of shards) s.files.sort();

const rank = (f) => {
  const i = LONGEST.indexOf(f);
  return i === -1 ? LONGEST.length + 1 : i;
};
const reporter = process.stdout.isTTY ? 'spec' : 'tap';
const jobs = [
  ...own
    .filter((f) => rank(f) <= LONGEST.length)
    .sort((a, b) => rank(a) - rank(b))
    .map((f) => ({ name: relative(root, f), args: [f] })),
  ...shards.map((s, i) => ({
    name: `in-process shard ${i + 1}/${shards.length} (${s.files.length} files)`,
    args: [join(root, 'scripts/test-shard.mjs'), ...s.files],
  })),
  ...own.filter((f) => rank(f) > LONGEST.length).map((f) => ({ name: relative(root, f), args: [f] })),
];

function runJob(job) {
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `--test-reporter=${reporter}`, ...job.args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => out.push(d));
    child.on('close', (code, signal) => {
      const seconds = (Date.now() - started) / 1000;
      process.stdout.write(`\n# ${job.name} (${seconds.toFixed(1)} s)\n`);
      process.stdout.write(Buffer.concat(out));
      done({ ...job, ok: code === 0, code: code ?? signal, seconds });
    });
  });
}

const t0 = Date.now();
const results = [];
let next = 0;
await Promise.all(
  Array.from({ length: Math.min(concurrency, jobs.length) }, async () => {
    while (next < jobs.length) results.push(await runJob(jobs[next++]));
  }),
);
const failed = results.filter((r) => !r.ok);
const wall = (Date.now() - t0) / 1000;
console.log(
  `\n# run-tests: ${own.length + unit.length} files (${unit.length} in process, in ${shards.length} shards), ${jobs.length} jobs, ${concurrency} at a time, ${wall.toFixed(1)} s`,
);
console.log('# slowest jobs:');
for (const r of [...results].sort((a, b) => b.seconds - a.seconds).slice(0, 10))
  console.log(`#   ${r.seconds.toFixed(1).padStart(6)} s  ${r.name}`);
if (failed.length > 0) {
  console.log(`# FAILED (${failed.length}):`);
  for (const r of failed) console.log(`#   ${r.name} (exit ${r.code})`);
  process.exit(1);
}
console.log('# all passed');
