/**
 * The verifier's two public entries (verifier/README.md): the decision side (index.ts, `#verifier`)
 * stays small enough to audit, and the README's list of the files that decide whether a key is
 * released is exactly what that entry reaches, so neither can drift without this failing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

const dir = resolve(import.meta.dirname, '..');
const DECIDE = join(dir, 'index.ts');
const BUILD = join(dir, 'build.ts');
/** The decision side's ceiling (issue #18): a studio's auditor reads every name behind it. */
const MAX_DECISION_NAMES = 150;

/**
 * Every name an entry exports, values and types alike. An entry is nothing but `export { … } from`
 * and `export type { … } from` statements (checked here with TypeScript's parser), so its names
 * are exactly those lists; `export *` or a local declaration would hide names and is refused.
 */
function exportedNames(entry: string): string[] {
  const sf = ts.createSourceFile(entry, readFileSync(entry, 'utf8'), ts.ScriptTarget.Latest, true);
  const names: string[] = [];
  for (const st of sf.statements) {
    assert.ok(
      ts.isExportDeclaration(st) && st.exportClause && ts.isNamedExports(st.exportClause),
      `${relative(dir, entry)}: only export { … } from statements (found: ${st.getText().slice(0, 60)})`,
    );
    for (const el of st.exportClause.elements) names.push(el.name.text);
  }
  return names;
}

/** Relative import specifiers of a source file (static, re-export and dynamic). */
function relativeImports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const re = /(?:import|export)\s[^'"`;]*?from\s*'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g;
  return [...src.matchAll(re)].map((m) => resolve(dirname(file), (m[1] ?? m[2])!));
}

/** The files an entry reaches inside verifier/, as paths relative to verifier/. */
function closure(entry: string): string[] {
  const seen = new Set<string>();
  const walk = (f: string): void => {
    if (seen.has(f)) return;
    seen.add(f);
    for (const t of relativeImports(f)) if (t.startsWith(dir + sep) && existsSync(t)) walk(t);
  };
  walk(entry);
  return [...seen].map((f) => relative(dir, f).split(sep).join('/')).sort();
}

const decisionNames = exportedNames(DECIDE);
const buildNames = exportedNames(BUILD);

test(`the decision side (#verifier) exports at most ${MAX_DECISION_NAMES} names`, () => {
  assert.ok(decisionNames.length > 100, `the count sees the entry (${decisionNames.length} names)`);
  assert.ok(
    decisionNames.length <= MAX_DECISION_NAMES,
    `verifier/index.ts exports ${decisionNames.length} names; a name that builds or encodes belongs in verifier/build.ts`,
  );
  // types count: an interface is as much surface as a function
  assert.ok(decisionNames.includes('GateDecision') && decisionNames.includes('decideGate'));
});

test('no name is exported by both entries', () => {
  const both = decisionNames.filter((n) => buildNames.includes(n));
  assert.deepEqual(both, []);
});

test('the decision side reaches no file of the build side', () => {
  const reached = closure(DECIDE);
  assert.ok(reached.includes('src/gate/decide.ts'), 'the walk follows the entry');
  assert.deepEqual(
    reached.filter((f) => f === 'build.ts' || f.startsWith('build/')),
    [],
  );
});

test("verifier/README.md's auditor list is exactly the files the decision side reaches", () => {
  const readme = readFileSync(join(dir, 'README.md'), 'utf8');
  const section = readme.split('<!-- deciding-files -->')[1]?.split('<!-- /deciding-files -->')[0];
  assert.ok(section, 'the README marks its list with <!-- deciding-files --> … <!-- /deciding-files -->');
  const listed = [...section.matchAll(/`((?:index|src\/[^`]+)\.ts)`/g)].map((m) => m[1]!).sort();
  assert.deepEqual(listed, closure(DECIDE));
});
