/**
 * Every subcommand, by the words that name it. Each folder's group is registered with its
 * loader and a static table of its commands (path and one-line summary), so `keycast --help`,
 * group help and dispatch read the table and load only the one module a command lives in:
 * `keycast verify …` does not pay for SQLite or the AWS SDK, and `--help` loads nothing.
 * cli/test/table.test.ts checks that the table and the modules' `commands` agree.
 */
import type { Command } from './command.ts';

export type Loader = () => Promise<{ commands: Command[] }>;

export interface TableEntry {
  path: string[];
  summary: string;
  load: Loader;
  /** another module for the same command when argv asks for it (`enclave run --nsm sim`: the dev tools') */
  variant?: Variant;
}

/** A module that serves a command instead of its entry's when `when(argv)` holds. */
export interface Variant {
  when: (argv: readonly string[]) => boolean;
  load: Loader;
}

/** First word → its group's loader (a word may have no table entries yet: then help loads it). */
export const LOADERS: Record<string, Loader> = {};
/** Every command with a static entry, in registration order. */
export const TABLE: TableEntry[] = [];

/**
 * Registers a folder's command group under its first word(s); `commands` lists its commands as
 * [path words joined by spaces, summary, variant?]. A command may be registered from another
 * module than its first word's (an alias living elsewhere): its table entry's loader is the one
 * used — or its variant's, for the argv the variant claims.
 */
export function group(words: string[], load: Loader, commands: Array<[string, string, Variant?]> = []): void {
  for (const w of words) LOADERS[w] ??= load;
  for (const [path, summary, variant] of commands)
    TABLE.push({ path: path.split(' '), summary, load, ...(variant ? { variant } : {}) });
}

/** The loader that serves `entry` for this argv: its variant's when the variant claims the argv. */
export function loaderFor(entry: TableEntry, argv: readonly string[]): Loader {
  return entry.variant?.when(argv) ? entry.variant.load : entry.load;
}

/** The table entry whose path is the longest prefix of argv. */
export function findEntry(argv: string[]): TableEntry | undefined {
  return TABLE.filter((e) => e.path.every((w, i) => argv[i] === w)).sort((a, b) => b.path.length - a.path.length)[0];
}

/** Table entries under a prefix of words (a group, e.g. ['verify'] or ['nsm', 'test-pki']). */
export function entriesUnder(words: string[]): TableEntry[] {
  return TABLE.filter((e) => e.path.length > words.length && words.every((w, i) => e.path[i] === w));
}
