// One in-process shard of the unit tests (scripts/run-tests.mjs starts it): imports each test file
// given, in order, into this one process, so node:test runs their tests one after another here
// and the TypeScript loader and the shared modules load once instead of once per file. Only
// files that start no process and register no root-level hooks are run this way (run-tests.mjs
// decides which); every other file runs in a process of its own.
// Usage: node --import tsx scripts/test-shard.mjs FILE...
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

for (const file of process.argv.slice(2)) await import(pathToFileURL(resolve(file)).href);
