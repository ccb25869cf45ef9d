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
}

/** First word → its group's loader (a word may have no table entries yet: then help loads it). */
export const LOADERS: Record<string, Loader> = {};
/** Every command with a static entry, in registration order. */
export const TABLE: TableEntry[] = [];

/**
 * Registers a folder's command group under its first word(s); `commands` lists its commands as
 * [path words joined by spaces, summary]. A command may be registered from another module than
 * its first word's (an alias living elsewhere): its table entry's loader is the one used.
 */
export function group(words: string[], load: Loader, commands: Array<[string, string]> = []): void {
  for (const w of words) LOADERS[w] ??= load;
  for (const [path, summary] of commands) TABLE.push({ path: path.split(' '), summary, load });
}

/** The table entry whose path is the longest prefix of argv. */
export function findEntry(argv: string[]): TableEntry | undefined {
  return TABLE.filter((e) => e.path.every((w, i) => argv[i] === w)).sort((a, b) => b.path.length - a.path.length)[0];
}

/** Table entries under a prefix of words (a group, e.g. ['verify'] or ['nsm', 'test-pki']). */
export function entriesUnder(words: string[]): TableEntry[] {
  return TABLE.filter((e) => e.path.length > words.length && words.every((w, i) => e.path[i] === w));
}
