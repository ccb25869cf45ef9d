/**
 * The repository's import graph as the tests read it: the specifiers of a source file (static
 * imports and exports, side-effect imports, dynamic import() of a string literal), resolved
 * through relative paths and package.json "imports", and the closure of a set of entry files.
 * test/architecture.test.ts holds folders to their rules with it; test/enclave-image-closure.test.ts
 * computes what the enclave image runs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

export const REPO = resolve(import.meta.dirname, '..');

export interface Specifier {
  spec: string;
  /** import() of a string literal (loaded when the code runs), rather than a static import */
  dynamic: boolean;
}

/** Import specifiers: static imports/exports and dynamic import() with a string literal. */
export function importSpecifiers(src: string): Specifier[] {
  const out: Specifier[] = [];
  const re =
    /(?:^|[\s;])(?:import|export)\s[^'"`]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;
  for (const m of src.matchAll(re)) out.push({ spec: (m[1] ?? m[2] ?? m[3])!, dynamic: m[3] !== undefined });
  return out;
}

/** The specifiers alone (static and dynamic alike). */
export function specifiers(src: string): string[] {
  return importSpecifiers(src).map((s) => s.spec);
}

/** package.json "imports": alias → path from the root. */
export const ALIASES: Record<string, string> =
  JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).imports ?? {};

/** A repository path (POSIX, from the root). */
export const repoPath = (abs: string): string => relative(REPO, abs).split(sep).join('/');

/**
 * The repository file a specifier of `from` names, or a package (`pkg:` + its name) or a Node
 * builtin (`node:` …); null for an alias package.json does not declare.
 */
export function resolveSpecifier(from: string, spec: string): string | null {
  if (spec.startsWith('.')) return repoPath(resolve(REPO, dirname(from), spec));
  if (spec.startsWith('#')) return ALIASES[spec] === undefined ? null : repoPath(resolve(REPO, ALIASES[spec]!));
  if (spec.startsWith('node:')) return spec;
  const parts = spec.split('/');
  return `pkg:${spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]}`;
}

export interface Closure {
  /** every repository file reached, with the file that first imported it (null for an entry) */
  files: Map<string, string | null>;
  /** packages and builtins reached */
  external: Set<string>;
  /** specifiers that name nothing (a missing file or an undeclared alias), as `file: spec` */
  missing: string[];
}

export interface ClosureOptions {
  /** reads a repository file (default: from disk) */
  read?: (path: string) => string;
  exists?: (path: string) => boolean;
  /**
   * Files whose dynamic imports are not followed: a dispatch table, whose import()s each run
   * only for their own argv (the caller adds the one its argv loads as an entry).
   */
  dispatchTables?: ReadonlySet<string>;
}

/** The import closure of `entries` (repository paths): static imports and dynamic import()s alike. */
export function importClosure(entries: readonly string[], o: ClosureOptions = {}): Closure {
  const read = o.read ?? ((p: string) => readFileSync(join(REPO, p), 'utf8'));
  const exists = o.exists ?? ((p: string) => existsSync(join(REPO, p)));
  const files = new Map<string, string | null>();
  const external = new Set<string>();
  const missing: string[] = [];
  const queue: string[] = [];
  for (const e of entries) {
    if (!files.has(e)) files.set(e, null);
    queue.push(e);
  }
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const { spec, dynamic } of importSpecifiers(read(file))) {
      if (dynamic && o.dispatchTables?.has(file)) continue;
      const to = resolveSpecifier(file, spec);
      if (to === null) missing.push(`${file}: ${spec}`);
      else if (to.startsWith('pkg:') || to.startsWith('node:')) external.add(to);
      else if (!exists(to)) missing.push(`${file}: ${spec}`);
      else if (!files.has(to)) {
        files.set(to, file);
        queue.push(to);
      }
    }
  }
  return { files, external, missing };
}

/** How `file` was reached: the chain of importers from an entry. */
export function chainTo(c: Closure, file: string): string[] {
  const chain = [file];
  for (let f = c.files.get(file); f !== null && f !== undefined; f = c.files.get(f)) chain.unshift(f);
  return chain;
}
