/**
 * The dependency rules of the repository, enforced:
 *  - verifier/ imports nothing from the other folders, and its library code (verifier/src)
 *    does no I/O (no fs, net, http, child_process, …);
 *  - verifier/ has two sides: what decides (verifier/index.ts, `#verifier`, and verifier/src/) and
 *    what builds and encodes (verifier/build.ts, `#verifier/build`, and verifier/build/); the
 *    decision side never imports the build side, and neither does I/O;
 *  - builder/, log-server/, enclave/ import verifier/ only through its aliases, and each other not at all;
 *  - cli/, test/ and bench/ import a folder only through its public entry (index.ts or cli.ts);
 *    only cli/ may load verifier/cli.ts;
 *  - every `#` alias is resolved through package.json "imports" and held to the same rules as the
 *    path it names (an alias that is not declared there is refused); the ground floor's public
 *    entries are `#verifier`, `#verifier/build`, `#flag-kit` (the flag kit, verifier/kit/flags.ts) and
 *    `#test-kit` (the test kit, verifier/testkit/world.ts: the in-memory log, witnesses and publisher);
 *  - enclave/ is in rooms (enclave/README.md): runtime/ (inside the enclave), host/ (the parent
 *    instance) and kms-policy/ (the operator's tools) import only themselves and common/ (what
 *    more than one room needs; it imports no room); dev/ (development only) anything; no room
 *    imports the folder's entries (index.ts, cli.ts), and every source of enclave/ lives in a room
 *    (or its tests). cli/ may load a room's command module (enclave/<room>/cli.ts), so
 *    `enclave run` loads the runtime alone (test/enclave-image-closure.test.ts);
 *  - nothing reads test data from outside the repository: every vector lives under testdata/,
 *    so a fresh clone runs its tests with nothing beside it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { ALIASES, specifiers } from './import-graph.ts';

const root = resolve(import.meta.dirname, '..');
const FOLDERS = ['verifier', 'builder', 'log-server', 'enclave', 'cli', 'test', 'bench', 'scripts'];
const PUBLIC = new Set(['index.ts', 'cli.ts']);
/** Command modules of enclave/'s rooms, public like enclave/cli.ts (cli/ loads only the room a command lives in). */
const ROOM_COMMANDS = new Set(['enclave/runtime/cli.ts', 'enclave/host/cli.ts', 'enclave/dev/cli.ts']);
/** enclave/'s rooms and the rooms each may import (itself always). */
export const ENCLAVE_ROOMS: Record<string, readonly string[]> = {
  common: [],
  runtime: ['common'],
  host: ['common'],
  'kms-policy': ['common'],
  dev: ['common', 'runtime', 'host', 'kms-policy'],
};
/** enclave/ entries and folders that are not rooms: the public entries, the tests, the deployment. */
const ENCLAVE_OUTSIDE_ROOMS = new Set(['index.ts', 'cli.ts', 'test', 'deploy']);
/** The ground floor's public entries: every folder may import them by alias (verifier/ itself, relatively). */
const GROUND_ENTRIES: Record<string, string> = {
  '#verifier': './verifier/index.ts',
  '#verifier/build': './verifier/build.ts',
  '#flag-kit': './verifier/kit/flags.ts',
  '#test-kit': './verifier/testkit/world.ts',
};
const GROUND_FILES = new Set(Object.values(GROUND_ENTRIES).map((p) => resolve(root, p)));
/** The decision side: its entry and its library code, which must not import the build side. */
const DECIDE = (rel: string): boolean =>
  rel === join('verifier', 'index.ts') || rel.startsWith(`verifier${sep}src${sep}`);
const BUILD_SIDE = (rel: string): boolean =>
  rel === join('verifier', 'build.ts') || rel.startsWith(`verifier${sep}build${sep}`);
const IO_MODULES =
  /^(node:)?(fs|fs\/promises|net|http|https|http2|child_process|dgram|tls|dns|worker_threads|cluster)$/;

function tsFiles(dir: string, out: string[] = []): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names) {
    if (n === 'node_modules' || n.startsWith('.')) continue;
    const p = join(dir, n);
    if (statSync(p).isDirectory()) tsFiles(p, out);
    else if (/\.(ts|mts|mjs)$/.test(n)) out.push(p);
  }
  return out;
}

function folderOf(abs: string): string {
  return relative(root, abs).split(sep)[0] ?? '';
}

/** The tree's files (or `files`, absolute path → source, for the rules' own tests) against the rules. */
function violations(files?: Record<string, string>): string[] {
  const bad: string[] = [];
  const all = files ? Object.keys(files) : FOLDERS.flatMap((f) => tsFiles(join(root, f)));
  for (const file of all) {
    const folder = folderOf(file);
    {
      const rel = relative(root, file);
      if (file === import.meta.filename) continue; // its own examples are strings, not imports
      for (const spec of specifiers(files ? files[file]! : readFileSync(file, 'utf8'))) {
        const libraryCode = rel.startsWith(`verifier${sep}src${sep}`) || rel.startsWith(`verifier${sep}build${sep}`);
        if (libraryCode && IO_MODULES.test(spec)) bad.push(`${rel}: verifier library code does I/O (${spec})`);
        let target: string;
        if (spec.startsWith('#')) {
          if (folder === 'verifier') {
            bad.push(`${rel}: verifier/ must import itself relatively, not ${spec}`);
            continue;
          }
          const aliased = ALIASES[spec];
          if (aliased === undefined) {
            bad.push(`${rel}: ${spec} is not an alias declared in package.json "imports"`);
            continue;
          }
          target = resolve(root, aliased);
          if (GROUND_FILES.has(target)) continue; // the ground floor's public entries, for every folder
        } else if (spec.startsWith('.')) {
          target = resolve(dirname(file), spec);
        } else {
          continue;
        }
        const tf = folderOf(target);
        if (tf === folder) {
          if (DECIDE(rel) && BUILD_SIDE(relative(root, target)))
            bad.push(`${rel}: the decision side imports the build side (${spec})`);
          continue;
        }
        if (folder === 'verifier') {
          bad.push(`${rel}: verifier/ imports ${spec} outside itself`);
          continue;
        }
        const isVerifierCli = folder === 'cli' && relative(root, target) === join('verifier', 'cli.ts');
        if (tf === 'verifier' && !isVerifierCli) {
          bad.push(`${rel}: imports verifier internals (${spec}); use '#verifier' or '#verifier/build'`);
          continue;
        }
        const isPublic =
          (relative(join(root, tf), target).split(sep).length === 1 && PUBLIC.has(target.split(sep).pop()!)) ||
          ROOM_COMMANDS.has(relative(root, target).split(sep).join('/'));
        const mayUsePublic = ['cli', 'test', 'bench', 'scripts'].includes(folder);
        if (!(mayUsePublic && isPublic))
          bad.push(
            `${rel}: imports ${spec} from ${tf}/ (only cli/, test/, bench/ may, and only ${[...PUBLIC].join(' or ')})`,
          );
      }
    }
  }
  return bad;
}

test('the specifier scanner sees every import form', () => {
  const src = `import a from './a.ts';\nimport { b } from "../b.ts";\nexport * from './c.ts';\nimport './d.ts';\nconst e = await import('../e.ts');\nimport type { F } from '#verifier';`;
  assert.deepEqual(specifiers(src), ['./a.ts', '../b.ts', './c.ts', './d.ts', '../e.ts', '#verifier']);
});

test('every alias in package.json "imports" names a file, and the ground-floor aliases name the verifier entries', () => {
  // the decision side, the build/encode side, the flag kit and the test kit: no folder reaches up into cli/ for it
  for (const [alias, path] of Object.entries(GROUND_ENTRIES)) {
    assert.equal(ALIASES[alias], path, alias);
    assert.equal(folderOf(resolve(root, path)), 'verifier', alias);
  }
  for (const [alias, path] of Object.entries(ALIASES))
    assert.ok(existsSync(resolve(root, path)), `${alias} → ${path} exists`);
});

test('folders import each other only through public entry points, and verifier/src does no I/O', () => {
  assert.deepEqual(violations(), []);
});

test('the rules refuse the decision side importing the build side, an aliased internal, and I/O in verifier/build', () => {
  const at = (p: string) => join(root, p);
  const bad = violations({
    [at('verifier/src/gate/decide.ts')]: `import { buildKdm } from '../../build/kdm/write.ts';`,
    [at('verifier/index.ts')]: `export { writeEif } from './build/eif/write.ts';`,
    [at('verifier/src/kdm/read.ts')]: `import { x } from '../../build.ts';`,
    [at('verifier/build/eif/write.ts')]:
      `import { PCR_BYTES } from '../../src/attestation/payload.ts';\nimport 'node:fs';`,
    [at('builder/src/a.ts')]:
      `import { LogClient } from '#verifier';\nimport { toHex } from '#verifier/build';\nimport { UsageError } from '#flag-kit';`,
    [at('enclave/src/a.ts')]: `import { x } from '#nope';\nimport { y } from '../../verifier/src/tlog/verify.ts';`,
  });
  assert.deepEqual(bad, [
    `${join('verifier', 'src', 'gate', 'decide.ts')}: the decision side imports the build side (../../build/kdm/write.ts)`,
    `${join('verifier', 'index.ts')}: the decision side imports the build side (./build/eif/write.ts)`,
    `${join('verifier', 'src', 'kdm', 'read.ts')}: the decision side imports the build side (../../build.ts)`,
    `${join('verifier', 'build', 'eif', 'write.ts')}: verifier library code does I/O (node:fs)`,
    `${join('enclave', 'src', 'a.ts')}: #nope is not an alias declared in package.json "imports"`,
    `${join('enclave', 'src', 'a.ts')}: imports verifier internals (../../verifier/src/tlog/verify.ts); use '#verifier' or '#verifier/build'`,
  ]);
});

/** Imports between enclave/'s rooms that ENCLAVE_ROOMS does not allow, and sources outside every room. */
export function roomViolations(files: Record<string, string>): string[] {
  const bad: string[] = [];
  const roomOf = (rel: string): string | undefined => {
    const [top, first] = rel.split('/');
    return top === 'enclave' && first !== undefined && first in ENCLAVE_ROOMS ? first : undefined;
  };
  for (const [rel, src] of Object.entries(files)) {
    const [, first] = rel.split('/');
    if (first === undefined || (!(first in ENCLAVE_ROOMS) && !ENCLAVE_OUTSIDE_ROOMS.has(first))) {
      bad.push(`${rel}: enclave/ sources live in a room (${Object.keys(ENCLAVE_ROOMS).join(', ')})`);
      continue;
    }
    const room = roomOf(rel);
    if (room === undefined) continue;
    for (const spec of specifiers(src)) {
      if (!spec.startsWith('.')) continue;
      const target = posixJoin(rel, spec);
      if (!target.startsWith('enclave/')) continue;
      const to = roomOf(target);
      if (to === undefined) bad.push(`${rel}: a room imports ${spec}, outside the rooms (an entry or a test)`);
      else if (to !== room && !ENCLAVE_ROOMS[room]!.includes(to))
        bad.push(`${rel}: ${room}/ may not import ${to}/ (${spec})`);
    }
  }
  return bad;
}

function posixJoin(from: string, spec: string): string {
  const parts = from.split('/').slice(0, -1);
  for (const p of spec.split('/')) {
    if (p === '..') parts.pop();
    else if (p !== '.') parts.push(p);
  }
  return parts.join('/');
}

test('the room checker refuses runtime → dev or host, host → runtime, common → anything, a room → the entries, and sources outside a room', () => {
  const files = {
    'enclave/runtime/boot.ts': "import { SimulatedNsm } from '../dev/nsm/simulator.ts';",
    'enclave/runtime/run.ts': "const h = await import('../host/run.ts');\nimport { x } from './boot.ts';",
    'enclave/host/server.ts': "import { countRefusals } from '../runtime/metrics.ts';",
    'enclave/common/errors.ts': "import type { Nsm } from '../runtime/nsm/types.ts';",
    'enclave/runtime/forward/engine.ts': "import { commands } from '../../cli.ts';",
    'enclave/src/forward/new.ts': "import { x } from '../errors.ts';",
    'enclave/dev/cli.ts': "import { runHost } from '../host/run.ts';\nimport { x } from '../runtime/cli.ts';",
    'enclave/kms-policy/recipient.ts': "import { KEY_ENCRYPTION_ALGORITHM } from '../common/kms/port.ts';",
    'enclave/kms-policy/policy-build.ts': "import { runEnclave } from '../runtime/run.ts';",
    'enclave/test/boot.test.ts': "import { SimulatedNsm } from '../dev/nsm/simulator.ts';",
  };
  assert.deepEqual(roomViolations(files), [
    'enclave/runtime/boot.ts: runtime/ may not import dev/ (../dev/nsm/simulator.ts)',
    'enclave/runtime/run.ts: runtime/ may not import host/ (../host/run.ts)',
    'enclave/host/server.ts: host/ may not import runtime/ (../runtime/metrics.ts)',
    'enclave/common/errors.ts: common/ may not import runtime/ (../runtime/nsm/types.ts)',
    'enclave/runtime/forward/engine.ts: a room imports ../../cli.ts, outside the rooms (an entry or a test)',
    'enclave/src/forward/new.ts: enclave/ sources live in a room (common, runtime, host, kms-policy, dev)',
    'enclave/kms-policy/policy-build.ts: kms-policy/ may not import runtime/ (../runtime/run.ts)',
  ]);
});

test("enclave/'s rooms import only the rooms they may: the runtime and the host never a development tool, nor each other", () => {
  const files: Record<string, string> = {};
  for (const f of tsFiles(join(root, 'enclave')))
    files[relative(root, f).split(sep).join('/')] = readFileSync(f, 'utf8');
  assert.ok('enclave/runtime/run.ts' in files && 'enclave/dev/nsm/simulator.ts' in files, 'the scan sees the rooms');
  assert.deepEqual(roomViolations(files), []);
});

// Source files, scripts, configs and nix expressions (testdata/ is data and is never edited).
const SOURCE = /(\.(ts|mts|cts|js|mjs|cjs|json|nix|sh)$|^\.ci\/[^/]+$)/;
// Built from parts so this file does not match its own pattern.
const SHARED = 'shar' + 'ed';
const OUTSIDE_DATA = new RegExp(`\\.\\./${SHARED}\\b|\\b${SHARED}/testvectors\\b`);

/** Tracked files (git), or a walk of the tree when this is not a git checkout. */
function sourceFiles(): string[] {
  let all: string[];
  try {
    all = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: root,
      encoding: 'utf8',
    })
      .split('\0')
      .filter(Boolean);
  } catch {
    all = [];
    const walk = (dir: string): void => {
      for (const n of readdirSync(join(root, dir))) {
        if (n === 'node_modules' || n === '.git' || n === '.data') continue;
        const rel = dir ? `${dir}/${n}` : n;
        if (statSync(join(root, rel)).isDirectory()) walk(rel);
        else all.push(rel);
      }
    };
    walk('');
  }
  return all.filter(
    (f) => SOURCE.test(f) && !f.startsWith('testdata/') && !f.startsWith('node_modules/') && existsSync(join(root, f)),
  );
}

export function outsideDataRefs(files: string[], read: (f: string) => string): string[] {
  const bad: string[] = [];
  for (const f of files) {
    read(f)
      .split('\n')
      .forEach((line, i) => {
        if (OUTSIDE_DATA.test(line)) bad.push(`${f}:${i + 1}: ${line.trim()}`);
      });
  }
  return bad;
}

test('the outside-data scanner flags relative and named paths to the team collection, and only those', () => {
  const files: Record<string, string> = {
    'a.ts': `const V = resolve(dir, '../../../${SHARED}/testvectors/nitro');`,
    'b.json': `{ "x": "../${SHARED}/notes" }`,
    'c.ts': `// vectors: ${SHARED}/testvectors/tlog`,
    'd.ts': `const slot = 'a ${SHARED} 1 MiB buffer'; const v = resolve(dir, '../../testdata/nitro');`,
  };
  assert.deepEqual(
    outsideDataRefs(Object.keys(files), (f) => files[f]!).map((s) => s.split(':')[0]),
    ['a.ts', 'b.json', 'c.ts'],
  );
});

test('no source, script or config reads test data from outside the repository (it belongs in testdata/)', () => {
  const files = sourceFiles();
  assert.ok(files.includes('test/architecture.test.ts') && files.includes('package.json'), 'the scan sees the tree');
  assert.deepEqual(
    outsideDataRefs(files, (f) => readFileSync(join(root, f), 'utf8')),
    [],
  );
});
