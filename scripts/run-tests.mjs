#!/usr/bin/env node
// Runs every *.test.ts under the project folders with node's test runner (TypeScript through tsx).
// Usage: node scripts/run-tests.mjs [folder-or-file ...]   (default: all folders)
// Node 20's --test does not expand globs, so we find the files ourselves.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const defaults = ['verifier', 'log-server', 'enclave', 'builder', 'test', 'cli'];
// Packages with their own install and `npm test` (test/cdk.test.ts runs the CDK app's, or says why not).
const OWN_PACKAGES = new Set(['enclave/deploy/cdk'].map((p) => join(root, p)));
const args = process.argv.slice(2);
const targets = args.length > 0 ? args : defaults;

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

const files = [];
for (const t of targets) collect(join(root, t), files);
if (files.length === 0) {
  console.error('run-tests: no test files found under', targets.join(', '));
  process.exit(1);
}
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', ...files.map((f) => relative(process.cwd(), f))],
  {
    stdio: 'inherit',
  },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
