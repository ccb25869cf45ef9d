/**
 * The dependency rules of the repository, enforced:
 *  - verifier/ imports nothing from the other folders, and its library code (verifier/src)
 *    does no I/O (no fs, net, http, child_process, …);
 *  - builder/, log-server/, enclave/ import verifier/ only through `#verifier`, and each other not at all;
 *  - cli/, test/ and bench/ import a folder only through its public entry (index.ts or cli.ts);
 *    the verifier's library entry is `#verifier`, and only cli/ may load verifier/cli.ts;
 *  - a `#` alias is resolved through package.json "imports" and held to the same rules as the
 *    path it names (an alias that is not declared there is refused); `#cli-kit` is the flag kit
 *    on the ground floor (verifier/cli/kit.ts) and `#test-kit` the test kit (verifier/testkit/world.ts),
 *    public entries every folder may import;
 *  - nothing reads test data from outside the repository: every vector lives under testdata/,
 *    so a fresh clone runs its tests with nothing beside it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const FOLDERS = ['verifier', 'builder', 'log-server', 'enclave', 'cli', 'test', 'bench', 'scripts'];
const PUBLIC = new Set(['index.ts', 'cli.ts']);
/** package.json "imports": alias → path from the root. */
const ALIASES: Record<string, string> = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).imports ?? {};
/** The ground floor's public entries: every folder may import them (verifier/ itself, relatively). */
const GROUND_ALIASES = new Set(['#verifier', '#cli-kit', '#test-kit']);
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

/** Import specifiers: static imports/exports and dynamic import() with a string literal. */
export function specifiers(src: string): string[] {
  const out: string[] = [];
  const re =
    /(?:^|[\s;])(?:import|export)\s[^'"`]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;
  for (const m of src.matchAll(re)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

function folderOf(abs: string): string {
  return relative(root, abs).split(sep)[0] ?? '';
}

function violations(): string[] {
  const bad: string[] = [];
  for (const folder of FOLDERS) {
    for (const file of tsFiles(join(root, folder))) {
      const rel = relative(root, file);
      if (file === import.meta.filename) continue; // its own examples are strings, not imports
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        const libraryCode = rel.startsWith(`verifier${sep}src${sep}`);
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
          if (GROUND_ALIASES.has(spec)) continue; // the ground floor's public entries, for every folder
          target = resolve(root, aliased);
        } else if (spec.startsWith('.')) {
          target = resolve(dirname(file), spec);
        } else {
          continue;
        }
        const tf = folderOf(target);
        if (tf === folder) continue;
        if (folder === 'verifier') {
          bad.push(`${rel}: verifier/ imports ${spec} outside itself`);
          continue;
        }
        const isVerifierCli = folder === 'cli' && relative(root, target) === join('verifier', 'cli.ts');
        if (tf === 'verifier' && !isVerifierCli) {
          bad.push(`${rel}: imports verifier internals (${spec}); use '#verifier'`);
          continue;
        }
        const isPublic =
          relative(join(root, tf), target).split(sep).length === 1 && PUBLIC.has(target.split(sep).pop()!);
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

test('every alias in package.json "imports" names a file, and #verifier names the verifier entry', () => {
  assert.equal(ALIASES['#verifier'], './verifier/index.ts');
  // the flag kit is on the ground floor: no folder reaches up into cli/ for it
  assert.equal(ALIASES['#cli-kit'], './verifier/cli/kit.ts');
  // the test kit (the in-memory log, witnesses and publisher) every folder's tests and the benches share
  assert.equal(ALIASES['#test-kit'], './verifier/testkit/world.ts');
  for (const a of GROUND_ALIASES) assert.equal(folderOf(join(root, ALIASES[a]!)), 'verifier', a);
  for (const [alias, path] of Object.entries(ALIASES))
    assert.ok(existsSync(resolve(root, path)), `${alias} → ${path} exists`);
});

test('folders import each other only through public entry points, and verifier/src does no I/O', () => {
  assert.deepEqual(violations(), []);
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
